#!/usr/bin/env node
/**
 * `npm start`: serves the function app like `func start` would, on http://localhost:7071. Options and their
 * environment variables: see USAGE below (--help) and README.md.
 */
import * as path from "node:path";
import { startLocalHost } from "./host";
import { HostStartRefused } from "./data-dir-lock";

const USAGE = `Usage: node dist/tools/local-host/cli.js [options]   (npm start: build, then this)

Serves the function app like \`func start\`. It is not the Azure Functions host (see tools/local-host/README.md).

  --port, -p N                 HTTP front on 127.0.0.1 and ::1 (default 7071; env PORT; 0 = any free port)
  --rpc-port N                 the durable client's local RPC endpoint (default 17071, else a random port in 30000-31000)
  --app-dir DIR                the function app (default: the current directory)
  --data-dir DIR               durable store, secrets and Azurite data (default <app>/.local-host-data)
  --max-payload-bytes N        refuse durable payloads over N UTF-8 bytes (default 1048576, the Durable Task
                               Scheduler's; 0 = none; env LOCAL_HOST_MAX_PAYLOAD_BYTES)
  --max-timer-span-ms N        fail an orchestration whose CreateTimer fires over N ms after the instance started, or
                               whose fireAt is no date (default 518400000 = 6 days; 0 = no span limit;
                               env LOCAL_HOST_MAX_TIMER_SPAN_MS)
  --max-instance-id-length N   refuse instance ids over N characters: client starts (400), sub-orchestrations (their
                               task fails) (default 100, the Durable Task Scheduler's; 0 = none;
                               env LOCAL_HOST_MAX_INSTANCE_ID_LENGTH)
  --require-keys               enforce keys as in Azure (default off, as under func start; env LOCAL_HOST_REQUIRE_KEYS=1):
                               authLevel function -> a function key or the master key (?code= or x-functions-key),
                               admin -> the master key; /admin/* -> the master key; /runtime/webhooks/durabletask ->
                               the system key durabletask_extension or the master key; the local RPC endpoint needs
                               none. Keys are made on first start in <data-dir>/secrets/host.json and printed.
  --no-azurite                 start no Azurite (blob and queue services; AzureWebJobsStorage left as set)
  --azurite-port N             Azurite's blob service port (default: any free port)
  --azurite-queue-port N       Azurite's queue service port (default: any free port)
  --verbose                    system log lines too

WEBSITE_HOSTNAME, when set (environment or local.settings.json), is kept and names the Durable webhook URLs
(http for localhost:<port>, else https); otherwise it is localhost:<port>, as under func start.
`;

interface CliArgs {
  port: number;
  /** The durable client's local RPC listener port (default: LocalHttpListener's choice). */
  rpcPort?: number;
  /** Largest durable payload in UTF-8 bytes; 0 = none (default: the engine's 1 MiB). */
  maxPayloadBytes?: number;
  /** Latest a CreateTimer may fire after its instance started, in ms; 0 = none (default: 6 days). */
  maxTimerSpanMs?: number;
  /** Longest instance id; 0 = none (default: 100). */
  maxInstanceIdLength?: number;
  /** Enforce keys as in Azure (default false, as under func start). */
  requireKeys: boolean;
  appDir: string;
  dataDir?: string;
  /** Start Azurite when AzureWebJobsStorage names no account (default true; --no-azurite). */
  azurite: boolean;
  azuritePort?: number;
  azuriteQueuePort?: number;
  verbose: boolean;
}

export function parseArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): CliArgs {
  const args: CliArgs = { port: 7071, appDir: process.cwd(), azurite: true, requireKeys: false, verbose: false };
  let keysGiven = false;
  let portGiven = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const eq = a.indexOf("=");
    const name = eq > 0 ? a.slice(0, eq) : a;
    const value = () => {
      if (eq > 0) return a.slice(eq + 1);
      const v = argv[++i];
      if (v === undefined) throw new Error(`${name} needs a value`);
      return v;
    };
    switch (name) {
      case "--port":
      case "-p":
        args.port = parsePort(value());
        portGiven = true;
        break;
      case "--rpc-port":
        args.rpcPort = parsePort(value());
        break;
      case "--max-payload-bytes":
        args.maxPayloadBytes = parseBytes(value(), name);
        break;
      case "--max-timer-span-ms":
        args.maxTimerSpanMs = parseCount(value(), name, "ms");
        break;
      case "--max-instance-id-length":
        args.maxInstanceIdLength = parseCount(value(), name, "characters");
        break;
      case "--require-keys":
        args.requireKeys = true;
        keysGiven = true;
        break;
      case "--app-dir":
        args.appDir = path.resolve(value());
        break;
      case "--data-dir":
        args.dataDir = path.resolve(value());
        break;
      case "--no-azurite":
        args.azurite = false;
        break;
      case "--azurite-port":
        args.azuritePort = parsePort(value());
        break;
      case "--azurite-queue-port":
        args.azuriteQueuePort = parsePort(value());
        break;
      case "--verbose":
        args.verbose = true;
        break;
      case "--help":
      case "-h":
        process.stdout.write(USAGE);
        process.exit(0);
        break;
      default:
        throw new Error(`Unknown option '${a}'`);
    }
  }
  if (!portGiven && env.PORT) args.port = parsePort(env.PORT);
  if (args.maxPayloadBytes === undefined && env.LOCAL_HOST_MAX_PAYLOAD_BYTES) {
    args.maxPayloadBytes = parseBytes(env.LOCAL_HOST_MAX_PAYLOAD_BYTES, "LOCAL_HOST_MAX_PAYLOAD_BYTES");
  }
  if (args.maxTimerSpanMs === undefined && env.LOCAL_HOST_MAX_TIMER_SPAN_MS) {
    args.maxTimerSpanMs = parseCount(env.LOCAL_HOST_MAX_TIMER_SPAN_MS, "LOCAL_HOST_MAX_TIMER_SPAN_MS", "ms");
  }
  if (args.maxInstanceIdLength === undefined && env.LOCAL_HOST_MAX_INSTANCE_ID_LENGTH) {
    args.maxInstanceIdLength = parseCount(env.LOCAL_HOST_MAX_INSTANCE_ID_LENGTH, "LOCAL_HOST_MAX_INSTANCE_ID_LENGTH", "characters");
  }
  if (!keysGiven && env.LOCAL_HOST_REQUIRE_KEYS) args.requireKeys = parseFlag(env.LOCAL_HOST_REQUIRE_KEYS, "LOCAL_HOST_REQUIRE_KEYS");
  return args;
}

function parseCount(v: string, what: string, unit: string): number {
  const n = Number(v);
  if (v.trim() === "" || !Number.isSafeInteger(n) || n < 0) throw new Error(`Invalid ${what} '${v}' (${unit}, 0 = no limit)`);
  return n;
}

function parseFlag(v: string, what: string): boolean {
  if (/^(1|true|yes)$/i.test(v.trim())) return true;
  if (/^(0|false|no)$/i.test(v.trim())) return false;
  throw new Error(`Invalid ${what} '${v}' (1 or 0)`);
}

function parseBytes(v: string, what: string): number {
  return parseCount(v, what, "bytes");
}

function parsePort(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`Invalid port '${v}'`);
  return n;
}

async function main(): Promise<void> {
  // Taken before the host starts: npm may be stopped while it does.
  const parent = process.ppid;
  let args: CliArgs;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(2);
  }
  const host = await startLocalHost({
    appDir: args.appDir,
    port: args.port,
    rpcPort: args.rpcPort,
    maxPayloadBytes: args.maxPayloadBytes,
    maxTimerSpanMs: args.maxTimerSpanMs,
    maxInstanceIdLength: args.maxInstanceIdLength,
    requireKeys: args.requireKeys,
    dataDir: args.dataDir,
    azurite: args.azurite,
    azuritePort: args.azuritePort,
    azuriteQueuePort: args.azuriteQueuePort,
    verbose: args.verbose,
  });
  let shuttingDown = false;
  const shutdown = (reason: string) => {
    if (shuttingDown) return;
    shuttingDown = true;
    console.log(`${reason}: stopping the local host...`);
    host.stop().then(
      () => process.exit(0),
      (err) => {
        console.error(err);
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", () => shutdown("SIGINT received"));
  process.on("SIGTERM", () => shutdown("SIGTERM received"));
  if (process.env.npm_lifecycle_event) stopWithParent(parent, () => shutdown("npm, which started the host, has exited"));
}

/**
 * Under `npm start` the host runs in `sh -c`, which passes no SIGTERM on: a SIGTERM to npm (a task runner or
 * process manager stopping it) ends npm and the shell, and would leave the host serving, holding its port and
 * its data directory. So under npm the host stops once it is orphaned (its parent changed). Run directly, it
 * keeps running under nohup or a detached start.
 */
function stopWithParent(parent: number, stop: () => void): void {
  const orphaned = () => process.ppid !== parent;
  if (orphaned()) return stop();
  const timer = setInterval(() => {
    if (!orphaned()) return;
    clearInterval(timer);
    stop();
  }, 1000);
  timer.unref();
}

if (require.main === module) {
  main().catch((err) => {
    const text = err instanceof HostStartRefused ? err.message : ((err as Error)?.stack ?? String(err));
    console.error(`The local host failed to start: ${text}`);
    process.exit(1);
  });
}
