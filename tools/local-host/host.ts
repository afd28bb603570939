/**
 * The local host: settings, the worker stand-in, the HTTP front (HTTP triggers under the route prefix,
 * /admin/host/status, the Durable webhooks), the durable engine's local RPC endpoint and the queue triggers'
 * listeners, wired together.
 * `startLocalHost` is the programmatic entry point; cli.ts wraps it for `npm start`.
 *
 * The parts: listeners.ts (the sockets), settings.ts (Core Tools' settings, host.json), payload-store.ts
 * (Azurite), worker.ts (the worker stand-in), function-index.ts (what was registered), invoker.ts (calling a
 * function), http-trigger.ts (the HTTP-trigger adapter), queue-options.ts + queue-listener.ts (queue triggers),
 * durable-api.ts (the Durable HTTP API), webhook-uri.ts (its public base URL), keys.ts + auth.ts (key enforcement),
 * http-front.ts (routing requests, the RPC endpoint), engine/ (the durable engine), banner.ts.
 */
import type { IncomingMessage } from "node:http";
import * as path from "node:path";
import { KeyAuth } from "./auth";
import { requestBodyLimit } from "./body-limit";
import { startupBanner } from "./banner";
import { DurableHttpApi } from "./durable-api";
import { createEngine } from "./engine";
import { DEFAULT_MAX_INSTANCE_ID_LENGTH } from "./engine/instance-ids";
import { DEFAULT_MAX_PAYLOAD_BYTES } from "./engine/payload-limit";
import { DEFAULT_MAX_TIMER_SPAN_MS } from "./engine/timer-limit";
import type { DurableEngine } from "./engine/types";
import { FunctionIndex, type FunctionInfo } from "./function-index";
import { HostLog } from "./host-log";
import { HttpFront, RPC_PATH } from "./http-front";
import { HttpTriggerAdapter } from "./http-trigger";
import { FunctionInvoker } from "./invoker";
import { KeyStore, type HostKeys } from "./keys";
import { openListeners, type Listeners } from "./listeners";
import { unsupportedOutputsBanner } from "./output-bindings";
import { openPayloadStore, type PayloadStore } from "./payload-store";
import { lockDataDir, type DataDirLock } from "./data-dir-lock";
import { QueueTriggers } from "./queue-listener";
import { readQueuesOptions } from "./queue-options";
import { applyAppSettings, readHostJson, type HostJson } from "./settings";
import { extensionWebhookUri } from "./webhook-uri";
import { WorkerApp, type RegisteredFunction } from "./worker";

export type { FunctionInfo, HostKeys };

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
  /** Latest a CreateTimer may fire, in ms after its instance started (engine/timer-limit.ts). Default 518400000 (6 days); 0 = none. */
  maxTimerSpanMs?: number;
  /** Longest instance id (engine/instance-ids.ts). Default 100 (Durable Task Scheduler); 0 = none. */
  maxInstanceIdLength?: number;
  /**
   * Enforce keys as the Functions host does in Azure (auth.ts): function/admin HTTP triggers, `/admin/*`, the Durable
   * webhooks; keys in `<dataDir>/secrets/host.json`, made on first start. Default false, as under `func start`.
   */
  requireKeys?: boolean;
  /** Durable store directory. Default `<appDir>/.local-host-data`. Azurite's data goes to `<dataDir>/azurite`. */
  dataDir?: string;
  /**
   * Start Azurite (its blob and queue services) when `AzureWebJobsStorage` names no account (unset, empty,
   * `UseDevelopmentStorage=true`). Default true; false = --no-azurite.
   */
  azurite?: boolean;
  /** Azurite's blob service loopback port. Default 0 = any free port. */
  azuritePort?: number;
  /** Azurite's queue service loopback port. Default 0 = any free port. */
  azuriteQueuePort?: number;
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
  /** The keys, when they are enforced (requireKeys). */
  keys?: HostKeys;
  stop(): Promise<void>;
}

/**
 * What has been started so far, stopped in this order: the queue listeners first (their functions in flight finish
 * and may still call the front or the RPC endpoint), then the sockets, the engine, the app, and the payload store
 * last (the app may use it until the end).
 */
interface Started {
  queues?: QueueTriggers;
  listeners?: Listeners;
  engine?: DurableEngine;
  app?: WorkerApp;
  payloadStore?: PayloadStore;
  dataDirLock?: DataDirLock;
}

async function stopAll(s: Started, quiet: boolean): Promise<void> {
  const step = async (f: (() => Promise<void>) | undefined) => {
    if (!f) return;
    if (quiet) await f().catch(() => undefined);
    else await f();
  };
  try {
    await step(s.queues && (() => s.queues!.stop()));
    await step(s.listeners && (() => s.listeners!.close()));
    await step(s.engine && (() => s.engine!.stop()));
    await step(s.app && (() => s.app!.terminate()));
    await step(s.payloadStore && (() => s.payloadStore!.stop()));
  } finally {
    s.dataDirLock?.release();
  }
}

export async function startLocalHost(options: LocalHostOptions = {}): Promise<LocalHost> {
  const appDir = path.resolve(options.appDir ?? process.cwd());
  const dataDir = path.resolve(options.dataDir ?? path.join(appDir, ".local-host-data"));
  const log = new HostLog(options.log ?? ((line: string) => console.log(line)), options.verbose ?? false);
  for (const [k, v] of Object.entries(options.env ?? {})) process.env[k] = v;

  // One host per data directory (data-dir-lock.ts), before anything of it is opened.
  const started: Started = { dataDirLock: await lockDataDir(dataDir) };
  // ---- listeners first: the port (maybe chosen by the OS) is part of the app's settings ----
  const front = new HttpFront(log);
  try {
    started.listeners = await openListeners({
      port: options.port ?? 7071,
      rpcPort: options.rpcPort,
      front: (req, res) => front.onMain(req, res),
      rpc: (req, res) => front.onRpc(req, res),
    });
    const host = await composeHost(options, { appDir, dataDir, log, front, started, listeners: started.listeners });
    let stopped: Promise<void> | undefined;
    return {
      ...host,
      stop: () => {
        stopped ??= (async () => {
          front.close();
          await stopAll(started, false);
        })();
        return stopped;
      },
    };
  } catch (err) {
    await stopAll(started, true);
    throw err;
  }
}

interface Composition {
  appDir: string;
  dataDir: string;
  log: HostLog;
  front: HttpFront;
  started: Started;
  listeners: Listeners;
}

/** Settings, payload store, app, engine, Durable HTTP API; then the front opens. */
async function composeHost(options: LocalHostOptions, c: Composition): Promise<Omit<LocalHost, "stop">> {
  const { appDir, dataDir, log, front, started } = c;
  const { port, rpcPort } = c.listeners;
  const baseUrl = `http://localhost:${port}`;
  const rpcBaseUrl = `http://127.0.0.1:${rpcPort}${RPC_PATH}`;

  applyAppSettings(appDir, port, process.env, log.out);
  front.bodyLimit = requestBodyLimit(process.env);
  const hostJson = readHostJson(appDir, process.env);
  // QueuesOptions are bound when the extension loads, whether or not a function uses them.
  const queuesOptions = readQueuesOptions(hostJson.queues, process.env);
  for (const w of queuesOptions.warnings) log.out(w);
  // The extension's public URLs come from WEBSITE_HOSTNAME (+ the system key when keys are enforced); RPC stays on loopback.
  const hostName = process.env.WEBSITE_HOSTNAME || `localhost:${port}`;
  const keyStore = options.requireKeys ? KeyStore.open(dataDir, hostName) : undefined;
  const webhookUri = extensionWebhookUri(hostName, "durabletask", keyStore?.keys.system);

  // The payload store (Azurite) before the app loads: the app reads AzureWebJobsStorage.
  const azurite = options.azurite ?? true;
  const payload = await openPayloadStore({
    env: process.env,
    dataDir,
    appDir,
    enabled: azurite,
    port: options.azuritePort,
    queuePort: options.azuriteQueuePort,
    log: log.out,
  });
  started.payloadStore = payload.store;

  started.app = new WorkerApp({ appDir, log: (e) => log.entry(e) });
  await started.app.load();
  const index = new FunctionIndex(started.app.functions);

  // The invoker needs the Durable HTTP API's binding data, and that API needs the engine the invoker drives:
  // the closure reads `api` only when a function runs, after it is built below.
  const invoker = new FunctionInvoker({ app: started.app, index, log, clientBindingData: (b) => api.clientBindingData(b) });
  const limits = {
    maxPayloadBytes: options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES,
    maxTimerSpanMs: options.maxTimerSpanMs ?? DEFAULT_MAX_TIMER_SPAN_MS,
    maxInstanceIdLength: options.maxInstanceIdLength ?? DEFAULT_MAX_INSTANCE_ID_LENGTH,
  };
  const engine = startEngine(hostJson, index, invoker, { dataDir, log, ...limits });
  started.engine = engine;
  const api = new DurableHttpApi({
    engine,
    hubName: hostJson.hubName,
    connectionName: hostJson.connectionName,
    orchestrators: () => index.orchestrators,
    entities: () => index.entities,
    webhookUri: () => webhookUri,
    rpcBaseUrl: () => rpcBaseUrl,
  });
  await engine.start();
  if (index.entities.size > 0) {
    log.out(
      `Warning: entity functions (${[...index.entities].join(", ")}) are registered but this local host does not run durable entities.`,
    );
  }

  const auth = keyStore && new KeyAuth(keyStore);
  const authorize =
    auth &&
    ((fn: RegisteredFunction, req: IncomingMessage, url: URL) =>
      auth.httpTrigger(req.headers, url, fn.name, fn.bindings[fn.triggerName]?.authLevel));
  front.open({ api, trigger: new HttpTriggerAdapter(index, hostJson.routePrefix, invoker, log, authorize), hostJson, auth });
  // The queue triggers' listeners, like the host's, start once everything else runs.
  const queues = new QueueTriggers({
    index,
    options: queuesOptions.options,
    invoker,
    log,
    env: process.env,
    resolveFrom: [__dirname, appDir, process.cwd()],
  });
  started.queues = queues;
  queues.start();
  const functions = index.describe(hostJson.routePrefix, baseUrl);
  const banner = startupBanner({
    hubName: hostJson.hubName,
    dataDir,
    rpcBaseUrl,
    payloadStore: payload.banner,
    ...limits,
    webhookBaseUrl: hostName === `localhost:${port}` ? undefined : api.baseUrl(),
    keys: keyStore && { ...keyStore.keys, file: keyStore.file },
    functions,
    queueTriggers: queues.bannerLines(),
    outputsWarning: unsupportedOutputsBanner(index.all),
    baseUrl,
    port,
  });
  for (const line of banner) log.out(line);
  return { url: `http://127.0.0.1:${port}`, port, rpcBaseUrl, functions, keys: keyStore?.keys };
}

function startEngine(
  hj: HostJson,
  index: FunctionIndex,
  invoker: FunctionInvoker,
  o: { dataDir: string; maxPayloadBytes: number; maxTimerSpanMs: number; maxInstanceIdLength: number; log: HostLog },
): DurableEngine {
  return createEngine({
    dataDir: o.dataDir,
    taskHubName: hj.hubName,
    invokeOrchestrator: (name, payload) => invoker.invokeOrchestrator(name, payload),
    invokeActivity: (name, input, meta) => invoker.invokeActivity(name, input, meta),
    orchestrators: index.orchestrators,
    activities: index.activities,
    maxConcurrentActivities: hj.maxConcurrentActivityFunctions,
    maxConcurrentOrchestrations: hj.maxConcurrentOrchestratorFunctions,
    maxPayloadBytes: o.maxPayloadBytes,
    maxTimerSpanMs: o.maxTimerSpanMs,
    maxInstanceIdLength: o.maxInstanceIdLength,
    log: (level, message) => o.log.engine(level, message),
  });
}
