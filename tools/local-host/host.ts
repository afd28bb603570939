/**
 * The local host: settings, the worker stand-in, the HTTP front (HTTP triggers under the route prefix,
 * /admin/host/status, the Durable webhooks) and the durable engine's local RPC endpoint, wired together.
 * `startLocalHost` is the programmatic entry point; cli.ts wraps it for `npm start`.
 */
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import { randomUUID } from "node:crypto";
import type { AddressInfo } from "node:net";
import { DEFAULT_MAX_REQUEST_BODY, readBodyWithin, requestBodyLimit, tooLarge } from "./body-limit";
import { createEngine } from "./engine";
import { DEFAULT_MAX_PAYLOAD_BYTES } from "./engine/payload-limit";
import type { DurableEngine } from "./engine/types";
import { DurableHttpApi, jsonResponse, type ApiRequest, type ApiResponse } from "./durable-api";
import { extractOutOfProcState, unknownFunctionMessage } from "./engine/host-messages";
import { refuseUnsupportedOutputs, unsupportedOutputsBanner } from "./output-bindings";
import { openPayloadStore, type PayloadStore } from "./payload-store";
import { compareRoutes, compileRoute, matchRoute, normalizeTemplate, type CompiledRoute } from "./routes";
import { applySettings, readHostJson, readLocalSettings, type HostJson } from "./settings";
import {
  WorkerApp,
  fromTypedData,
  hostTypedData,
  type LogEntry,
  type RegisteredFunction,
  type RpcHttpCookie,
  type RpcHttpData,
  type RpcInvocationResponse,
  type RpcParameterBinding,
  type RpcTypedData,
} from "./worker";

export interface LocalHostOptions {
  /** The function app directory (its package.json `main` names the entry files). Default: cwd. */
  appDir?: string;
  /** Port for the HTTP front; 0 picks a free port. Default 7071. */
  port?: number;
  /**
   * Port of the durable client's local RPC listener (127.0.0.1). Default: the extension's LocalHttpListener
   * choice (17071, else a random port in 30000-31000; any free port when `port` is 0). 0 = any free port.
   */
  rpcPort?: number;
  /** Largest durable payload in UTF-8 bytes (engine/payload-limit.ts). Default 1048576 (Durable Task Scheduler); 0 = none. */
  maxPayloadBytes?: number;
  /** Durable store directory. Default `<appDir>/.local-host-data`. Azurite's data goes to `<dataDir>/azurite`. */
  dataDir?: string;
  /**
   * Start the payload store (an Azurite blob service) when `AzureWebJobsStorage` names no account (unset, empty,
   * `UseDevelopmentStorage=true`). Default true; false = --no-azurite.
   */
  azurite?: boolean;
  /** Azurite's loopback port. Default 0 = any free port. */
  azuritePort?: number;
  /** Extra environment for the app; like real environment variables, it wins over local.settings.json. */
  env?: Record<string, string>;
  /** Where host and function log lines go. Default: console. */
  log?: (line: string) => void;
  /** Print system debug lines too. */
  verbose?: boolean;
}

export interface LocalHost {
  url: string;
  port: number;
  rpcBaseUrl: string;
  functions: FunctionInfo[];
  stop(): Promise<void>;
}

export interface FunctionInfo {
  name: string;
  triggerType: string;
  /** HTTP triggers only. */
  route?: string;
  methods?: string[];
  url?: string;
}

const ALL_METHODS = ["GET", "POST", "DELETE", "HEAD", "PATCH", "PUT", "OPTIONS", "TRACE"];
const WEBHOOK_PATH = "/runtime/webhooks/durabletask";
const RPC_PATH = "/durabletask/";

interface HttpRoute {
  fn: RegisteredFunction;
  route: CompiledRoute;
  methods?: Set<string>;
}

export async function startLocalHost(options: LocalHostOptions = {}): Promise<LocalHost> {
  const appDir = path.resolve(options.appDir ?? process.cwd());
  const requestedPort = options.port ?? 7071;
  const dataDir = path.resolve(options.dataDir ?? path.join(appDir, ".local-host-data"));
  const out = options.log ?? ((line: string) => console.log(line));
  const verbose = options.verbose ?? false;
  const maxPayloadBytes = options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
  const started = Date.now();

  for (const [k, v] of Object.entries(options.env ?? {})) process.env[k] = v;

  let ready = false;
  let stopping = false;
  let api: DurableHttpApi | undefined;
  let engine: DurableEngine | undefined;
  let app: WorkerApp | undefined;
  let payloadStore: PayloadStore | undefined;
  let hostJson: HostJson | undefined;
  let httpRoutes: HttpRoute[] = [];
  let bodyLimit = DEFAULT_MAX_REQUEST_BODY;

  // ---- listeners first: the port (maybe chosen by the OS) is part of the app's settings ----
  const main = http.createServer((req, res) => void onMainRequest(req, res));
  const port = await listen(main, requestedPort, "127.0.0.1");
  const mainV6 = http.createServer((req, res) => void onMainRequest(req, res));
  const v6ok = await listen(mainV6, port, "::1").then(
    () => true,
    () => false,
  );
  const rpc = http.createServer((req, res) => void onRpcRequest(req, res));
  const rpcPort = await listenRpc(rpc, options.rpcPort, requestedPort === 0);
  const baseUrl = `http://localhost:${port}`;
  const rpcBaseUrl = `http://127.0.0.1:${rpcPort}${RPC_PATH}`;

  const closeListeners = async () => {
    await Promise.all([closeServer(main), v6ok ? closeServer(mainV6) : Promise.resolve(), closeServer(rpc)]);
  };

  try {
    // ---- settings (Core Tools: local.settings.json Values + WEBSITE_HOSTNAME, real env wins) ----
    const settings = {
      ...readLocalSettings(appDir),
      WEBSITE_HOSTNAME: `localhost:${port}`,
      AzureWebJobsScriptRoot: appDir,
      AZURE_FUNCTIONS_ENVIRONMENT: "Development",
    };
    for (const msg of applySettings(settings, process.env)) out(msg);
    keepLoopbackOffProxies(process.env);
    bodyLimit = requestBodyLimit(process.env);
    if (process.env.FUNCTIONS_WORKER_RUNTIME && process.env.FUNCTIONS_WORKER_RUNTIME !== "node") {
      out(`Warning: FUNCTIONS_WORKER_RUNTIME is '${process.env.FUNCTIONS_WORKER_RUNTIME}'; this local host runs Node.js apps only.`);
    }
    hostJson = readHostJson(appDir, process.env);
    const hj = hostJson;

    // ---- the payload store (Azurite) before the app loads: the app reads AzureWebJobsStorage ----
    const payload = await openPayloadStore({ env: process.env, dataDir, appDir, enabled: options.azurite ?? true, port: options.azuritePort, log: out });
    payloadStore = payload.store;

    // ---- the worker stand-in loads the app ----
    app = new WorkerApp({ appDir, log: (e) => printLog(e) });
    await app.load();
    const fns = [...app.functions.values()];

    httpRoutes = fns
      .filter((f) => f.triggerType.toLowerCase() === "httptrigger")
      .map((fn) => {
        const b = fn.bindings[fn.triggerName];
        const template = typeof b.route === "string" && b.route !== "" ? b.route : fn.name;
        const methods = Array.isArray(b.methods) && b.methods.length > 0 ? new Set(b.methods.map((m) => String(m).toUpperCase())) : undefined;
        return { fn, route: compileRoute(template), methods };
      })
      .sort((a, b) => compareRoutes(a.route, b.route));

    const byType = (t: string) => new Set(fns.filter((f) => f.triggerType.toLowerCase() === t.toLowerCase()).map((f) => f.name));
    const orchestrators = byType("orchestrationTrigger");
    const activities = byType("activityTrigger");
    const entities = byType("entityTrigger");

    // ---- the durable engine and its HTTP API ----
    engine = createEngine({
      dataDir,
      taskHubName: hj.hubName,
      invokeOrchestrator: (name, payload) => invokeOrchestrator(name, payload),
      invokeActivity: (name, input, meta) => invokeActivity(name, input, meta),
      orchestrators,
      activities,
      maxConcurrentActivities: hj.maxConcurrentActivityFunctions,
      maxConcurrentOrchestrations: hj.maxConcurrentOrchestratorFunctions,
      maxPayloadBytes,
      log: (level, message) => {
        if (level === "info" && !verbose) return;
        out(`[${new Date().toISOString()}] ${level === "info" ? "" : level === "warn" ? "Warning: " : "Error: "}${message}`);
      },
    });
    api = new DurableHttpApi({
      engine,
      hubName: hj.hubName,
      connectionName: hj.connectionName,
      orchestrators: () => orchestrators,
      entities: () => entities,
      webhookUri: () => new URL(`${baseUrl}${WEBHOOK_PATH}`),
      rpcBaseUrl: () => rpcBaseUrl,
    });
    await engine.start();
    if (entities.size > 0) {
      out(`Warning: entity functions (${[...entities].join(", ")}) are registered but this local host does not run durable entities.`);
    }

    ready = true;
    const functions = describeFunctions(fns, hj, baseUrl);
    out("");
    out("This is the project's local host (tools/local-host), NOT the Azure Functions host: it emulates `func start` for this app.");
    out(`Durable task hub '${hj.hubName}', store ${dataDir}, local RPC endpoint ${rpcBaseUrl}`);
    out(payload.banner);
    out(maxPayloadBytes > 0 ? `Durable payloads over ${maxPayloadBytes} bytes (UTF-8) are refused (--max-payload-bytes; 0 = none).` : "Durable payload size limit: none (--max-payload-bytes 0).");
    out("");
    out("Functions:");
    out("");
    for (const f of functions) {
      out(f.url ? `\t${f.name}: [${(f.methods ?? ALL_METHODS).join(",")}] ${f.url}` : `\t${f.name}: ${f.triggerType}`);
      out("");
    }
    const outputsWarning = unsupportedOutputsBanner(fns);
    if (outputsWarning) out(outputsWarning);
    out(`Host started on ${baseUrl} (also http://127.0.0.1:${port}).`);

    let stopped: Promise<void> | undefined;
    return {
      url: `http://127.0.0.1:${port}`,
      port,
      rpcBaseUrl,
      functions,
      stop: () => {
        stopped ??= (async () => {
          stopping = true;
          ready = false;
          await closeListeners();
          await engine?.stop();
          await app?.terminate();
          await payloadStore?.stop();
        })();
        return stopped;
      },
    };
  } catch (err) {
    await closeListeners();
    if (engine) await engine.stop().catch(() => undefined);
    if (app) await app.terminate().catch(() => undefined);
    if (payloadStore) await payloadStore.stop().catch(() => undefined);
    throw err;
  }

  // ---------------------------------------------------------------------------------------------

  function printLog(e: LogEntry): void {
    if (e.category === "system" && !verbose && (e.level === "debug" || e.level === "trace" || e.level === "information")) return;
    const who = e.functionName ? `[${e.functionName}] ` : "";
    const lvl = e.level === "warning" ? "Warning: " : e.level === "error" || e.level === "critical" ? "Error: " : "";
    out(`[${new Date().toISOString()}] ${who}${lvl}${e.message}`);
  }

  function findFunction(name: string, triggerType: string): RegisteredFunction {
    const fn = app?.functions.get(name);
    if (!fn || fn.triggerType.toLowerCase() !== triggerType.toLowerCase()) {
      throw new Error(unknownFunctionMessage(name, triggerType));
    }
    return fn;
  }

  /** Input data for a function's non-trigger input bindings (durableClient as BindingHelper serializes it). */
  function extraInputs(fn: RegisteredFunction): RpcParameterBinding[] {
    const inputs: RpcParameterBinding[] = [];
    for (const [name, b] of Object.entries(fn.bindings)) {
      if (name === fn.triggerName || b.direction !== "in") continue;
      const type = String(b.type ?? "").toLowerCase();
      if (type === "durableclient" || type === "orchestrationclient") {
        inputs.push({ name, data: { string: JSON.stringify(api!.clientBindingData(b as { taskHub?: unknown; connectionName?: unknown })) } });
      } else {
        throw new Error(`Function '${fn.name}': input binding '${name}' of type '${b.type}' is not supported by this local host.`);
      }
    }
    return inputs;
  }

  async function invokeLogged(fn: RegisteredFunction, reason: string, inputData: RpcParameterBinding[], triggerMetadata: Record<string, RpcTypedData>): Promise<RpcInvocationResponse> {
    const id = randomUUID();
    const t0 = Date.now();
    if (verbose) out(`[${new Date().toISOString()}] Executing 'Functions.${fn.name}' (Reason='${reason}', Id=${id})`);
    try {
      const r = await app!.invoke(fn.functionId, inputData, triggerMetadata, id);
      refuseUnsupportedOutputs(fn, r);
      out(`[${new Date().toISOString()}] Executed 'Functions.${fn.name}' (Succeeded, Id=${id}, Duration=${Date.now() - t0}ms)`);
      return r;
    } catch (err) {
      out(`[${new Date().toISOString()}] Executed 'Functions.${fn.name}' (Failed, Id=${id}, Duration=${Date.now() - t0}ms)`);
      throw err;
    }
  }

  async function invokeOrchestrator(name: string, payload: Record<string, unknown>): Promise<unknown> {
    const fn = findFunction(name, "orchestrationTrigger");
    const inputData = [{ name: fn.triggerName, data: { string: JSON.stringify(payload) } }, ...extraInputs(fn)];
    try {
      const r = await invokeLogged(fn, `(null)`, inputData, {});
      return fromTypedData(r.returnValue);
    } catch (err) {
      // As the host's OutOfProcOrchestrationShim does: a failure message may carry the orchestrator state.
      attachOutOfProcState(err);
      throw err;
    }
  }

  async function invokeActivity(name: string, input: unknown, meta: { instanceId: string; taskScheduledId: number }): Promise<unknown> {
    const fn = findFunction(name, "activityTrigger");
    const data = hostTypedData(input);
    const inputData: RpcParameterBinding[] = [{ name: fn.triggerName, data }, ...extraInputs(fn)];
    const triggerMetadata: Record<string, RpcTypedData> = { instanceId: { string: meta.instanceId } };
    if (data) triggerMetadata.data = data;
    const r = await invokeLogged(fn, `(null)`, inputData, triggerMetadata);
    return fromTypedData(r.returnValue);
  }

  // ---- HTTP front ----

  async function onMainRequest(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    try {
      const body = await readBodyWithin(req, bodyLimit);
      if (body === undefined) return tooLarge(req, res);
      const url = requestUrl(req);
      if (!ready) {
        return send(res, { status: 503, headers: {}, body: stopping ? "" : "Function host is not running." });
      }
      const p = url.pathname;
      if (p.toLowerCase() === "/admin/host/status" && (req.method === "GET" || req.method === "HEAD")) {
        return send(res, jsonResponse(200, hostStatus()));
      }
      if (p.toLowerCase() === WEBHOOK_PATH || p.toLowerCase().startsWith(WEBHOOK_PATH + "/")) {
        return send(res, await api!.handle(apiRequest(req, url, body), WEBHOOK_PATH));
      }
      return send(res, await handleHttpTrigger(req, url, body));
    } catch (err) {
      out(`[${new Date().toISOString()}] Error: ${(err as Error).stack ?? String(err)}`);
      if (!res.headersSent) send(res, { status: 500, headers: {} });
    }
  }

  async function onRpcRequest(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    try {
      const body = await readBodyWithin(req, bodyLimit);
      if (body === undefined) return tooLarge(req, res);
      const url = requestUrl(req);
      if (!ready || !api) return send(res, { status: 503, headers: {} });
      return send(res, await api.handle(apiRequest(req, url, body), RPC_PATH.replace(/\/$/, "")));
    } catch (err) {
      out(`[${new Date().toISOString()}] Warning: Unhandled exception in HTTP API handler: ${(err as Error).stack ?? String(err)}`);
      if (!res.headersSent) send(res, { status: 500, headers: {} });
    }
  }

  function hostStatus(): Record<string, unknown> {
    const status: Record<string, unknown> = {
      id: os.hostname().toLowerCase().slice(0, 32),
      state: "Running",
      computerName: os.hostname(),
      processUptime: Date.now() - started,
    };
    if (hostJson?.extensionBundle?.id) status.extensionBundle = { id: hostJson.extensionBundle.id, version: hostJson.extensionBundle.version };
    return status;
  }

  async function handleHttpTrigger(req: http.IncomingMessage, url: URL, body: Buffer): Promise<ApiResponse> {
    const prefix = hostJson!.routePrefix;
    let rest = url.pathname;
    if (prefix) {
      const lower = rest.toLowerCase();
      const p = "/" + prefix.toLowerCase();
      if (lower !== p && !lower.startsWith(p + "/")) return { status: 404, headers: {} };
      rest = rest.slice(p.length);
    }
    const segments = rest
      .split("/")
      .filter((s) => s !== "")
      .map((s) => {
        try {
          return decodeURIComponent(s);
        } catch {
          return s;
        }
      });
    const method = (req.method ?? "GET").toUpperCase();
    for (const r of httpRoutes) {
      if (r.methods && !r.methods.has(method)) continue;
      const params = matchRoute(r.route, segments);
      if (params) return invokeHttp(r.fn, req, url, body, params);
    }
    return { status: 404, headers: {} };
  }

  async function invokeHttp(fn: RegisteredFunction, req: http.IncomingMessage, url: URL, body: Buffer, params: Record<string, string>): Promise<ApiResponse> {
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) {
      if (v === undefined) continue;
      headers[k.toLowerCase()] = Array.isArray(v) ? v.join(", ") : v;
    }
    const query: Record<string, string> = {};
    for (const [k, v] of url.searchParams) query[k] = k in query ? `${query[k]},${v}` : v;
    const nullable = (m: Record<string, string>) => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, { value: v }]));
    const rpcHttp: RpcHttpData = {
      method: req.method ?? "GET",
      url: url.href,
      headers,
      nullableHeaders: nullable(headers),
      query,
      nullableQuery: nullable(query),
      params,
      nullableParams: nullable(params),
    };
    if (body.length > 0) {
      rpcHttp.body = { bytes: body };
      rpcHttp.rawBody = { bytes: body };
    }
    const triggerMetadata: Record<string, RpcTypedData> = {
      Query: { json: JSON.stringify(query) },
      Headers: { json: JSON.stringify(headers) },
    };
    for (const [k, v] of Object.entries(params)) triggerMetadata[k] = { string: v };
    const inputData: RpcParameterBinding[] = [{ name: fn.triggerName, data: { http: rpcHttp } }, ...extraInputs(fn)];

    let response: RpcInvocationResponse;
    try {
      response = await invokeLogged(fn, `This function was programmatically called via the host APIs.`, inputData, triggerMetadata);
    } catch (err) {
      const e = err as Error;
      out(`[${new Date().toISOString()}] [${fn.name}] Error: ${e?.stack ?? String(err)}`);
      return { status: 500, headers: {} };
    }
    const outName = Object.entries(fn.bindings).find(([, b]) => b.direction === "out" && String(b.type).toLowerCase() === "http")?.[0];
    let data: RpcTypedData | null | undefined;
    if (outName === "$return") data = response.returnValue;
    else if (outName) data = response.outputData?.find((o) => o.name === outName)?.data;
    return fromRpcHttpResponse(data);
  }
}

// ---------------------------------------------------------------------------------------------

function describeFunctions(fns: RegisteredFunction[], hj: HostJson, baseUrl: string): FunctionInfo[] {
  const httpFns: FunctionInfo[] = [];
  const others: FunctionInfo[] = [];
  for (const fn of fns) {
    if (fn.triggerType.toLowerCase() === "httptrigger") {
      const b = fn.bindings[fn.triggerName];
      const route = normalizeTemplate(typeof b.route === "string" && b.route !== "" ? b.route : fn.name);
      const methods = Array.isArray(b.methods) && b.methods.length > 0 ? b.methods.map((m) => String(m).toUpperCase()) : undefined;
      const full = [hj.routePrefix, route].filter((s) => s !== "").join("/");
      httpFns.push({ name: fn.name, triggerType: fn.triggerType, route, methods, url: `${baseUrl}/${full}` });
    } else {
      others.push({ name: fn.name, triggerType: fn.triggerType });
    }
  }
  return [...httpFns, ...others];
}

/** The orchestrator's failure message carries "\n\n$OutOfProcData$:<state JSON>" (durable-functions OrchestrationFailureError). */
function attachOutOfProcState(err: unknown): void {
  if (!(err instanceof Error) || (err as Error & { state?: unknown }).state !== undefined) return;
  const state = extractOutOfProcState(err.message);
  if (state !== undefined) (err as Error & { state?: unknown }).state = state;
}

function fromRpcHttpResponse(data: RpcTypedData | null | undefined): ApiResponse {
  const h = data?.http;
  if (!h) {
    if (data) {
      // A non-HTTP value bound to the HTTP output: the host writes it as the body.
      const v = fromTypedData(data);
      return { status: 200, headers: {}, body: typeof v === "string" ? v : JSON.stringify(v) };
    }
    return { status: 204, headers: {} };
  }
  const status = Number(h.statusCode ?? "200") || 200;
  const headers: Record<string, string | string[]> = { ...(h.headers ?? {}) };
  const cookies = (h.cookies ?? []).map(serializeCookie);
  if (cookies.length) headers["Set-Cookie"] = cookies;
  const b = h.body;
  let body: Buffer | string | undefined;
  if (b?.bytes) body = Buffer.from(b.bytes);
  else if (b?.stream) body = Buffer.from(b.stream);
  else if (b?.string !== undefined && b?.string !== null) body = b.string;
  else if (b?.json !== undefined && b?.json !== null) body = b.json;
  return { status, headers: headers as Record<string, string>, body };
}

function serializeCookie(c: RpcHttpCookie): string {
  let s = `${c.name ?? ""}=${c.value ?? ""}`;
  if (c.domain?.value) s += `; domain=${c.domain.value}`;
  if (c.path?.value) s += `; path=${c.path.value}`;
  const exp = c.expires?.value;
  if (exp && exp.seconds !== undefined && exp.seconds !== null) {
    s += `; expires=${new Date(Number(exp.seconds) * 1000 + Math.floor((exp.nanos ?? 0) / 1e6)).toUTCString()}`;
  }
  if (c.maxAge?.value !== undefined && c.maxAge?.value !== null) s += `; max-age=${c.maxAge.value}`;
  if (c.secure?.value) s += "; secure";
  if (c.httpOnly?.value) s += "; httponly";
  if (c.sameSite === "lax") s += "; samesite=lax";
  else if (c.sameSite === "strict") s += "; samesite=strict";
  else if (c.sameSite === "explicitNone") s += "; samesite=none";
  return s;
}

function send(res: http.ServerResponse, r: ApiResponse): void {
  res.statusCode = r.status;
  for (const [k, v] of Object.entries(r.headers)) res.setHeader(k, v);
  const body = r.body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(r.body) ? r.body : Buffer.from(r.body, "utf8");
  res.setHeader("Content-Length", body.length);
  res.end(res.req?.method === "HEAD" ? undefined : body);
}

function requestUrl(req: http.IncomingMessage): URL {
  const host = req.headers.host ?? `127.0.0.1:${(req.socket.address() as AddressInfo).port}`;
  return new URL(req.url ?? "/", `http://${host}`);
}

function apiRequest(req: http.IncomingMessage, url: URL, body: Buffer): ApiRequest {
  return { method: req.method ?? "GET", url, headers: req.headers, body };
}

function listen(server: http.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once("error", onError);
    server.listen(port, host, () => {
      server.off("error", onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** LocalHttpListener: 17071 first, then random ports in 30000-31000, ten attempts; any free port when testing. */
async function listenRpc(server: http.Server, chosen: number | undefined, anyPort: boolean): Promise<number> {
  if (chosen !== undefined) {
    return listen(server, chosen, "127.0.0.1").catch((e: Error) => {
      throw new Error(`Cannot open the local RPC endpoint on 127.0.0.1:${chosen} (--rpc-port): ${e.message}`);
    });
  }
  if (anyPort) return listen(server, 0, "127.0.0.1");
  const tried = new Set<number>();
  for (let attempt = 1; attempt <= 10; attempt++) {
    let p = 17071;
    if (attempt > 1) {
      do p = 30000 + Math.floor(Math.random() * 1000);
      while (tried.has(p));
    }
    tried.add(p);
    try {
      return await listen(server, p, "127.0.0.1");
    } catch {
      /* port in use: next attempt */
    }
  }
  throw new Error("Unable to find a port to open an RPC endpoint on after 10 attempts");
}

function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    const timer = setTimeout(() => server.closeAllConnections(), 5000);
    server.close(() => {
      clearTimeout(timer);
      resolve();
    });
    server.closeIdleConnections();
  });
}

/** The app's HTTP clients (axios in durable-functions) honour HTTP(S)_PROXY: keep loopback traffic local. */
function keepLoopbackOffProxies(env: NodeJS.ProcessEnv): void {
  const loopback = ["localhost", "127.0.0.1", "::1"];
  for (const key of ["NO_PROXY", "no_proxy"]) {
    const current = (env[key] ?? "").split(",").map((s) => s.trim()).filter(Boolean);
    for (const h of loopback) if (!current.includes(h)) current.push(h);
    env[key] = current.join(",");
  }
}
