/**
 * The built CLI (dist/src/cli/scatter-gather.js) against fake servers on 127.0.0.1, no Functions host:
 * it keeps its key and bodies on the origin of --url (a redirect elsewhere is refused), prints the server's
 * text with control and bidi characters escaped (tables, lines, errors and --json alike), refuses answers
 * that are too large, not JSON or not the API's shape (exit 1, saying why), and still does what it did:
 * x-functions-key, exit codes, plain progress lines, the progress bar and NO_COLOR.
 */
import { execFile, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { GatherStatus, RecipientResponse } from "../../src/client";
import { BIN, cli, fakeApi, fakeServer, gatherStatus, sendJson, type FakeServer, type Run } from "./fake-server";

jest.setTimeout(60_000);

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "sg-cli-untrusted-"));
const servers: FakeServer[] = [];
async function track(server: Promise<FakeServer>): Promise<FakeServer> {
  servers.push(await server);
  return servers[servers.length - 1];
}
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** C0 (ESC, BEL, CR, BS, TAB, LF, NUL), DEL, C1 (CSI, OSC, ST), bidi controls, line/paragraph separators. */
const EVIL =
  "<\u009b2J\u009d0;T\u009c\u202e\u001b[31m\u001b]0;title\u0007\r\b\t\n\u007f\u0000\u061c\u200e\u200f\u202a\u202d\u2066\u2067\u2068\u2069\u2028\u2029>";
const EVIL_SHOWN = "\\u009b2J\\u009d0;T\\u009c\\u202e\\u001b[31m\\u001b]0;title\\u0007";
// eslint-disable-next-line no-control-regex -- what must never reach the terminal raw (line feed is the CLI's own layout)
const RAW = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/;

function expectClean(run: Run): void {
  expect(run.stdout).not.toMatch(RAW);
  expect(run.stderr).not.toMatch(RAW);
}

function requestFile(name: string, body: unknown): string {
  const file = path.join(tmp, `${name}.json`);
  fs.writeFileSync(file, JSON.stringify(body));
  return file;
}

const REQUEST_WITH_SECRETS = {
  request: { item: "x" },
  recipients: [{ id: "a", url: "https://partner.example/quote", headers: { Authorization: "Bearer recipient-secret" } }],
};

describe("redirects: the key and the request body stay on the origin of --url", () => {
  test.each([307, 302])(
    "run: a %i to another origin is refused, naming the status and the origin; that origin gets no request",
    async (status) => {
      const other = await track(fakeServer((_req, res) => sendJson(res, 200, {})));
      const api = await track(fakeServer((_req, res) => res.writeHead(status, { location: `${other.url}/.auth/login/aad` }).end()));
      const run = await cli(["run", requestFile("secrets", REQUEST_WITH_SECRETS), "--url", api.url, "--key", "the-function-key"]);
      expect(run.code).toBe(1);
      expect(run.stderr).toBe(
        `error: POST /api/scatter-gather answered ${status} redirecting to another origin, ${other.url}: refused (the key and the request body go only to ${api.url})\n`,
      );
      expect(other.requests).toEqual([]);
      expect(api.requests).toHaveLength(1);
      expect(api.requests[0].headers["x-functions-key"]).toBe("the-function-key");

      const list = await cli(["list"], { SCATTER_GATHER_URL: api.url, SCATTER_GATHER_KEY: "k" });
      expect(list.code).toBe(1);
      expect(list.stderr).toContain(`answered ${status} redirecting to another origin, ${other.url}: refused`);
      expect(other.requests).toEqual([]);
    },
  );

  test("an --url that is not an absolute http(s) URL: exit 1 saying so", async () => {
    expect(await cli(["list", "--url", "localhost:7071"])).toMatchObject({
      code: 1,
      stderr: 'error: the base URL must be an absolute http or https URL, not "localhost:7071"\n',
    });
  });
});

describe("the server's text is escaped, never printed raw", () => {
  const evilResponses: RecipientResponse[] = [
    { recipientId: `r${EVIL}`, status: "succeeded", value: { v: EVIL, [`k${EVIL}`]: [EVIL] }, attempts: 1, durationMs: 3 },
    { recipientId: `f${EVIL}`, status: "failed", error: `boom${EVIL}`, attempts: 2 },
  ];
  const done = (id: string): GatherStatus =>
    gatherStatus(id, {
      result: { ...gatherStatus(id).result!, aggregate: { kind: "best", recipientId: `r${EVIL}`, value: { v: EVIL } } },
    });
  const running = (id: string): GatherStatus =>
    gatherStatus(id, {
      runtimeStatus: "Running",
      result: null,
      progress: { phase: "gathering", total: 2, succeeded: 1, failed: 0, pending: 1, deadline: EVIL },
    });
  const evilId = `g${EVIL}`;
  const evilList = {
    items: [
      {
        id: evilId,
        runtimeStatus: "Completed",
        createdTime: `t${EVIL}`,
        lastUpdatedTime: "t",
        progress: null,
        outcome: "complete",
        closedBy: "all-responded",
        counts: { total: 2, succeeded: 1, failed: 1, timedOut: 0, abandoned: 0 },
      },
    ],
    continuationToken: `c'${EVIL}`,
    nextUri: null,
  };
  const evilError = {
    error: { code: "conflict", message: `busy${EVIL}`, details: [{ path: `p${EVIL}`, message: `m${EVIL}` }] },
  };

  test("run and watch (progress lines, summary, table, aggregate) and their --json", async () => {
    const api = await track(fakeApi({ statuses: [running(evilId), running(evilId), done(evilId)], responses: evilResponses }));
    const env = { SCATTER_GATHER_URL: api.url };
    const run = await cli(["run", requestFile("plain", { request: {}, recipients: [] }), "--interval", "50"], env);
    expect(run.code).toBe(0);
    expectClean(run);
    expect(run.stderr).toContain(`started g<${EVIL_SHOWN}`);
    expect(run.stderr).toContain("running gathering: 1/2 settled, succeeded 1, failed 0, pending 1, deadline unknown");
    expect(run.stdout).toContain(`g<${EVIL_SHOWN}`);
    expect(run.stdout).toContain(`r<${EVIL_SHOWN}`);
    expect(run.stdout).toContain(`boom<${EVIL_SHOWN}`);
    expect(run.stdout).toContain(`aggregate: {"kind":"best","recipientId":"r<${EVIL_SHOWN}`);

    const watch = await cli(["watch", "g1", "--json", "--interval", "50"], env);
    expect(watch.code).toBe(0);
    expectClean(watch);
    expect(JSON.parse(watch.stdout)).toEqual(done(evilId)); // valid JSON, the same value
    expect(watch.stdout).toContain(EVIL_SHOWN);
  });

  test("responses and list, as tables and as --json; a suggested command is quoted", async () => {
    const api = await track(fakeApi({ statuses: [done(evilId)], responses: evilResponses, list: evilList }));
    const env = { SCATTER_GATHER_URL: api.url };
    const table = await cli(["responses", "g1"], env);
    expect(table.code).toBe(0);
    expectClean(table);
    expect(table.stdout).toContain(`f<${EVIL_SHOWN}`);
    expect(table.stdout.split("\n")).toHaveLength(5); // header, rule, two rows, the final newline

    const json = await cli(["responses", "g1", "--json"], env);
    expectClean(json);
    expect(JSON.parse(json.stdout)).toEqual(evilResponses);

    const list = await cli(["list"], env);
    expect(list.code).toBe(0);
    expectClean(list);
    expect(list.stdout).toContain(`g<${EVIL_SHOWN}`);
    expect(list.stdout).toContain(`t<${EVIL_SHOWN}`);
    expect(list.stdout).toContain(`more: scatter-gather list --continuation-token 'c'\\''<${EVIL_SHOWN}`);
    const listJson = await cli(["list", "--json"], env);
    expectClean(listJson);
    expect(JSON.parse(listJson.stdout)).toEqual(evilList);
  });

  test("error paths: the API's message and details", async () => {
    const api = await track(fakeServer((req, res) => sendJson(res, req.method === "DELETE" ? 409 : 404, evilError)));
    const env = { SCATTER_GATHER_URL: api.url };
    const del = await cli(["delete", "g1"], env);
    expect(del.code).toBe(1);
    expectClean(del);
    expect(del.stderr).toMatch(/^error: DELETE \/api\/scatter-gather\/g1 answered 409: busy</);
    expect(del.stderr).toContain(`busy<${EVIL_SHOWN}`);
    expect(del.stderr).toContain(`  p<${EVIL_SHOWN}`);
    expect(del.stderr.trimEnd().split("\n")).toHaveLength(2);
    const terminate = await cli(["terminate", "g1"], env);
    expect(terminate.code).toBe(1);
    expectClean(terminate);
    expect(terminate.stderr).toContain(`answered 404: busy<${EVIL_SHOWN}`);
  });

  const hasScript = spawnSync("script", ["--version"]).status === 0;
  (hasScript ? test : test.skip)("on a terminal: the progress bar's id and the summary are escaped too", async () => {
    const api = await track(fakeApi({ statuses: [running(evilId), done(evilId)], responses: evilResponses }));
    const run = await inPty(`watch g1 --interval 50`, { SCATTER_GATHER_URL: api.url });
    expect(run.code).toBe(0);
    // the bar moves the cursor itself (ESC [ … G, CR): none of the server's characters may be raw
    // eslint-disable-next-line no-control-regex -- what is checked
    expect(run.stdout).not.toMatch(/[\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029\u0000\u0007\b]|\u001b\]/);
    expect(run.stdout).toContain(`g<${EVIL_SHOWN}`);
    expect(run.stdout).toMatch(/█+░+ 1\/2 \| succeeded/);
  });
});

describe("answers that are too large, not JSON or not the API's shape: exit 1 saying why", () => {
  test("watch --json gives up at once on a status without runtimeStatus (it polled forever), or with an unknown one", async () => {
    const empty = await track(fakeServer((_req, res) => sendJson(res, 200, {})));
    const run = await cli(["watch", "g1", "--json", "--interval", "50"], { SCATTER_GATHER_URL: empty.url }, 10_000);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe("");
    expect(run.stderr).toMatch(
      /^error: GET \/api\/scatter-gather\/g1 answered 200 with a body that is not a GatherStatus: .*missing field runtimeStatus/,
    );
    expect(empty.requests).toHaveLength(1);

    const odd = await track(fakeServer((_req, res) => sendJson(res, 200, { ...gatherStatus("g1"), runtimeStatus: "Sideways" })));
    const oddRun = await cli(["watch", "g1", "--interval", "50"], { SCATTER_GATHER_URL: odd.url }, 10_000);
    expect(oddRun.code).toBe(1);
    expect(oddRun.stderr).toContain("field runtimeStatus: Invalid option");
  });

  test("not JSON, empty, or JSON of another shape: no 'Cannot read properties of undefined'", async () => {
    const answers = [
      ["text/html; charset=utf-8", "<html><body>Sign in</body></html>"],
      ["application/json", ""],
      ["application/json", "{}"],
      ["application/json", '{"items":[{"recipientId":"a"}],"offset":0,"limit":100,"total":1,"nextUri":null}'],
    ];
    const api = await track(
      fakeServer((_req, res) => {
        const [type, body] = answers.shift()!;
        res.writeHead(200, { "content-type": type }).end(body);
      }),
    );
    const env = { SCATTER_GATHER_URL: api.url };
    const html = await cli(["list"], env);
    expect(html).toMatchObject({
      code: 1,
      stderr: "error: GET /api/scatter-gather answered 200 with a body that is not JSON (text/html; charset=utf-8, 33 characters)\n",
    });
    const empty = await cli(["watch", "g1"], env);
    expect(empty).toMatchObject({
      code: 1,
      stderr: "error: GET /api/scatter-gather/g1 answered 200 with a body that is not JSON (empty)\n",
    });
    const list = await cli(["list"], env);
    expect(list).toMatchObject({ code: 1, stderr: expect.stringContaining("with a body that is not a GatherList: missing field items") });
    const responses = await cli(["responses", "g1"], env);
    expect(responses).toMatchObject({ code: 1, stderr: expect.stringContaining("not a ResponsesPage: missing field items[0].status") });
    for (const run of [html, empty, list, responses]) expect(run.stderr).not.toContain("Cannot read properties");
  });

  test("an endless answer: the read stops at 16 MiB, exit 1 naming the bound (it was read whole); --max-answer-bytes changes the bound", async () => {
    let written = 0;
    const api = await track(
      fakeServer((_req, res) => {
        res.writeHead(200, { "content-type": "application/json" });
        const chunk = Buffer.alloc(64 * 1024, "x");
        let open = true;
        res.on("close", () => (open = false));
        const pump = () => {
          while (open && written < 128 * 1024 * 1024) {
            written += chunk.length;
            if (!res.write(chunk)) return void res.once("drain", pump);
          }
        };
        pump();
      }),
    );
    const run = await cli(["watch", "g1", "--json"], { SCATTER_GATHER_URL: api.url }, 30_000);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(
      "error: GET /api/scatter-gather/g1 answered 200 with a body larger than 16 MiB (--max-answer-bytes raises the bound)\n",
    );
    expect(written).toBeLessThan(40 * 1024 * 1024); // 16 MiB and what the sockets held, not the rest

    written = 0;
    const small = await cli(["list", "--max-answer-bytes", "1024"], { SCATTER_GATHER_URL: api.url });
    expect(small.stderr).toContain("with a body larger than 1 KiB");
    const bad = await cli(["list", "--max-answer-bytes", "lots"], { SCATTER_GATHER_URL: api.url });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("must be a positive whole number of bytes");
  });
});

describe("what held", () => {
  test("--key and SCATTER_GATHER_KEY are sent as x-functions-key (none when empty)", async () => {
    const api = await track(fakeApi({}));
    expect(await cli(["list", "--url", api.url, "--key", "k1"])).toMatchObject({ code: 0, stdout: "no gathers\n" });
    await cli(["list"], { SCATTER_GATHER_URL: api.url, SCATTER_GATHER_KEY: "k2" });
    await cli(["list", "--url", api.url], { SCATTER_GATHER_KEY: "" });
    expect(api.requests.map((r) => r.headers["x-functions-key"])).toEqual(["k1", "k2", undefined]);
  });

  test("exit codes: 0 complete, 2 partial, 3 failed or no result, 1 for HTTP errors and usage; plain progress lines off a terminal", async () => {
    const result = gatherStatus("g").result!;
    const cases: Array<[GatherStatus, number]> = [
      [gatherStatus("g"), 0],
      [gatherStatus("g", { result: { ...result, outcome: "partial", closedBy: "deadline" } }), 2],
      [gatherStatus("g", { result: { ...result, outcome: "failed", closedBy: "all-failed" } }), 3],
      [gatherStatus("g", { runtimeStatus: "Terminated", result: null }), 3],
    ];
    for (const [status, code] of cases) {
      const api = await track(fakeApi({ statuses: [gatherStatus("g", { runtimeStatus: "Running", result: null }), status] }));
      const run = await cli(["watch", "g", "--interval", "50"], { SCATTER_GATHER_URL: api.url, SCATTER_GATHER_KEY: "k" });
      expect([status.result?.outcome ?? status.runtimeStatus, run.code]).toEqual([status.result?.outcome ?? status.runtimeStatus, code]);
      expect(run.stderr).toContain("running done: 2/2 settled, succeeded 1, failed 1, pending 0");
      expect(api.requests.every((r) => r.headers["x-functions-key"] === "k")).toBe(true);
    }
    const notFound = await track(
      fakeServer((_req, res) => sendJson(res, 404, { error: { code: "not_found", message: "no such gather" } })),
    );
    expect(await cli(["watch", "nope"], { SCATTER_GATHER_URL: notFound.url })).toMatchObject({
      code: 1,
      stderr: "error: GET /api/scatter-gather/nope answered 404: no such gather\n",
    });
    expect((await cli(["bogus"])).code).toBe(1);
  });

  const hasScript = spawnSync("script", ["--version"]).status === 0;
  (hasScript ? test : test.skip)("under a pseudo-terminal: the progress bar, coloured unless NO_COLOR", async () => {
    const statuses = [
      gatherStatus("g1", {
        runtimeStatus: "Running",
        result: null,
        progress: { phase: "gathering", total: 2, succeeded: 1, failed: 0, pending: 1, deadline: null },
      }),
      gatherStatus("g1"),
    ];
    const colour = await inPty("watch g1 --interval 50", { SCATTER_GATHER_URL: (await track(fakeApi({ statuses }))).url });
    expect(colour.code).toBe(0);
    expect(colour.stdout).toMatch(
      // eslint-disable-next-line no-control-regex -- the escape sequences are what is checked
      /g1 █+░+ 1\/2 \| succeeded \u001b\[32m1\u001b\[39m failed \u001b\[31m0\u001b\[39m pending 1 \| deadline none \| gathering/,
    );
    // eslint-disable-next-line no-control-regex -- the escape sequences are what is checked
    expect(colour.stdout).toMatch(/\u001b\[32mcomplete\u001b\[39m \(all-responded\)/);
    const plain = await inPty("watch g1 --interval 50", { SCATTER_GATHER_URL: (await track(fakeApi({ statuses }))).url, NO_COLOR: "1" });
    expect(plain.code).toBe(0);
    expect(plain.stdout).toMatch(/g1 █+░+ 1\/2 \| succeeded 1 failed 0 pending 1/);
    // eslint-disable-next-line no-control-regex -- the escape sequences are what is checked
    expect(plain.stdout).not.toMatch(/\u001b\[3[12]m/);
  });
});

/** The CLI under a pseudo-terminal (util-linux `script`): its stdout is the terminal's output. */
function inPty(args: string, env: Record<string, string>): Promise<Run> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, TERM: "xterm" };
  for (const name of Object.keys(childEnv)) if (name.startsWith("SCATTER_GATHER_") || name === "NO_COLOR") delete childEnv[name];
  Object.assign(childEnv, env);
  const started = Date.now();
  return new Promise((resolve) =>
    execFile(
      "script",
      ["-qfec", `${process.execPath} ${BIN} ${args}`, "/dev/null"],
      { env: childEnv, timeout: 30_000 },
      (error, stdout, stderr) =>
        resolve({ code: error ? ((error as { code?: number }).code ?? -1) : 0, stdout, stderr, ms: Date.now() - started }),
    ),
  );
}
