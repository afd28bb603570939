/**
 * The `scatter-gather` CLI (dist/src/cli/scatter-gather.js, built by `npm test`) against a real local
 * host (or BASE_URL): outcomes and exit codes, --json, plain progress lines when not a terminal, the
 * progress bar under a pseudo-terminal (`script`), NO_COLOR, and the other commands.
 */
import { execFile, spawnSync } from "node:child_process";
import * as net from "node:net";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ScatterGatherClient } from "../../src/client";
import { gatherExamples } from "../../src/openapi/document";
import { keysFor, pollUntil, repoRoot, uniqueId, useTarget } from "../e2e/harness";

const target = useTarget();
jest.setTimeout(60_000);

const BIN = path.join(repoRoot, "dist", "src", "cli", "scatter-gather.js");
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "sg-cli-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[/;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** The suite's host and its function key (it enforces keys as Azure does). */
function targetEnv(): Record<string, string> {
  const key = keysFor(target.baseUrl).function;
  return { SCATTER_GATHER_URL: target.baseUrl, ...(key ? { SCATTER_GATHER_KEY: key } : {}) };
}

function cli(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    const childEnv: NodeJS.ProcessEnv = { ...process.env, ...targetEnv(), ...env };
    delete childEnv.NO_COLOR;
    if (env.NO_COLOR !== undefined) childEnv.NO_COLOR = env.NO_COLOR;
    execFile(process.execPath, [BIN, ...args], { env: childEnv, timeout: 45_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? -1) : 0, stdout, stderr });
    });
  });
}

function requestFile(name: string, body: unknown): string {
  const file = path.join(tmp, `${name}.json`);
  fs.writeFileSync(file, JSON.stringify(body));
  return file;
}

const hasScript = spawnSync("script", ["--version"]).status === 0;

describe("scatter-gather run", () => {
  test("the README's first example: plain progress lines on stderr (not a terminal), then the outcome table and the aggregate; exit 0", async () => {
    const run = await cli(["run", requestFile("all", gatherExamples.all.value), "--interval", "100"]);
    expect(run).toMatchObject({ code: 0 });
    expect(run.stderr).toMatch(/^started (\w+)/);
    expect(run.stderr).toMatch(/running gathering: \d\/3 settled, succeeded \d, failed \d, pending \d, deadline in \d+\.\ds/);
    expect(run.stderr).toMatch(/completed done: 3\/3 settled, succeeded 2, failed 1, pending 0/);
    expect(run.stderr + run.stdout).not.toMatch(ANSI);
    expect(run.stderr).not.toContain("\r");
    const id = /^started (\w+)/.exec(run.stderr)![1];
    expect(run.stdout).toContain(`${id}: complete (all-responded)`);
    expect(run.stdout).toContain("recipients 3: succeeded 2, failed 1, timedOut 0, abandoned 0");
    expect(run.stdout).toMatch(/acme\s+succeeded\s+1\s+\d+ ms\s+\{"price":42\}/);
    expect(run.stdout).toMatch(/globex\s+succeeded\s+1\s+\d+ ms\s+\{"price":39\}/);
    expect(run.stdout).toMatch(/flaky\s+failed\s+1\s+simulated failure/);
    expect(run.stdout).toContain('aggregate: {"kind":"best","field":"price","order":"min","recipientId":"globex","value":{"price":39}}');
    // the same as the API says
    const status = await new ScatterGatherClient({ baseUrl: target.baseUrl, key: keysFor(target.baseUrl).function }).get(id);
    expect(status.result?.aggregate).toEqual({ kind: "best", field: "price", order: "min", recipientId: "globex", value: { price: 39 } });
  });

  test("--json: only the final status on stdout, nothing on stderr; exit 2 for partial, 3 for failed", async () => {
    const partial = await cli([
      "run",
      requestFile("partial", {
        request: {},
        recipients: [
          { id: "fast", simulate: { value: 1 } },
          { id: "slow", simulate: { latencyMs: 20_000, value: 2 } },
        ],
        completion: { timeoutMs: 700 },
      }),
      "--json",
      "--interval",
      "100",
    ]);
    expect(partial.code).toBe(2);
    expect(partial.stderr).toBe("");
    const body = JSON.parse(partial.stdout);
    expect(body.result).toMatchObject({ outcome: "partial", closedBy: "deadline", counts: { succeeded: 1, timedOut: 1 } });

    const failed = await cli([
      "run",
      requestFile("failed", { request: {}, recipients: [{ id: "x", simulate: { failureRate: 1 } }] }),
      "--interval",
      "100",
    ]);
    expect(failed.code).toBe(3);
    expect(failed.stdout).toMatch(/: failed \(all-failed\)/);
  });

  test("usage: no command exits 1; --url only an address; --top a whole number; a request file may start with a byte order mark", async () => {
    const none = await cli([]);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain("Usage: scatter-gather");
    expect((await cli(["--help"])).code).toBe(0);
    for (const url of [`http://user:secretpw@127.0.0.1:9`, `${target.baseUrl}?x=1`, `${target.baseUrl}#here`]) {
      const bad = await cli(["list", "--url", url]);
      expect(bad.code).toBe(1);
      expect(bad.stderr).toMatch(/--url takes the app's address only/);
      expect(bad.stderr).not.toContain("secretpw");
    }
    const top = await cli(["list", "--top", "abc"]);
    expect(top.code).toBe(1);
    expect(top.stderr).toMatch(/--top.*must be a whole number from 1 to 100/);
    const bom = path.join(tmp, "bom.json");
    fs.writeFileSync(bom, `\uFEFF${JSON.stringify({ request: {}, recipients: [{ id: "a", simulate: { value: 1 } }] })}`);
    const run = await cli(["run", "--json", bom, "--url", target.baseUrl], { SCATTER_GATHER_KEY: keysFor(target.baseUrl).function ?? "" });
    expect(run).toMatchObject({ code: 0 });
    expect(JSON.parse(run.stdout).result).toMatchObject({ outcome: "complete" });
  });

  test("usage and HTTP errors exit 1: unknown command, missing file argument, a 400 with its field paths, an unreachable host", async () => {
    const unknown = await cli(["bogus"]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("unknown command 'bogus'");
    expect((await cli(["run"])).code).toBe(1);
    const invalid = await cli([
      "run",
      requestFile("invalid", { request: {}, recipients: [{ id: "a", url: "ftp://x" }], completion: { mode: "most" } }),
    ]);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toContain("answered 400");
    expect(invalid.stderr).toMatch(/recipients\[0\]\.url: must be an absolute http or https URL/);
    expect(invalid.stderr).toMatch(/completion\.mode: must be "all", "first" or "quorum"/);
    // Each field once: the status line does not repeat what the detail lines say.
    expect(invalid.stderr.match(/recipients\[0\]\.url: must be/g)).toHaveLength(1);
    const notJson = path.join(tmp, "broken.json");
    fs.writeFileSync(notJson, "{ nope");
    expect(await cli(["run", notJson])).toMatchObject({ code: 1, stderr: expect.stringContaining("is not JSON") });
    const unreachable = await cli(["list", "--url", "http://127.0.0.1:9"]);
    expect(unreachable.code).toBe(1);
    // Which request, and why it got no answer.
    expect(unreachable.stderr).toMatch(/^error: GET http:\/\/127\.0\.0\.1:9\/api\/scatter-gather\?top=20 failed: bad port/);
    const closed = await new Promise<number>((resolve) => {
      const probe = net.createServer().listen(0, "127.0.0.1", () => {
        const { port } = probe.address() as net.AddressInfo;
        probe.close(() => resolve(port));
      });
    });
    const refused = await cli(["list", "--url", `http://127.0.0.1:${closed}`]);
    expect(refused.stderr).toMatch(
      new RegExp(`^error: GET http://127\\.0\\.0\\.1:${closed}/api/scatter-gather\\?top=20 failed: ECONNREFUSED`),
    );
    const noKey = await cli(["list", "--url", target.baseUrl], { SCATTER_GATHER_KEY: "" });
    expect(noKey.stderr).toMatch(/answered 401[\s\S]*--key/);
  });

  (hasScript ? test : test.skip)(
    "under a pseudo-terminal: a live progress bar with the counts and the deadline, coloured unless NO_COLOR",
    async () => {
      const file = requestFile("tty", {
        request: {},
        recipients: [
          { id: "a", simulate: { latencyMs: 100, value: { price: 1 } } },
          { id: "b", simulate: { latencyMs: 1500, value: { price: 2 } } },
        ],
        completion: { timeoutMs: 10_000 },
        aggregate: { kind: "summary", field: "price" },
      });
      const inPty = (env: Record<string, string>) =>
        new Promise<Run>((resolve) => {
          const command = `${process.execPath} ${BIN} run ${file} --interval 100`;
          const childEnv: NodeJS.ProcessEnv = { ...process.env, ...targetEnv(), TERM: "xterm", ...env };
          if (env.NO_COLOR === undefined) delete childEnv.NO_COLOR;
          execFile("script", ["-qfec", command, "/dev/null"], { env: childEnv, timeout: 45_000 }, (error, stdout, stderr) =>
            resolve({ code: error ? ((error as { code?: number }).code ?? -1) : 0, stdout, stderr }),
          );
        });
      const colour = await inPty({});
      expect(colour.code).toBe(0);
      // the bar: drawn in place (cursor to column 1), partly filled while b is pending, then full
      expect(colour.stdout).toMatch(
        // eslint-disable-next-line no-control-regex -- the escape sequences are what is checked
        /█+░+ 1\/2 \| succeeded \u001b\[32m1\u001b\[39m failed \u001b\[31m0\u001b\[39m pending 1 \| deadline \d+\.\ds \| gathering/,
      );
      // eslint-disable-next-line no-control-regex -- the escape sequences are what is checked
      expect(colour.stdout).toMatch(/█{10,} 2\/2 \| succeeded \u001b\[32m2\u001b\[39m/);
      expect(colour.stdout).toContain("\u001b[1G");
      expect(colour.stdout).not.toMatch(/running gathering: /); // no plain lines on a terminal
      // eslint-disable-next-line no-control-regex -- the escape sequences are what is checked
      expect(colour.stdout).toMatch(/\u001b\[32mcomplete\u001b\[39m \(all-responded\)/);
      expect(colour.stdout).toContain('aggregate: {"kind":"summary","field":"price","count":2,"sum":3,"average":1.5,"min":1,"max":2}');

      const plain = await inPty({ NO_COLOR: "1" });
      expect(plain.code).toBe(0);
      expect(plain.stdout).toMatch(/█+░+ 1\/2 \| succeeded 1 failed 0 pending 1 \| deadline/); // still a bar
      // eslint-disable-next-line no-control-regex -- the escape sequences are what is checked
      expect(plain.stdout).not.toMatch(/\u001b\[3[12]m/); // without colours
      expect(plain.stdout).toMatch(/: complete \(all-responded\)/);
    },
  );
});

describe("the other commands", () => {
  test("watch, responses --status failed --json, list --json, terminate, delete", async () => {
    const client = new ScatterGatherClient({ baseUrl: target.baseUrl, key: keysFor(target.baseUrl).function });
    const { id } = await client.start({ ...(gatherExamples.all.value as object), id: uniqueId("cli") });
    const watched = await cli(["watch", id, "--interval", "100"]);
    expect(watched.code).toBe(0);
    expect(watched.stdout).toContain(`${id}: complete (all-responded)`);

    const failed = await cli(["responses", id, "--status", "failed", "--json"]);
    expect(failed.code).toBe(0);
    expect(JSON.parse(failed.stdout)).toEqual([
      { recipientId: "flaky", status: "failed", error: expect.stringContaining("simulated failure"), attempts: 1 },
    ]);
    const all = await cli(["responses", id]);
    expect(all.stdout.split("\n").filter((l) => /^(acme|globex|flaky)\s/.test(l))).toHaveLength(3);
    expect((await cli(["responses", id, "--status", "sideways"])).code).toBe(1);

    const list = await cli(["list", "--json", "--top", "100"]);
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout).items).toEqual(
      expect.arrayContaining([expect.objectContaining({ id, outcome: "complete", runtimeStatus: "Completed" })]),
    );
    const listTable = await cli(["list", "--top", "100"]);
    expect(listTable.stdout).toMatch(new RegExp(`${id}\\s+Completed\\s+\\S+\\s+complete\\s+all-responded\\s+2/3`));

    const long = await client.start({
      id: uniqueId("cli-long"),
      request: {},
      recipients: [{ id: "slow", simulate: { latencyMs: 30_000 } }],
    });
    const stillRunning = await cli(["delete", long.id]);
    expect(stillRunning.code).toBe(1);
    expect(stillRunning.stderr).toContain("409");
    const terminated = await cli(["terminate", long.id, "--reason", "test"]);
    expect(terminated).toMatchObject({ code: 0, stdout: `terminated ${long.id} (1 instance(s))\n` });
    await pollUntil(target, long.id, (b) => b.runtimeStatus === "Terminated");
    const watchTerminated = await cli(["watch", long.id]);
    expect(watchTerminated.code).toBe(3);
    expect(watchTerminated.stdout).toContain("Terminated without a result");
    expect(await cli(["delete", long.id])).toMatchObject({ code: 0, stdout: `deleted ${long.id}\n` });
    expect(await cli(["delete", long.id])).toMatchObject({ code: 1, stderr: expect.stringContaining("404") });
  });

  test("--key and SCATTER_GATHER_KEY are sent as x-functions-key", async () => {
    const seen: Array<string | undefined> = [];
    const http = await import("node:http");
    const server = http.createServer((req, res) => {
      seen.push(req.headers["x-functions-key"] as string | undefined);
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ items: [], continuationToken: null, nextUri: null }));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    try {
      expect((await cli(["list", "--url", url, "--key", "k1"])).stdout).toBe("no gathers\n");
      await cli(["list"], { SCATTER_GATHER_URL: url, SCATTER_GATHER_KEY: "k2" });
      await cli(["list", "--url", url], { SCATTER_GATHER_KEY: "" });
    } finally {
      server.close();
    }
    expect(seen).toEqual(["k1", "k2", undefined]);
  });
});
