/**
 * Application Insights telemetry, end to end on loopback only.
 *
 * A real gather runs through the project's local host (a child process, from dist/, built here) with
 * APPLICATIONINSIGHTS_CONNECTION_STRING's IngestionEndpoint pointing at an HTTPS sink on 127.0.0.1
 * (the SDK's HTTP pipeline refuses plain http endpoints). The sink's self-signed certificate is made
 * with the openssl CLI and trusted by the child through NODE_EXTRA_CA_CERTS; TLS verification stays on.
 * The child also gets: a preloaded guard that refuses (and records) any non-loopback connection,
 * HTTP(S)_PROXY pointing at a loopback trap so the SDK's side channels (OneSettings, statsbeat) cannot
 * leave the machine, and statsbeat disabled.
 *
 * The no-op path and the SDK mapping are tested in-process with a stand-in for the SDK.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import * as zlib from "node:zlib";
import { packOutcomes } from "../../src/gather/outcomes";
import { RunPayloads } from "../../src/gather/runPayloads";

const ROOT = path.resolve(__dirname, "../..");
const IKEY = "00000000-0000-0000-0000-000000000000";

interface Envelope {
  name: string;
  iKey: string;
  tags?: Record<string, string>;
  data: {
    baseType: string;
    baseData: Record<string, unknown> & { properties?: Record<string, string>; measurements?: Record<string, number> };
  };
}

// ---------------------------------------------------------------------------------------------
// In-process: no connection string → nothing loaded; with one → the SDK calls we expect.
// ---------------------------------------------------------------------------------------------

type TelemetryModule = typeof import("../../src/telemetry");

const report = {
  instanceId: "inst-1",
  mode: "all" as const,
  auction: false,
  outcome: "complete" as const,
  closedBy: "all-responded" as const,
  counts: { total: 3, succeeded: 2, failed: 1, timedOut: 0, abandoned: 0 },
  startedAt: "2026-11-22T10:00:00.000Z",
  closedAt: "2026-11-22T10:00:01.250Z",
  recipients: 3,
  latenciesMs: [120, 300],
};

function loadWithFakeSdk(env: Record<string, string | undefined>) {
  const state = { loaded: false, calls: [] as Array<{ method: string; arg: unknown }>, flushed: 0 };
  const saved = { ...process.env };
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  let mod!: TelemetryModule;
  let activity!: typeof import("../../src/functions/aggregateResponses");
  let payload!: typeof import("../../src/payload");
  jest.isolateModules(() => {
    jest.doMock("applicationinsights", () => {
      state.loaded = true;
      class TelemetryClient {
        config: Record<string, unknown> = {};
        constructor(
          public connectionString: string,
          public options: unknown,
        ) {
          state.calls.push({ method: "new", arg: { connectionString, options } });
        }
        initialize() {}
        trackEvent(t: unknown) {
          state.calls.push({ method: "trackEvent", arg: t });
        }
        trackMetric(t: unknown) {
          state.calls.push({ method: "trackMetric", arg: t });
        }
        trackDependency(t: unknown) {
          state.calls.push({ method: "trackDependency", arg: t });
        }
        async flush() {
          state.flushed++;
        }
        async shutdown() {}
      }
      return { TelemetryClient };
    });
    // durable-functions registration is harmless here (no worker): it only records the function.
    /* eslint-disable @typescript-eslint/no-require-imports -- loaded after jest.doMock, in this isolated registry */
    activity = require("../../src/functions/aggregateResponses");
    mod = require("../../src/telemetry");
    payload = require("../../src/payload");
    /* eslint-enable @typescript-eslint/no-require-imports */
  });
  const restore = () => {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  };
  return { state, mod, activity, payload, restore };
}

describe("telemetry module (in-process, SDK stand-in)", () => {
  test("no connection string: the SDK is never loaded and nothing fails", async () => {
    const warn = jest.spyOn(console, "warn").mockImplementation(() => {});
    const { state, mod, activity, payload, restore } = loadWithFakeSdk({ APPLICATIONINSIGHTS_CONNECTION_STRING: undefined });
    try {
      expect(mod.telemetryEnabled()).toBe(false);
      mod.trackGatherCompleted(report);
      mod.trackRecipientCall({
        instanceId: "i",
        recipient: { id: "r", simulate: { latencyMs: 0, failureRate: 0, value: 1 } },
        durationMs: 1,
        success: true,
      });
      await mod.flushTelemetry();
      await mod.shutdownTelemetry();
      // The aggregation activity runs on the payload store: a gather of one recipient that answered 1.
      const store = new payload.MemoryPayloadStore();
      payload.setPayloadStore(store);
      const run = { instanceId: "inst-1", runId: "r" };
      await store.putJson("inst-1/r/recipients.json", [{ id: "a", simulate: { latencyMs: 0, failureRate: 0, value: 1 } }]);
      // Stored as callRecipient stores it (an answer group); the outcome carries where.
      const answer = await new RunPayloads(store, run).storeAnswer(0, { recipientId: "a", attempts: 1, durationMs: 5 }, Buffer.from("1"));
      const counts = { total: 1, succeeded: 1, failed: 0, timedOut: 0, abandoned: 0 };
      const result = await activity.aggregateResponses({
        run,
        spec: { kind: "collect", order: "min" },
        plan: { kind: "collect", count: 1, bytes: 1 },
        outcomes: packOutcomes([{ status: "succeeded", attempts: 1, durationMs: 5, answer }]),
        summary: {
          id: "inst-1",
          outcome: "complete",
          closedBy: "all-responded",
          startedAt: report.startedAt,
          closedAt: report.closedAt,
          counts,
          responsesUri: "http://localhost/r",
        },
        report: { mode: "all", auction: false },
      });
      expect(result.aggregate).toEqual({ kind: "collect", values: { a: 1 }, count: 1 });
      expect(state.loaded).toBe(false);
      expect(state.calls).toEqual([]);
      // (@azure/functions warns that it runs outside a worker; that is not ours.)
      expect(warn.mock.calls.filter((c) => /telemetry|Application Insights/i.test(String(c[0])))).toEqual([]);
    } finally {
      restore();
      warn.mockRestore();
    }
  });

  test("with a connection string: isolated client, event + metrics per gather, one dependency per call", async () => {
    const { state, mod, restore } = loadWithFakeSdk({
      APPLICATIONINSIGHTS_CONNECTION_STRING: `InstrumentationKey=${IKEY};IngestionEndpoint=https://127.0.0.1:9/`,
      APPLICATIONINSIGHTS_AUTHENTICATION_STRING: undefined,
    });
    try {
      mod.trackGatherCompleted(report);
      mod.trackRecipientCall({
        instanceId: "inst-1",
        recipient: { id: "acme", url: "http://user:pw@127.0.0.1:9001/quote?token=secret", method: "POST", timeoutMs: 10000 },
        durationMs: 12.4,
        success: false,
        error: "HTTP 503",
        invocationId: "inv-1",
      });
      mod.trackRecipientCall({
        instanceId: "inst-1",
        recipient: { id: "sim-1", simulate: { latencyMs: 0, failureRate: 0, value: 1 } },
        durationMs: 5,
        success: true,
      });
      await mod.flushTelemetry();

      expect(state.loaded).toBe(true);
      expect(state.calls[0]).toEqual({
        method: "new",
        arg: { connectionString: expect.stringContaining(IKEY), options: { useGlobalProviders: false } },
      });
      const of = (m: string) => state.calls.filter((c) => c.method === m).map((c) => c.arg as Record<string, any>);
      expect(of("trackEvent")).toEqual([
        {
          name: "ScatterGatherCompleted",
          properties: { instanceId: "inst-1", mode: "all", outcome: "complete", closedBy: "all-responded", auction: "false" },
          measurements: expect.objectContaining({
            total: 3,
            succeeded: 2,
            failed: 1,
            timedOut: 0,
            abandoned: 0,
            durationMs: 1250,
            answerLatencyP95Ms: 300,
          }),
        },
      ]);
      const metrics = of("trackMetric");
      expect(metrics.filter((m) => m.name === "ScatterGather.Recipients").map((m) => m.value)).toEqual([3]);
      expect(metrics.filter((m) => m.name === "ScatterGather.AnswerLatencyMs").map((m) => m.value)).toEqual([120, 300]);
      expect(metrics.every((m) => m.properties.instanceId === "inst-1")).toBe(true);
      const [httpDep, simDep] = of("trackDependency");
      expect(httpDep).toMatchObject({
        name: "POST /quote",
        dependencyTypeName: "HTTP",
        target: "http://127.0.0.1:9001",
        data: "http://127.0.0.1:9001/quote",
        duration: 12,
        resultCode: "503",
        success: false,
        properties: { instanceId: "inst-1", recipientId: "acme", error: "HTTP 503", InvocationId: "inv-1" },
      });
      expect(JSON.stringify(httpDep)).not.toMatch(/secret|pw@/);
      expect(simDep).toMatchObject({
        dependencyTypeName: "Simulated",
        success: true,
        properties: { instanceId: "inst-1", recipientId: "sim-1" },
      });
      expect(state.flushed).toBe(1);
    } finally {
      restore();
    }
  });

  test("summarize: nearest-rank percentiles", () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- the real module, loaded here rather than at import time
    const { summarize } = require("../../src/telemetry") as TelemetryModule;
    expect(summarize([])).toBeUndefined();
    expect(summarize([5, 1, 3, 2, 4])).toEqual({ count: 5, avg: 3, min: 1, max: 5, p50: 3, p95: 5 });
  });
});

// ---------------------------------------------------------------------------------------------
// End to end: a real gather through the local host, envelopes into an HTTPS sink on loopback.
// ---------------------------------------------------------------------------------------------

interface Servers {
  tmp: string;
  sink: https.Server;
  sinkPort: number;
  envelopes: Envelope[];
  sinkPaths: string[];
  trap: http.Server;
  trapPort: number;
  trapped: string[];
  recipient: http.Server;
  recipientPort: number;
  recipientCalls: number;
  host?: ChildProcess;
  hostUrl?: string;
  hostOutput: string;
  guardLog: string;
}

const listen = (server: http.Server | https.Server) =>
  new Promise<number>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port));
  });
const close = (server: http.Server | https.Server | undefined) =>
  new Promise<void>((resolve) => {
    if (!server?.listening) return resolve();
    server.closeAllConnections?.();
    server.close(() => resolve());
  });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

/** The ingestion body: gzip/deflate or plain; a JSON array, or newline-delimited JSON envelopes. */
function parseEnvelopes(raw: Buffer, encoding: string | undefined): Envelope[] {
  const body = encoding === "gzip" ? zlib.gunzipSync(raw) : encoding === "deflate" ? zlib.inflateSync(raw) : raw;
  const text = body.toString("utf8").trim();
  if (text.startsWith("[")) return JSON.parse(text) as Envelope[];
  return text
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as Envelope);
}

/** Every .ts file of tsconfig.json's include (src/, tools/, test/) has its .js in dist/, written after it. */
function distIsFresh(): boolean {
  const fresh = (dir: string): boolean =>
    fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true }).every((entry) => {
      const rel = path.join(dir, entry.name);
      if (entry.isDirectory()) return entry.name === "node_modules" || fresh(rel);
      if (!entry.name.endsWith(".ts") || entry.name.endsWith(".d.ts")) return true;
      const out = path.join(ROOT, "dist", rel.replace(/\.ts$/, ".js"));
      return fs.existsSync(out) && fs.statSync(out).mtimeMs >= fs.statSync(path.join(ROOT, rel)).mtimeMs;
    });
  return ["src", "tools", "test"].every(fresh);
}

function build(): void {
  // `npm test` has just built dist/, and other test files run hosts from it in parallel: rewriting it under
  // them could let one read a half-written file. So tsc runs only when some source is newer than its output.
  if (distIsFresh()) return;
  // Like `npm run build`; other work in progress may have type errors elsewhere, tsc still emits.
  const tsc = spawnSync(process.execPath, [path.join(ROOT, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.json"], {
    cwd: ROOT,
    encoding: "utf8",
  });
  const needed = ["dist/src/telemetry.js", "dist/src/functions/callRecipient.js", "dist/tools/local-host/cli.js"].map((f) =>
    path.join(ROOT, f),
  );
  const fresh =
    needed.every((f) => fs.existsSync(f)) && fs.statSync(needed[0]).mtimeMs >= fs.statSync(path.join(ROOT, "src/telemetry.ts")).mtimeMs;
  if (!fresh) throw new Error(`build failed:\n${tsc.stdout}\n${tsc.stderr}`);
  if (tsc.status !== 0) console.warn(`tsc reported errors (output still emitted):\n${tsc.stdout.slice(0, 2000)}`);
}

function makeCert(dir: string): { key: Buffer; cert: Buffer; certFile: string } {
  const which = spawnSync("sh", ["-c", "command -v openssl"], { encoding: "utf8" });
  if (which.status !== 0) throw new Error("the openssl CLI is needed to make the sink's certificate");
  const keyFile = path.join(dir, "key.pem");
  const certFile = path.join(dir, "cert.pem");
  const r = spawnSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      keyFile,
      "-out",
      certFile,
      "-days",
      "1",
      "-subj",
      "/CN=127.0.0.1",
      "-addext",
      "subjectAltName=IP:127.0.0.1",
    ],
    { encoding: "utf8" },
  );
  if (r.status !== 0) throw new Error(`openssl failed: ${r.stderr}`);
  return { key: fs.readFileSync(keyFile), cert: fs.readFileSync(certFile), certFile };
}

function startHost(s: Servers, certFile: string): Promise<string> {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env))
    if (!/^(APPLICATIONINSIGHTS_|APPINSIGHTS_|APPLICATION_INSIGHTS_|OTEL_)/i.test(k)) env[k] = v;
  Object.assign(env, {
    APPLICATIONINSIGHTS_CONNECTION_STRING: `InstrumentationKey=${IKEY};IngestionEndpoint=https://127.0.0.1:${s.sinkPort}/`,
    NODE_EXTRA_CA_CERTS: certFile,
    // The SDK's own side channels: off, and should any remain, sent to a loopback trap.
    APPLICATION_INSIGHTS_NO_STATSBEAT: "true",
    APPLICATIONINSIGHTS_STATSBEAT_DISABLED: "true",
    APPLICATIONINSIGHTS_SDKSTATS_DISABLED: "true",
    HTTP_PROXY: `http://127.0.0.1:${s.trapPort}`,
    HTTPS_PROXY: `http://127.0.0.1:${s.trapPort}`,
    http_proxy: `http://127.0.0.1:${s.trapPort}`,
    https_proxy: `http://127.0.0.1:${s.trapPort}`,
    NO_PROXY: "127.0.0.1,localhost,::1",
    no_proxy: "127.0.0.1,localhost,::1",
    LOOPBACK_GUARD_LOG: s.guardLog,
    RECIPIENT_URL_ALLOWLIST: "http://127.0.0.1:*",
  });
  const child = spawn(
    process.execPath,
    [
      "-r",
      path.join(__dirname, "loopback-guard.cjs"),
      path.join(ROOT, "dist/tools/local-host/cli.js"),
      "--port",
      "0",
      "--data-dir",
      path.join(s.tmp, "data"),
    ],
    { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] },
  );
  s.host = child;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`local host did not start:\n${s.hostOutput}`)), 30000);
    const onData = (d: Buffer) => {
      s.hostOutput += d.toString();
      const m = /Host started on http:\/\/localhost:(\d+)/.exec(s.hostOutput);
      if (m) {
        clearTimeout(timer);
        resolve(`http://127.0.0.1:${m[1]}`);
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`local host exited (${code}):\n${s.hostOutput}`));
    });
  });
}

async function stopHost(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  let timer: NodeJS.Timeout | undefined;
  const killed = await Promise.race([exited.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), 10000)))]);
  clearTimeout(timer);
  if (!killed) {
    child.kill("SIGKILL");
    await exited;
  }
}

async function json(url: string, init?: RequestInit): Promise<{ status: number; body: any }> {
  const res = await fetch(url, init);
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

describe("telemetry end to end (local host → HTTPS sink on 127.0.0.1)", () => {
  const s = { envelopes: [], sinkPaths: [], trapped: [], recipientCalls: 0, hostOutput: "" } as unknown as Servers;

  beforeAll(async () => {
    s.tmp = fs.mkdtempSync(path.join(os.tmpdir(), "sg-telemetry-"));
    s.guardLog = path.join(s.tmp, "guard.log");
    build();
    const tls = makeCert(s.tmp);

    // eslint-disable-next-line @typescript-eslint/no-misused-promises -- a test server: a rejection fails the run
    s.sink = https.createServer({ key: tls.key, cert: tls.cert }, async (req, res) => {
      const raw = await readBody(req);
      s.sinkPaths.push(`${req.method} ${req.url}`);
      let items: Envelope[] = [];
      try {
        items = parseEnvelopes(raw, req.headers["content-encoding"]);
      } catch (error) {
        s.sinkPaths.push(`unparseable: ${(error as Error).message}`);
      }
      s.envelopes.push(...items);
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ itemsReceived: items.length, itemsAccepted: items.length, errors: [] }));
    });
    s.sinkPort = await listen(s.sink);

    s.trap = http.createServer((req, res) => {
      s.trapped.push(`${req.method} ${req.url}`);
      res.writeHead(403).end();
    });
    s.trap.on("connect", (req, socket) => {
      s.trapped.push(`CONNECT ${req.url}`);
      socket.end("HTTP/1.1 403 Forbidden\r\n\r\n");
    });
    s.trapPort = await listen(s.trap);

    // eslint-disable-next-line @typescript-eslint/no-misused-promises -- a test server: a rejection fails the run
    s.recipient = http.createServer(async (req, res) => {
      await readBody(req);
      s.recipientCalls++;
      await sleep(15);
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ price: 41 }));
    });
    s.recipientPort = await listen(s.recipient);

    s.hostUrl = await startHost(s, tls.certFile);
  }, 120000);

  afterAll(async () => {
    await stopHost(s.host);
    await Promise.all([close(s.sink), close(s.trap), close(s.recipient)]);
    if (s.tmp) fs.rmSync(s.tmp, { recursive: true, force: true });
  }, 30000);

  test("one ScatterGatherCompleted event, both metrics and one dependency per recipient call reach the sink", async () => {
    const id = `telemetry-${Date.now().toString(36)}`;
    const started = await json(`${s.hostUrl}/api/scatter-gather`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        id,
        request: { item: "widget" },
        recipients: [
          { id: "acme", url: `http://127.0.0.1:${s.recipientPort}/quote`, timeoutMs: 5000 },
          { id: "sim-1", simulate: { latencyMs: 30, failureRate: 0, value: { price: 42 } } },
          { id: "sim-2", simulate: { latencyMs: 10, failureRate: 0, value: { price: 40 } } },
          { id: "sim-fail", simulate: { latencyMs: 0, failureRate: 1, value: null } },
        ],
        completion: { mode: "all" },
        aggregate: { kind: "best", field: "price", order: "min" },
      }),
    });
    expect(started.status).toBe(202);

    let status: any;
    const deadline = Date.now() + 30000;
    for (;;) {
      status = (await json(`${s.hostUrl}/api/scatter-gather/${id}`)).body;
      if (status?.runtimeStatus === "Completed" || status?.runtimeStatus === "Failed" || Date.now() > deadline) break;
      await sleep(100);
    }
    expect(status.runtimeStatus).toBe("Completed");
    const result = status.result;
    expect(result).toMatchObject({
      outcome: "complete",
      closedBy: "all-responded",
      counts: { total: 4, succeeded: 3, failed: 1, timedOut: 0, abandoned: 0 },
    });
    expect(s.recipientCalls).toBe(1);

    const mine = () => s.envelopes.filter((e) => e.data?.baseData?.properties?.instanceId === id);
    const named = (baseType: string, name?: string) =>
      mine().filter(
        (e) =>
          e.data.baseType === baseType &&
          (name === undefined || (e.data.baseData.name ?? (e.data.baseData.metrics as any)?.[0]?.name) === name),
      );
    const complete = () =>
      named("EventData", "ScatterGatherCompleted").length > 0 &&
      named("MetricData", "ScatterGather.Recipients").length > 0 &&
      named("MetricData", "ScatterGather.AnswerLatencyMs").length > 0 &&
      named("RemoteDependencyData").length >= 4;
    const waitUntil = Date.now() + 20000;
    while (!complete() && Date.now() < waitUntil) await sleep(200);
    await sleep(1500); // anything emitted twice would arrive by now
    const diagnostics = `sink saw ${s.envelopes.length} envelopes on ${JSON.stringify(s.sinkPaths)}\n${JSON.stringify(mine(), null, 1).slice(0, 4000)}\nhost output:\n${s.hostOutput.slice(-3000)}`;
    if (!complete()) throw new Error(`telemetry did not arrive:\n${diagnostics}`);

    // Transport: every request on the track path, every envelope for our instrumentation key.
    expect(s.sinkPaths.every((p) => p === "POST /v2.1/track")).toBe(true);
    expect(s.envelopes.every((e) => e.iKey === IKEY)).toBe(true);

    // The event: exactly one, with the gather's properties and measurements.
    const events = named("EventData", "ScatterGatherCompleted");
    expect(events).toHaveLength(1);
    const event = events[0].data.baseData;
    expect(event.properties).toMatchObject({
      instanceId: id,
      mode: "all",
      outcome: "complete",
      closedBy: "all-responded",
      auction: "false",
    });
    const latencies = (result.responses as Array<{ status: string; durationMs?: number }>)
      .filter((r) => r.status === "succeeded")
      .map((r) => r.durationMs!);
    expect(latencies).toHaveLength(3);
    expect(event.measurements).toMatchObject({
      total: 4,
      succeeded: 3,
      failed: 1,
      timedOut: 0,
      abandoned: 0,
      durationMs: Date.parse(result.closedAt) - Date.parse(result.startedAt),
      answerLatencyCount: 3,
      answerLatencyMinMs: Math.min(...latencies),
      answerLatencyMaxMs: Math.max(...latencies),
    });

    // The metrics: one aggregated row each (histograms, delta temporality).
    const [recipientsMetric] = named("MetricData", "ScatterGather.Recipients").map((e) => (e.data.baseData.metrics as any[])[0]);
    expect(recipientsMetric).toMatchObject({ name: "ScatterGather.Recipients", value: 4, count: 1 });
    const latencyRows = named("MetricData", "ScatterGather.AnswerLatencyMs").map((e) => (e.data.baseData.metrics as any[])[0]);
    expect(latencyRows).toHaveLength(1);
    expect(latencyRows[0]).toMatchObject({
      count: 3,
      value: latencies.reduce((a, b) => a + b, 0),
      min: Math.min(...latencies),
      max: Math.max(...latencies),
    });

    // The dependencies: one per recipient call, HTTP for the URL recipient, Simulated for the others.
    const deps = named("RemoteDependencyData");
    expect(deps.map((d) => d.data.baseData.properties!.recipientId).sort()).toEqual(["acme", "sim-1", "sim-2", "sim-fail"]);
    const dep = (rid: string) => deps.find((d) => d.data.baseData.properties!.recipientId === rid)!.data.baseData;
    expect(dep("acme")).toMatchObject({ type: "Http", name: "POST /quote", target: `http://127.0.0.1:${s.recipientPort}`, success: true });
    expect(dep("acme").properties).toMatchObject({ instanceId: id, InvocationId: expect.any(String) });
    expect(dep("sim-1")).toMatchObject({ type: "Simulated", target: "simulated", success: true });
    expect(dep("sim-fail")).toMatchObject({ type: "Simulated", success: false });
    expect(dep("sim-fail").properties!.error).toMatch(/simulated failure/);

    // Nothing tried to leave loopback.
    const blocked = fs.existsSync(s.guardLog) ? fs.readFileSync(s.guardLog, "utf8") : "";
    expect(blocked).toBe("");
    if (s.trapped.length > 0) console.log(`SDK side-channel requests caught by the loopback proxy trap: ${s.trapped.join(", ")}`);
  }, 90000);
});
