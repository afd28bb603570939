#!/usr/bin/env node
/**
 * `npm start`: serves the function app like `func start` would, on http://localhost:7071.
 *   node dist/tools/local-host/cli.js [--port N] [--rpc-port N] [--max-payload-bytes N] [--app-dir DIR] [--data-dir DIR]
 *                                     [--no-azurite] [--azurite-port N] [--verbose]
 * PORT in the environment sets the port when --port is not given; LOCAL_HOST_MAX_PAYLOAD_BYTES the payload limit
 * when --max-payload-bytes is not given (default 1048576, the Durable Task Scheduler's; 0 = none).
 * The payload store (Azurite, blob only) starts when AzureWebJobsStorage names no account; --no-azurite turns it off.
 */
import * as path from "node:path";
import { startLocalHost } from "./host";

interface CliArgs {
  port: number;
  /** The durable client's local RPC listener port (default: LocalHttpListener's choice). */
  rpcPort?: number;
  /** Largest durable payload in UTF-8 bytes; 0 = none (default: the engine's 1 MiB). */
  maxPayloadBytes?: number;
  appDir: string;
  dataDir?: string;
  /** Start Azurite when AzureWebJobsStorage names no account (default true; --no-azurite). */
  azurite: boolean;
  azuritePort?: number;
  verbose: boolean;
}

export function parseArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): CliArgs {
  const args: CliArgs = { port: 7071, appDir: process.cwd(), azurite: true, verbose: false };
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
      case "--verbose":
        args.verbose = true;
        break;
      case "--help":
      case "-h":
        process.stdout.write(
          "Usage: node dist/tools/local-host/cli.js [--port N] [--rpc-port N] [--max-payload-bytes N] [--app-dir DIR] [--data-dir DIR] [--no-azurite] [--azurite-port N] [--verbose]\n",
        );
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
  return args;
}

function parseBytes(v: string, what: string): number {
  const n = Number(v);
  if (v.trim() === "" || !Number.isSafeInteger(n) || n < 0) throw new Error(`Invalid ${what} '${v}' (bytes, 0 = no limit)`);
  return n;
}

function parsePort(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`Invalid port '${v}'`);
  return n;
}

async function main(): Promise<void> {
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
    dataDir: args.dataDir,
    azurite: args.azurite,
    azuritePort: args.azuritePort,
    verbose: args.verbose,
  });
  let shuttingDown = false;
  const shutdown = (signal: string) => {
    if (shuttingDown) return;
    shuttingDown = true;
    console.log(`${signal} received: stopping the local host...`);
    host.stop().then(
      () => process.exit(0),
      (err) => {
        console.error(err);
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", () => shutdown("SIGINT"));
  process.on("SIGTERM", () => shutdown("SIGTERM"));
}

if (require.main === module) {
  main().catch((err) => {
    console.error(`The local host failed to start: ${(err as Error)?.stack ?? String(err)}`);
    process.exit(1);
  });
}
