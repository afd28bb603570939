/**
 * Test harness: compiles the local host (tools/local-host, with its engine) into a temp directory with the
 * project's TypeScript, then runs it as a child process on a free loopback port, the way CI runs
 * `node dist/tools/local-host/cli.js`. (Inside jest the app cannot be loaded in-process: jest's module
 * registry bypasses Node's Module.prototype.require, which is where @azure/functions-core is provided.)
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as net from "node:net";
import * as path from "node:path";
import { readHostKeys, type HostKeys } from "../keys";

export const repoRoot = path.resolve(__dirname, "../../..");
export const fixtureApp = path.join(__dirname, "fixture-app");
export const fixtureDup = path.join(__dirname, "fixture-dup");

let built: string | undefined;

/**
 * Compiles tools/local-host/{cli,index}.ts into a temp dir; returns the directory holding cli.js / index.js.
 * Under jest the build is shared by every test file of the run (global-setup.js names its folder): the first
 * file to need it compiles it, the rest (in any worker) reuse it. Without that folder, once per module registry.
 */
export function buildHost(): string {
  if (built) return built;
  const shared = process.env.LOCAL_HOST_TEST_BUILD;
  if (shared && fs.existsSync(path.join(shared, "cli.js"))) return (built = shared);
  const outDir = fs.mkdtempSync(path.join(os.tmpdir(), "local-host-build-"));
  const tsc = path.join(repoRoot, "node_modules", "typescript", "bin", "tsc");
  execFileSync(
    process.execPath,
    [
      tsc,
      "--outDir",
      outDir,
      "--rootDir",
      path.join(repoRoot, "tools", "local-host"),
      "--module",
      "commonjs",
      "--target",
      "ES2022",
      "--esModuleInterop",
      "--skipLibCheck",
      "--strict",
      "--types",
      "node",
      path.join(repoRoot, "tools", "local-host", "cli.ts"),
      path.join(repoRoot, "tools", "local-host", "index.ts"),
    ],
    { cwd: repoRoot, stdio: "pipe" },
  );
  if (!shared) return (built = outDir);
  // One atomic rename publishes the whole build; if another worker published first, use theirs.
  try {
    fs.renameSync(outDir, shared);
  } catch {
    if (!fs.existsSync(path.join(shared, "cli.js"))) return (built = outDir);
    fs.rmSync(outDir, { recursive: true, force: true });
  }
  return (built = shared);
}

/** A free loopback port: bind port 0, read it, close (nothing listens on it afterwards). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export interface HostProcess {
  port: number;
  /** http://127.0.0.1:<port> */
  url: string;
  dataDir: string;
  /** The durable client's local RPC endpoint (`http://127.0.0.1:<port>/durabletask/`), from the banner. */
  rpcBaseUrl: string;
  /** With `requireKeys`: the keys the host made (or reused) in `<dataDir>/secrets/host.json`. */
  keys?: HostKeys;
  child: ChildProcess;
  output(): string;
  /** Sends `signal` (SIGTERM by default), then SIGKILL after `graceMs`; resolves with the exit code. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<number | null>;
  /** kill -9, no grace. */
  kill9(): Promise<void>;
}

export interface SpawnOptions {
  /** The built `cli.js` to run. */
  cliPath: string;
  appDir: string;
  dataDir: string;
  /** 0 (default): a free port, read back from the host's banner. */
  port?: number;
  env?: Record<string, string>;
  args?: string[];
  startTimeoutMs?: number;
  /** Start with --require-keys (keys enforced as in Azure); the result then carries `keys`. */
  requireKeys?: boolean;
}

/**
 * The one host-process launcher of the test suites (this folder's, the app's e2e suite, the bench): runs
 * `cli.js` as a child process and resolves once it printed "Host started on ...".
 */
export function spawnHost(opts: SpawnOptions): Promise<HostProcess> {
  const env: NodeJS.ProcessEnv = { ...process.env, ...(opts.env ?? {}) };
  delete env.PORT;
  const args = [opts.cliPath, "--port", String(opts.port ?? 0), "--app-dir", opts.appDir, "--data-dir", opts.dataDir, ...(opts.args ?? [])];
  if (opts.requireKeys) args.push("--require-keys");
  const child = spawn(process.execPath, args, { cwd: opts.appDir, env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const alive = () => child.exitCode === null && child.signalCode === null;
  const timeoutMs = opts.startTimeoutMs ?? 30000;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`local host did not print "Host started on ..." within ${timeoutMs} ms:\n${out}`));
    }, timeoutMs);
    const onData = () => {
      const m = /Host started on http:\/\/localhost:(\d+)/.exec(out);
      if (!m) return;
      clearTimeout(timer);
      child.stdout!.off("data", onData);
      const port = Number(m[1]);
      resolve({
        port,
        url: `http://127.0.0.1:${port}`,
        dataDir: opts.dataDir,
        rpcBaseUrl: /local RPC endpoint (\S+)/.exec(out)?.[1] ?? "",
        keys: opts.requireKeys ? readHostKeys(opts.dataDir) : undefined,
        child,
        output: () => out,
        stop: async (signal: NodeJS.Signals = "SIGTERM", graceMs = 8000) => {
          if (!alive()) return exited;
          child.kill(signal);
          const kill = setTimeout(() => alive() && child.kill("SIGKILL"), graceMs);
          const code = await exited;
          clearTimeout(kill);
          return code;
        },
        kill9: async () => {
          if (alive()) child.kill("SIGKILL");
          await exited;
        },
      });
    };
    child.stdout!.on("data", onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(Object.assign(new Error(`local host exited with ${code}:\n${out}`), { code, output: out }));
    });
  });
}

/** This folder's host: the freshly compiled local host (see buildHost) on a fixture app. */
export function startHostProcess(opts: Omit<SpawnOptions, "cliPath">): Promise<HostProcess> {
  return spawnHost({ ...opts, cliPath: path.join(buildHost(), "cli.js"), startTimeoutMs: opts.startTimeoutMs ?? 20000 });
}

/**
 * The host's output once it matches `pattern`: a function's log lines reach the child's stdout on their
 * own schedule, possibly after the HTTP answer that caused them.
 */
export async function outputMatching(host: HostProcess, pattern: RegExp | string, timeoutMs = 5000): Promise<string> {
  const matches = () => (typeof pattern === "string" ? host.output().includes(pattern) : pattern.test(host.output()));
  const end = Date.now() + timeoutMs;
  while (!matches() && Date.now() < end) await new Promise((resolve) => setTimeout(resolve, 20));
  return host.output();
}

/** One host for a whole test file: started before its tests (after compiling), stopped after them. */
export function hostForSuite(opts: Parameters<typeof startHostProcess>[0], set: (host: HostProcess) => void): void {
  let started: HostProcess | undefined;
  beforeAll(async () => {
    buildHost();
    started = await startHostProcess(opts);
    set(started);
  });
  afterAll(async () => {
    if (started) await started.stop();
  });
}

/** Polls a status URL until the runtime status is terminal or the timeout passes. */
export async function pollUntil(
  url: string,
  done: (body: any, res: Response) => boolean,
  timeoutMs = 15000,
): Promise<{ res: Response; body: any }> {
  const t0 = Date.now();
  for (;;) {
    const res = await fetch(url);
    const text = await res.text();
    const body = text ? JSON.parse(text) : undefined;
    if (done(body, res)) return { res, body };
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out polling ${url}: last ${res.status} ${text}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A response body as loosely typed JSON (test code only). */
export function json(res: Response): Promise<any> {
  return res.json() as Promise<any>;
}
