/** Startup, shutdown and the programmatic API of the local host. */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { buildHost, fixtureApp, fixtureDup, startHostProcess, tempDir } from "./harness";

jest.setTimeout(60000);

beforeAll(() => {
  buildHost();
});

test("a duplicate function name fails startup loudly", async () => {
  const err = await startHostProcess({ appDir: fixtureDup, dataDir: tempDir("local-host-dup-") }).then(
    () => undefined,
    (e: Error & { code?: number; output?: string }) => e,
  );
  expect(err).toBeDefined();
  expect(err!.code).toBe(1);
  expect(err!.output).toContain('A function with id "same" has already been registered.');
});

test("SIGTERM stops the host gracefully (exit 0) and frees the port", async () => {
  const host = await startHostProcess({ appDir: fixtureApp, dataDir: tempDir("local-host-sig-") });
  expect((await fetch(`${host.url}/admin/host/status`)).status).toBe(200);
  expect(await host.stop("SIGTERM")).toBe(0);
  expect(host.output()).toContain("SIGTERM received");
  await expect(fetch(`${host.url}/admin/host/status`)).rejects.toThrow();
});

test("one host per data directory: a second one refuses to start while the first runs; after a kill -9 of the first, a new one starts", async () => {
  const dataDir = tempDir("local-host-lock-");
  const first = await startHostProcess({ appDir: fixtureApp, dataDir });
  try {
    const err = await startHostProcess({ appDir: fixtureApp, dataDir }).then(
      () => undefined,
      (e: Error & { code?: number; output?: string }) => e,
    );
    expect(err?.code).toBe(1);
    expect(err?.output).toContain(`Another local host (pid ${first.child.pid}) uses the data directory ${dataDir}.`);
    expect(err?.output).not.toMatch(/^\s+at /m); // the message says it all: no stack
    expect((await fetch(`${first.url}/admin/host/status`)).status).toBe(200); // the first one never noticed
    await first.kill9();
    const second = await startHostProcess({ appDir: fixtureApp, dataDir });
    expect((await fetch(`${second.url}/admin/host/status`)).status).toBe(200);
    expect(await second.stop("SIGTERM")).toBe(0);
    const third = await startHostProcess({ appDir: fixtureApp, dataDir }); // the stop gave the directory up
    await third.stop("SIGTERM");
  } finally {
    await first.stop("SIGKILL");
  }
});

test("CLI: unknown options are rejected", async () => {
  const dir = buildHost();
  const code = await new Promise<number | null>((resolve) => {
    const child = spawn(process.execPath, [path.join(dir, "cli.js"), "--bogus"], { stdio: "ignore" });
    child.on("exit", resolve);
  });
  expect(code).toBe(2);
});

test("programmatic startLocalHost({ port: 0 }) → { url, port, stop() }", async () => {
  const dir = buildHost();
  const script = `
    const { startLocalHost } = require(${JSON.stringify(path.join(dir, "index.js"))});
    (async () => {
      const host = await startLocalHost({ appDir: ${JSON.stringify(fixtureApp)}, port: 0, dataDir: ${JSON.stringify(tempDir("local-host-api-"))}, env: { FIXTURE_GREETING: "Hi" }, log: () => {} });
      const status = await (await fetch(host.url + "/admin/host/status")).json();
      const hello = await (await fetch(host.url + "/api/hello/api")).json();
      await host.stop();
      let after = "closed";
      try { await fetch(host.url + "/admin/host/status"); after = "open"; } catch {}
      console.log(JSON.stringify({ port: host.port, url: host.url, state: status.state, hello, after, fns: host.functions.length }));
    })().catch((e) => { console.error(e); process.exit(1); });`;
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn(process.execPath, ["-e", script], { cwd: fixtureApp, stdio: ["ignore", "pipe", "pipe"] });
    let text = "";
    child.stdout.on("data", (d) => (text += d));
    child.stderr.on("data", (d) => (text += d));
    child.on("exit", (code) => (code === 0 ? resolve(text) : reject(new Error(text))));
  });
  const result = JSON.parse(out.trim().split("\n").pop()!);
  expect(result.port).toBeGreaterThan(0);
  expect(result.url).toBe(`http://127.0.0.1:${result.port}`);
  expect(result.state).toBe("Running");
  expect(result.hello.greeting).toBe("Hi, api");
  expect(result.after).toBe("closed");
  expect(result.fns).toBeGreaterThan(5);
});

test("under npm start: when npm goes (its shell passes no SIGTERM on), the orphaned host stops and gives its data directory up", async () => {
  // npm runs the host as `sh -c "node …"`; a SIGTERM to npm ends npm and that shell, never the host.
  const dir = buildHost();
  const dataDir = tempDir("local-host-npm-");
  const command = `"${process.execPath}" "${path.join(dir, "cli.js")}" --port 0 --app-dir "${fixtureApp}" --data-dir "${dataDir}"`;
  const shell = spawn("sh", ["-c", command], { env: { ...process.env, npm_lifecycle_event: "start" }, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const started = new Promise<string>((resolve, reject) => {
    shell.stdout!.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      const url = /Host started on (http:\/\/localhost:\d+)/.exec(output)?.[1];
      if (url) resolve(url);
    });
    shell.on("exit", () => reject(new Error(`the host did not start: ${output}`)));
  });
  const url = await started;
  try {
    await orphanedHostStops(shell, url, dataDir);
  } finally {
    // A host that did not stop would outlive the test: its pid is in its lock file.
    const owner = fs.existsSync(path.join(dataDir, "local-host.pid")) ? fs.readFileSync(path.join(dataDir, "local-host.pid"), "utf8") : "";
    const pid = Number(/\d+/.exec(owner)?.[0]);
    if (pid) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // gone already
      }
    }
  }
});

async function orphanedHostStops(shell: ReturnType<typeof spawn>, url: string, dataDir: string): Promise<void> {
  expect((await fetch(`${url}/admin/host/status`)).status).toBe(200);
  shell.kill("SIGTERM");
  let gone = false;
  for (let i = 0; i < 100 && !gone; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    gone = await fetch(`${url}/admin/host/status`).then(
      () => false,
      () => true,
    );
  }
  expect(gone).toBe(true);
  // It stopped as on a SIGTERM: the lock is released, so a new host may take the directory at once.
  for (let i = 0; i < 50 && fs.existsSync(path.join(dataDir, "local-host.pid")); i++)
    await new Promise((resolve) => setTimeout(resolve, 100));
  expect(fs.existsSync(path.join(dataDir, "local-host.pid"))).toBe(false);
}
