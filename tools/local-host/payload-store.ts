/**
 * The payload store and the queues under the local host: the app keeps its large data in Blob Storage and its
 * queues in Queue Storage, both configured by the app setting `AzureWebJobsStorage`. When that names no account
 * (unset, empty, `UseDevelopmentStorage=true`), the host starts Azurite's blob and queue services (the `azurite` npm
 * package; no table service) on two free loopback ports with their data in `<dataDir>/azurite`, and gives the app the
 * explicit connection string for those ports.
 *
 * Azurite runs in a child process (this very module, `require.main === module`) driven through Azurite's own
 * BlobServer/BlobConfiguration and QueueServer/QueueConfiguration classes (as Azurite's own `azurite` entry point
 * runs both in one process): its module graph (express, lokijs, applicationinsights 2.x which patches `require` when
 * loaded) stays out of the app's process, and its metadata (LokiJS, saved every 5 s) is flushed by a graceful close
 * when the host stops OR dies: the child watches its IPC channel, which closes when the host exits in any way (even
 * `kill -9`), then closes both servers (saving the databases) and exits.
 */
import { fork, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { HostStartRefused } from "./data-dir-lock";
import { liveOwner, ownerLine } from "./pid-file";

/** Azurite's well-known development account (the same for every Azurite). */
export const AZURITE_ACCOUNT_NAME = "devstoreaccount1";
export const AZURITE_ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
export const STORAGE_SETTING = "AzureWebJobsStorage";

/** The development account's explicit connection string for Azurite's blob and queue services on these ports. */
export function azuriteConnectionString(blobPort: number, queuePort: number): string {
  return (
    `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT_NAME};AccountKey=${AZURITE_ACCOUNT_KEY};` +
    `BlobEndpoint=http://127.0.0.1:${blobPort}/${AZURITE_ACCOUNT_NAME};` +
    `QueueEndpoint=http://127.0.0.1:${queuePort}/${AZURITE_ACCOUNT_NAME};`
  );
}

/** Identity-based connections (`AzureWebJobsStorage__blobServiceUri` etc.) that name an account. */
const IDENTITY_KEYS = ["blobserviceuri", "queueserviceuri", "accountname", "serviceuri"];

export type StorageTarget =
  /** Nothing names an account: the local host provides one. */
  | { kind: "local"; setting: string | undefined }
  /** A connection string or an identity-based connection names an account. */
  | { kind: "external"; account?: string };

/** What `AzureWebJobsStorage` (after local.settings.json and the real environment) points at. */
export function storageTarget(env: NodeJS.ProcessEnv): StorageTarget {
  for (const [key, value] of Object.entries(env)) {
    const lower = key.toLowerCase();
    if (!value || !lower.startsWith(STORAGE_SETTING.toLowerCase() + "__")) continue;
    const prop = lower.slice(STORAGE_SETTING.length + 2);
    if (prop === "accountname") return { kind: "external", account: value };
    if (IDENTITY_KEYS.includes(prop)) return { kind: "external", account: hostAccount(value) };
  }
  const setting = env[STORAGE_SETTING];
  if (setting === undefined || setting.trim() === "") return { kind: "local", setting };
  const parts = parseConnectionString(setting);
  if ((parts.usedevelopmentstorage ?? "").toLowerCase() === "true") return { kind: "local", setting };
  return { kind: "external", account: parts.accountname ?? hostAccount(parts.blobendpoint ?? "") };
}

/** `Key=Value;...` with case-insensitive keys (lower-cased here); values may contain '='. */
export function parseConnectionString(cs: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of cs.split(";")) {
    const eq = part.indexOf("=");
    if (eq <= 0) continue;
    out[part.slice(0, eq).trim().toLowerCase()] = part.slice(eq + 1).trim();
  }
  return out;
}

function hostAccount(uri: string): string | undefined {
  try {
    return new URL(uri).hostname.split(".")[0] || undefined;
  } catch {
    return undefined;
  }
}

export interface PayloadStore {
  /** The blob endpoint, http://127.0.0.1:<port>/devstoreaccount1 */
  url: string;
  port: number;
  /** The queue endpoint, http://127.0.0.1:<queuePort>/devstoreaccount1 */
  queueUrl: string;
  queuePort: number;
  /** Azurite's data folder (`--location`), shared by both services. */
  location: string;
  /** The Azurite child process. */
  pid: number;
  connectionString: string;
  stop(): Promise<void>;
}

export interface PayloadStoreOptions {
  /** Data folder (created if missing). */
  location: string;
  /** The blob service's loopback port; 0 (default) = any free port. */
  port?: number;
  /** The queue service's loopback port; 0 (default) = any free port. */
  queuePort?: number;
  /** Where to resolve the `azurite` package from (default: this module's folder, then the cwd). */
  resolveFrom?: string[];
  /** Lines Azurite prints (normally none: access and debug logs are off). */
  log?: (line: string) => void;
  /** How long to wait for Azurite to listen. Default 60 s. */
  readyTimeoutMs?: number;
  /** How long to wait for the Azurite of an earlier host on the same location to save and exit. Default 15 s. */
  ownerWaitMs?: number;
}

/** Messages between the host and the Azurite child. */
type ToChild = { type: "start"; azuriteDir: string; location: string; port: number; queuePort: number } | { type: "stop" };
type FromChild = { type: "ready"; port: number; queuePort: number } | { type: "error"; message: string };

/** Finds the installed Azurite's server folder (`azurite/dist/src`, holding `blob/` and `queue/`). */
export function resolveAzuriteDir(from: string[]): string {
  let pkg: string;
  try {
    pkg = require.resolve("azurite/package.json", { paths: from });
  } catch {
    throw new Error(
      `The payload store needs the 'azurite' package (a devDependency: run 'npm install'), searched from ${from.join(", ")}. ` +
        `Set ${STORAGE_SETTING} to a storage account's connection string, or pass --no-azurite to start without it.`,
    );
  }
  return path.join(path.dirname(pkg), "dist", "src");
}

/** Starts Azurite's blob and queue services in a child process tied to this one. */
export async function startPayloadStore(options: PayloadStoreOptions): Promise<PayloadStore> {
  const azuriteDir = resolveAzuriteDir(options.resolveFrom ?? [__dirname, process.cwd()]);
  const location = path.resolve(options.location);
  fs.mkdirSync(location, { recursive: true });
  await previousOwnerGone(location, options.ownerWaitMs ?? 15_000);
  const child = fork(__filename, [], {
    execArgv: [],
    // applicationinsights 2.x (Azurite's telemetry, never started here) patches modules when loaded unless told not to.
    env: { ...process.env, APPLICATION_INSIGHTS_NO_DIAGNOSTIC_CHANNEL: "true" },
    stdio: ["ignore", "pipe", "pipe", "ipc"],
    serialization: "json",
  });
  forwardLines(child, options.log);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let port: number;
  let queuePort: number;
  try {
    const start: ToChild = { type: "start", azuriteDir, location, port: options.port ?? 0, queuePort: options.queuePort ?? 0 };
    ({ port, queuePort } = await awaitReady(child, start, options.readyTimeoutMs ?? 60000));
  } catch (err) {
    child.kill("SIGKILL");
    throw err;
  }
  // Neither the child nor its channel keeps the host's event loop alive (a programmatic host that never calls
  // stop() still exits; the child then sees its channel close and exits too).
  child.unref();
  (child.channel as { unref?: () => void } | undefined)?.unref?.();
  let stopped: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}/${AZURITE_ACCOUNT_NAME}`,
    port,
    queueUrl: `http://127.0.0.1:${queuePort}/${AZURITE_ACCOUNT_NAME}`,
    queuePort,
    location,
    pid: child.pid!,
    connectionString: azuriteConnectionString(port, queuePort),
    stop: () => (stopped ??= stopChild(child, exited)),
  };
}

/** Written by the Azurite child into its location before it loads it, removed once it has closed (saved) and exits. */
const OWNER_FILE = "azurite.pid";

/**
 * Waits until no other Azurite serves `location`. After the host dies its Azurite closes, saving its metadata, and
 * only then exits: a new host that loaded the location meanwhile would miss the latest blobs, and the old one's
 * save would land after the new one loaded. A file left by an Azurite that was killed itself names a dead process.
 */
async function previousOwnerGone(location: string, waitMs: number): Promise<void> {
  const file = path.join(location, OWNER_FILE);
  const deadline = Date.now() + waitMs;
  for (let pid = liveOwner(file); pid !== undefined && pid !== process.pid; pid = liveOwner(file)) {
    if (Date.now() > deadline)
      throw new HostStartRefused(
        `Another Azurite (pid ${pid}) still serves ${location}: another local host uses this data directory. ` +
          `Stop it, or start this one with another --data-dir.`,
      );
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function awaitReady(child: ChildProcess, start: ToChild, timeoutMs: number): Promise<{ port: number; queuePort: number }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Azurite did not start within ${timeoutMs} ms`)), timeoutMs);
    const done = () => {
      clearTimeout(timer);
      child.off("message", onMessage);
      child.off("exit", onExit);
    };
    const onMessage = (msg: FromChild) => {
      done();
      if (msg.type === "ready") resolve({ port: msg.port, queuePort: msg.queuePort });
      else reject(new Error(`Azurite (payload store) failed to start: ${msg.message}`));
    };
    const onExit = (code: number | null, signal: string | null) => {
      done();
      reject(new Error(`Azurite (payload store) exited before it was ready (${signal ?? `code ${code}`})`));
    };
    child.on("message", onMessage);
    child.once("exit", onExit);
    child.send(start);
  });
}

async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  if (child.connected) child.send({ type: "stop" } satisfies ToChild);
  else child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 10000);
  await exited;
  clearTimeout(timer);
}

function forwardLines(child: ChildProcess, log: ((line: string) => void) | undefined): void {
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    stream.setEncoding("utf8");
    let pending = "";
    stream.on("data", (d: string) => {
      pending += d;
      const lines = pending.split(/\r?\n/);
      pending = lines.pop() ?? "";
      for (const line of lines) if (line.trim() !== "") log?.(`[azurite] ${line}`);
    });
  }
  // Streams of a forked child hold the event loop too.
  (child.stdout as unknown as { unref?: () => void } | null)?.unref?.();
  (child.stderr as unknown as { unref?: () => void } | null)?.unref?.();
}

export interface PayloadStoreSetup {
  /** The Azurite started for the app, if any. */
  store?: PayloadStore;
  /** The start-up banner's line about the payload store and the queues. */
  banner: string;
}

/**
 * The host's part: decides from `env` (settings already applied) whether the app needs a local account; if so
 * starts Azurite's blob and queue services under `<dataDir>/azurite` and sets `AzureWebJobsStorage` in `env` to
 * their connection string.
 */
export async function openPayloadStore(opts: {
  env: NodeJS.ProcessEnv;
  dataDir: string;
  appDir: string;
  /** false = never start Azurite (--no-azurite). */
  enabled: boolean;
  port?: number;
  queuePort?: number;
  log?: (line: string) => void;
}): Promise<PayloadStoreSetup> {
  const target = storageTarget(opts.env);
  if (target.kind === "external") {
    return {
      banner: `Payload store: ${STORAGE_SETTING}: external account${target.account ? ` '${target.account}'` : ""} (no Azurite started).`,
    };
  }
  if (!opts.enabled) {
    const now = target.setting ? `'${target.setting}'` : "unset";
    return { banner: `Payload store: Azurite not started (--no-azurite); ${STORAGE_SETTING} is ${now}.` };
  }
  const store = await startPayloadStore({
    location: path.join(opts.dataDir, "azurite"),
    port: opts.port,
    queuePort: opts.queuePort,
    resolveFrom: [__dirname, opts.appDir, process.cwd()],
    log: opts.log,
  });
  opts.env[STORAGE_SETTING] = store.connectionString;
  return {
    store,
    banner:
      `Payload store: Azurite blob service ${store.url}, queue service ${store.queueUrl}, data ${store.location} ` +
      `(pid ${store.pid}); ${STORAGE_SETTING} points at it.`,
  };
}

// ---- the child: Azurite's BlobServer and QueueServer with explicit configurations ---------------------------

interface AzuriteServer {
  start(): Promise<void>;
  close(): Promise<void>;
  getStatus(): string;
  httpServer: { address(): { port: number } | string | null };
}

function runChild(): void {
  const servers: AzuriteServer[] = [];
  let closing: Promise<void> | undefined;
  let ownerFile: string | undefined;
  const exit = (code: number) => {
    closing ??= (async () => {
      setTimeout(() => process.exit(code), 5000).unref();
      await Promise.all(servers.filter((s) => s.getStatus() === "Running").map((s) => s.close().catch(() => undefined)));
      if (ownerFile) fs.rmSync(ownerFile, { force: true }); // saved: the location is free for the next host
      process.exit(code);
    })();
  };
  // Ctrl+C in a terminal reaches the whole process group: the host stops the store after its own work.
  process.on("SIGINT", () => undefined);
  process.on("SIGTERM", () => exit(0));
  // The channel closes when the host exits, however it exits (kill -9 included).
  process.on("disconnect", () => exit(0));
  process.on("message", (msg: ToChild) => {
    if (msg.type === "stop") return exit(0);
    if (msg.type !== "start" || servers.length > 0) return;
    // Before the servers load the location: from here until this process exits, a new host must wait for it.
    ownerFile = path.join(msg.location, OWNER_FILE);
    fs.writeFileSync(ownerFile, ownerLine());
    startServers(msg, servers).then(
      ([blob, queue]) => {
        process.send?.({ type: "ready", port: portOf(blob, msg.port), queuePort: portOf(queue, msg.queuePort) } satisfies FromChild);
      },
      (err: Error) => {
        process.send?.({ type: "error", message: err?.message ?? String(err) } satisfies FromChild, () => exit(1));
      },
    );
  });
}

function portOf(server: AzuriteServer, asked: number): number {
  const address = server.httpServer.address();
  return typeof address === "object" && address ? address.port : asked;
}

/** The blob server, then the queue server (each pushed on `started` once it runs, so a failure closes the first). */
async function startServers(msg: Extract<ToChild, { type: "start" }>, started: AzuriteServer[]): Promise<[AzuriteServer, AzuriteServer]> {
  const blob = await startServer(msg, "blob", msg.port);
  started.push(blob);
  const queue = await startServer(msg, "queue", msg.queuePort);
  started.push(queue);
  return [blob, queue];
}

/**
 * One Azurite service with the file names, keep-alive and write concurrency of Azurite's own defaults (its
 * `utils/constants`; the queue's one writer per location is its DEFAULT_QUEUE_PERSISTENCE_ARRAY). BlobConfiguration
 * and QueueConfiguration take the same first twelve arguments (host, port, keepAliveTimeout, metadataDBPath,
 * extentDBPath, persistencePathArray, enableAccessLog, accessLogWriteStream, enableDebugLog, debugLogFilePath, loose,
 * skipApiVersionCheck): = azurite-<service> --<service>Host 127.0.0.1 --<service>Port <port> --location <loc> --silent
 * --skipApiVersionCheck (no --debug).
 */
async function startServer(msg: Extract<ToChild, { type: "start" }>, service: "blob" | "queue", port: number): Promise<AzuriteServer> {
  const dir = path.join(msg.azuriteDir, service);
  const Name = service === "blob" ? "Blob" : "Queue";
  const SERVICE = service.toUpperCase();
  /* eslint-disable @typescript-eslint/no-require-imports */
  const Server = require(path.join(dir, `${Name}Server`)).default;
  const Configuration = require(path.join(dir, `${Name}Configuration`)).default;
  const constants = require(path.join(dir, "utils", "constants")) as Record<string, unknown>;
  /* eslint-enable @typescript-eslint/no-require-imports */
  const constant = (name: string) => constants[`DEFAULT_${SERVICE}_${name}`];
  const concurrency =
    service === "blob"
      ? Number(constants.DEFAULT_WRITE_CONCURRENCY_PER_LOCATION)
      : Number((constant("PERSISTENCE_ARRAY") as { maxConcurrency?: number }[] | undefined)?.[0]?.maxConcurrency ?? 1);
  const loc = msg.location;
  const config = new Configuration(
    "127.0.0.1",
    port,
    constant("KEEP_ALIVE_TIMEOUT"),
    path.join(loc, String(constant("LOKI_DB_PATH"))),
    path.join(loc, String(constant("EXTENT_LOKI_DB_PATH"))),
    [{ locationId: "Default", locationPath: path.join(loc, String(constant("PERSISTENCE_PATH"))), maxConcurrency: concurrency }],
    false,
    undefined,
    false,
    undefined,
    false,
    true,
  );
  const server: AzuriteServer = new Server(config);
  await server.start();
  return server;
}

if (require.main === module) runChild();
