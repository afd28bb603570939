/**
 * End-to-end harness: the suite talks HTTP to a Functions host.
 *
 * - `BASE_URL` set (e.g. `BASE_URL=http://localhost:7071 npm run test:e2e` against `func start`): that host.
 * - Otherwise: the project's local host, started from the BUILT files (`dist/tools/local-host/cli.js`,
 *   built by `npm test` / `npm run test:e2e`) as a CHILD PROCESS (it cannot run inside jest's module
 *   registry, see tools/local-host/README.md) on a free loopback port with a temporary data dir, in its
 *   key-enforcing mode (`--require-keys`): every route but the anonymous ones needs a key, as in Azure, so a
 *   URL a stranger must call without one (an answer URL) fails here if it would fail there.
 *
 * Keys: `keyedFetch` (and so `request`, `postJson`, ...) adds the right key to calls on the target, like an
 * operator would: the function key for `/api/...`, the master key for `/admin/...` and for webhook URLs built
 * by hand; URLs that carry their own `code=` (the management URLs) go as they are. `postAnonymous` sends
 * none, as a bidder would. Against BASE_URL, set E2E_FUNCTION_KEY / E2E_MASTER_KEY when that host wants keys.
 *
 * Also: scriptable recipient servers (node:http on 127.0.0.1, port 0). Nothing here talks to anything
 * but 127.0.0.1 / localhost.
 */
import * as fs from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { spawnHost, type HostProcess } from "../../tools/local-host/test/harness";

export type AnyJson = any;

/** The project root, from the sources (ts-jest) or from their build in dist/ (the bench). */
export const repoRoot = [path.resolve(__dirname, "../.."), path.resolve(__dirname, "../../..")].find((dir) =>
  fs.existsSync(path.join(dir, "package.json")),
)!;
export const cliPath = path.join(repoRoot, "dist", "tools", "local-host", "cli.js");
export const externalBaseUrl = process.env.BASE_URL?.replace(/\/+$/, "") || undefined;
/** True when the suite starts its own local host (false under BASE_URL). */
export const ownsHost = externalBaseUrl === undefined;

/** The keys of the host under test (none: it enforces no keys). */
export interface Keys {
  function?: string;
  master?: string;
}
/** The keys of each host the suite talks to, by origin. */
const keysByOrigin = new Map<string, Keys>();
if (externalBaseUrl)
  keysByOrigin.set(new URL(externalBaseUrl).origin, { function: process.env.E2E_FUNCTION_KEY, master: process.env.E2E_MASTER_KEY });

/** The keys of the host at `url` (none when it enforces none). */
export function keysFor(url: string): Keys {
  return keysByOrigin.get(new URL(url).origin) ?? {};
}

/** fetch, with the key an operator would send to a host of the suite (see the header); other origins get none. */
export function keyedFetch(url: string, init: RequestInit = {}): Promise<Response> {
  const parsed = new URL(url);
  const headers = new Headers(init.headers);
  const ownsCode = [...parsed.searchParams.keys()].some((name) => name.toLowerCase() === "code");
  const keys = keysFor(url);
  if (!ownsCode && !headers.has("x-functions-key")) {
    const key = parsed.pathname.startsWith("/api/") ? keys.function : keys.master;
    if (key) headers.set("x-functions-key", key);
  }
  return fetch(url, { ...init, headers });
}

export const TERMINAL = new Set(["Completed", "Failed", "Terminated", "Canceled"]);
const ALLOWLIST = "http://127.0.0.1:*,http://localhost:*";

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A unique instance id for this run (ids are reused across runs against a long-lived BASE_URL host). */
export function uniqueId(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

// ------------------------------------------------------------------------------------------ host process

export type { HostProcess } from "../../tools/local-host/test/harness";

export { freePort } from "../../tools/local-host/test/harness";

export function tempDataDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "sg-e2e-data-"));
}

/**
 * Starts `node dist/tools/local-host/cli.js` from the project root (the local host's own launcher,
 * tools/local-host/test/harness.ts). `port` 0 (default) lets the host pick a free port (the printed URL
 * is parsed); give a port to restart on the same one.
 */
export async function startHostProcess(
  opts: { dataDir?: string; port?: number; env?: Record<string, string>; requireKeys?: boolean } = {},
): Promise<HostProcess> {
  if (!fs.existsSync(cliPath)) {
    throw new Error(
      `${path.relative(repoRoot, cliPath)} is missing: the e2e suite runs the BUILT local host. ` +
        "Run `npm run build` first (or `npm run test:e2e`, which builds), or set BASE_URL to test a running host.",
    );
  }
  const env = { RECIPIENT_URL_ALLOWLIST: ALLOWLIST, ...(opts.env ?? {}) };
  const requireKeys = opts.requireKeys ?? true;
  const host = await spawnHost({ cliPath, appDir: repoRoot, dataDir: opts.dataDir ?? tempDataDir(), port: opts.port, env, requireKeys });
  // The suite's calls to this host carry its keys (it answers on 127.0.0.1 and, in its own URLs, localhost).
  const hostKeys = requireKeys ? { function: host.keys!.function, master: host.keys!.master } : {};
  for (const name of ["127.0.0.1", "localhost"]) keysByOrigin.set(`http://${name}:${host.port}`, hostKeys);
  try {
    await waitForRunning(host.url);
  } catch (error) {
    await host.stop("SIGTERM", 1000);
    throw error;
  }
  return host;
}

/**
 * A host of its own for one test (other app settings than the file's host): started, handed to `use`,
 * stopped whatever happens, and its data directory removed unless the caller gave one.
 */
export async function withHost<T>(opts: Parameters<typeof startHostProcess>[0], use: (host: HostProcess) => Promise<T>): Promise<T> {
  const host = await startHostProcess(opts);
  try {
    return await use(host);
  } finally {
    await host.stop();
    if (!opts?.dataDir) fs.rmSync(host.dataDir, { recursive: true, force: true });
  }
}

export async function waitForRunning(baseUrl: string, timeoutMs = 30_000): Promise<void> {
  const t0 = Date.now();
  let last: string;
  for (;;) {
    try {
      const res = await keyedFetch(`${baseUrl}/admin/host/status`);
      const text = await res.text();
      last = `${res.status} ${text}`;
      if (res.ok && JSON.parse(text).state === "Running") return;
    } catch (error) {
      last = String((error as Error).message);
    }
    if (Date.now() - t0 > timeoutMs) throw new Error(`${baseUrl}/admin/host/status never answered {state:"Running"}: last ${last}`);
    await sleep(100);
  }
}

// ------------------------------------------------------------------------------------------ the target

export interface Target {
  /** Base URL of the Functions host (no trailing slash). */
  baseUrl: string;
  /** Our own local host, when the suite started one. */
  host?: HostProcess;
}

/**
 * Registers beforeAll/afterAll for one test file: one host per file (or BASE_URL), stopped after.
 * Also stops every recipient server the file created.
 */
export function useTarget(env: Record<string, string> = {}): Target {
  const target: Target = { baseUrl: externalBaseUrl ?? "" };
  beforeAll(async () => {
    if (externalBaseUrl) {
      await waitForRunning(externalBaseUrl);
      return;
    }
    target.host = await startHostProcess({ env });
    target.baseUrl = target.host.url;
  }, 60_000);
  afterAll(async () => {
    await closeAllServers();
    if (target.host) {
      await target.host.stop();
      fs.rmSync(target.host.dataDir, { recursive: true, force: true });
    }
  }, 30_000);
  return target;
}

// ------------------------------------------------------------------------------------------ HTTP helpers

export interface HttpAnswer {
  status: number;
  body: AnyJson;
  text: string;
  headers: Headers;
}

async function answer(res: Response): Promise<HttpAnswer> {
  const text = await res.text();
  let body: AnyJson;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  return { status: res.status, body, text, headers: res.headers };
}

export async function request(url: string, init: RequestInit = {}): Promise<HttpAnswer> {
  return answer(await keyedFetch(url, init));
}

/** A POST with no key at all, as a stranger (a bidder holding only its respondUrl) makes it. */
export async function postAnonymous(url: string, body: unknown): Promise<HttpAnswer> {
  return answer(await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) }));
}

export function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<HttpAnswer> {
  return request(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });
}

export function gatherUrl(target: Target, id?: string): string {
  return `${target.baseUrl}/api/scatter-gather${id === undefined ? "" : `/${encodeURIComponent(id)}`}`;
}

/** POST /api/scatter-gather. */
export function startGather(target: Target, body: unknown): Promise<HttpAnswer> {
  return postJson(gatherUrl(target), body);
}

/** Starts a gather and insists on 202; returns the instance id and the 202 body. */
export async function startOk(target: Target, body: unknown): Promise<{ id: string; body: AnyJson; headers: Headers }> {
  const res = await startGather(target, body);
  if (res.status !== 202) throw new Error(`expected 202 from POST /api/scatter-gather, got ${res.status}: ${res.text}`);
  return { id: res.body.id, body: res.body, headers: res.headers };
}

/** The id from an instance id or a statusQueryGetUri. */
function instanceIdOf(idOrUri: string): string {
  if (!/^https?:\/\//.test(idOrUri)) return idOrUri;
  const m = /\/instances\/([^/?]+)/.exec(new URL(idOrUri).pathname);
  if (!m) throw new Error(`not a status URL: ${idOrUri}`);
  return decodeURIComponent(m[1]);
}

/** GET /api/scatter-gather/{id}. */
export function getGather(target: Target, id: string): Promise<HttpAnswer> {
  return request(gatherUrl(target, id));
}

/**
 * Polls the friendly GET /api/scatter-gather/{id} until runtimeStatus is terminal; returns its body.
 * Accepts an instance id or a statusQueryGetUri.
 */
export async function pollUntilDone(target: Target, idOrUri: string, timeoutMs = 20_000, intervalMs = 100): Promise<AnyJson> {
  return pollUntil(target, idOrUri, (b) => TERMINAL.has(b?.runtimeStatus), timeoutMs, intervalMs);
}

/** Polls GET /api/scatter-gather/{id} until `done(body)`. */
export async function pollUntil(
  target: Target,
  idOrUri: string,
  done: (body: AnyJson) => boolean,
  timeoutMs = 20_000,
  intervalMs = 100,
): Promise<AnyJson> {
  const id = instanceIdOf(idOrUri);
  const t0 = Date.now();
  let last: HttpAnswer | undefined;
  for (;;) {
    last = await getGather(target, id);
    if (last.status === 200 && done(last.body)) return last.body;
    if (Date.now() - t0 > timeoutMs)
      throw new Error(`timed out after ${timeoutMs} ms polling ${id}: last ${last.status} ${last.text.slice(0, 2000)}`);
    await sleep(intervalMs);
  }
}

/** Starts a gather and waits for it; returns the friendly status body (with `result`). */
export async function runGather(target: Target, body: unknown, timeoutMs = 20_000): Promise<AnyJson> {
  const { id } = await startOk(target, body);
  return pollUntilDone(target, id, timeoutMs);
}

/** Every instance id the Durable HTTP API lists (following continuation tokens). */
export async function listInstanceIds(target: Target, query = ""): Promise<string[]> {
  const ids: string[] = [];
  let token: string | undefined;
  for (let page = 0; page < 1000; page++) {
    const res = await keyedFetch(`${target.baseUrl}/runtime/webhooks/durabletask/instances?top=1000${query}`, {
      headers: token ? { "x-ms-continuation-token": token } : {},
    });
    if (res.status !== 200) throw new Error(`GET instances answered ${res.status}: ${await res.text()}`);
    const list = (await res.json()) as Array<{ instanceId: string }>;
    ids.push(...list.map((i) => i.instanceId));
    token = res.headers.get("x-ms-continuation-token") ?? undefined;
    if (!token || token === "null" || list.length === 0) break;
  }
  return ids.sort();
}

// ------------------------------------------------------------------------------------------ recipient servers

export interface ReceivedCall {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: AnyJson;
  raw: string;
}

/** What a scripted handler does with one call: answer JSON / raw text, or hang until the server closes. */
export type Reply =
  | { status?: number; json?: unknown; text?: string; headers?: Record<string, string>; delayMs?: number; chunked?: boolean }
  | { hang: true };

export type Handler = (call: ReceivedCall, n: number) => Reply | Promise<Reply>;

export interface RecipientServer {
  /** http://127.0.0.1:<port> */
  url: string;
  port: number;
  /** Calls received, in arrival order (counted when the request body has been read). */
  calls: ReceivedCall[];
  readonly count: number;
  /** Replaces the handler (default: 200 {ok:true}). */
  handle(handler: Handler): void;
  /** Resolves once `n` calls arrived. */
  waitForCalls(n: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

const servers = new Set<RecipientServer>();

export async function recipientServer(handler?: Handler): Promise<RecipientServer> {
  let current: Handler = handler ?? (() => ({ json: { ok: true } }));
  const calls: ReceivedCall[] = [];
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const raw = Buffer.concat(chunks).toString("utf8");
      let body: AnyJson;
      try {
        body = raw ? JSON.parse(raw) : undefined;
      } catch {
        body = undefined;
      }
      const call: ReceivedCall = { method: req.method ?? "", url: req.url ?? "", headers: req.headers, body, raw };
      calls.push(call);
      for (const w of [...waiters]) {
        if (calls.length >= w.n) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve();
        }
      }
      void (async () => {
        const reply = await current(call, calls.length);
        if ("hang" in reply) return; // never answered; closed with the server
        if (reply.delayMs) await sleep(reply.delayMs);
        if (res.destroyed) return;
        const text = reply.text ?? (reply.json === undefined ? "" : JSON.stringify(reply.json));
        const headers: Record<string, string> = { "content-type": "application/json", ...(reply.headers ?? {}) };
        if (!reply.chunked) headers["content-length"] = String(Buffer.byteLength(text));
        res.writeHead(reply.status ?? 200, headers);
        if (reply.chunked) {
          // Several writes without a content length: the reader must cap the stream itself.
          const step = 16 * 1024;
          for (let i = 0; i < text.length && !res.destroyed; i += step) res.write(text.slice(i, i + step));
          res.end();
        } else res.end(text);
      })().catch(() => res.destroy());
    });
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve((server.address() as net.AddressInfo).port));
  });
  const rs: RecipientServer = {
    url: `http://127.0.0.1:${port}`,
    port,
    calls,
    get count() {
      return calls.length;
    },
    handle(h) {
      current = h;
    },
    waitForCalls(n, timeoutMs = 15_000) {
      if (calls.length >= n) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`recipient server ${port}: ${calls.length} calls, expected ${n}`)), timeoutMs);
        waiters.push({ n, resolve: () => (clearTimeout(timer), resolve()) });
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        servers.delete(rs);
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
  servers.add(rs);
  return rs;
}

export async function closeAllServers(): Promise<void> {
  await Promise.all([...servers].map((s) => s.close()));
}

/** Milliseconds between two ISO timestamps. */
export function msBetween(fromIso: string, toIso: string): number {
  return Date.parse(toIso) - Date.parse(fromIso);
}
