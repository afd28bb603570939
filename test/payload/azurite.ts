/**
 * Starts a real Azurite blob service (the `azurite` devDependency, its `azurite-blob` entry point) in a
 * child process on a free loopback port, and stops it; with `queue`, its queue service beside it. For the payload store tests, and reusable by the
 * e2e suite and the local host:
 *
 *   const azurite = await startAzurite();            // temp data folder, removed by stop()
 *   process.env.AzureWebJobsStorage = azurite.connectionString;
 *   ...
 *   await azurite.stop();
 *
 * Port 0 lets the OS pick the port (no race between choosing and binding); the port is read from
 * Azurite's "successfully listens on" line. Telemetry is off (Azurite sends some by default), the access
 * log too; any API version is accepted (the SDK may be newer than Azurite) and unknown headers ignored.
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { azuriteConnectionString } from "../../src/payload/config";

export interface AzuriteOptions {
  /** Data folder; default a new temp folder, deleted on stop(). */
  location?: string;
  /** Listening address (default 127.0.0.1). */
  host?: string;
  /** Port (default 0: a free one). */
  port?: number;
  /** Modules preloaded into the Azurite process (`node -r`), e.g. test/telemetry/loopback-guard.cjs. */
  preload?: string[];
  /** Extra environment for the Azurite process. */
  env?: NodeJS.ProcessEnv;
  /** Give up when Azurite is not listening after this long (default 30 s). */
  startTimeoutMs?: number;
  /** Keep data in memory only (nothing written to `location`). */
  inMemory?: boolean;
  /** Start the queue service too (its own process); the connection string then has its QueueEndpoint. */
  queue?: boolean;
}

export interface RunningAzurite {
  host: string;
  port: number;
  /** http://host:port/devstoreaccount1 */
  blobEndpoint: string;
  /** Connection string of the development account on this port (AzureWebJobsStorage). */
  connectionString: string;
  /** With `queue`: http://host:port/devstoreaccount1 of the queue service. */
  queueEndpoint?: string;
  location: string;
  process: ChildProcess;
  /** What Azurite wrote to stdout/stderr so far (for failure messages). */
  output(): string;
  /** Stops Azurite (SIGTERM, then SIGKILL after 5 s) and removes the temp data folder it made. */
  stop(): Promise<void>;
}

export async function startAzurite(options: AzuriteOptions = {}): Promise<RunningAzurite> {
  const blob = await startService("blob", options);
  if (!options.queue) return blob;
  // The queue service in its own process, on the same data folder (Azurite keeps each service's files apart).
  let queue: RunningAzurite;
  try {
    queue = await startService("queue", { ...options, location: blob.location, port: 0 });
  } catch (error) {
    await blob.stop();
    throw error;
  }
  const queueEndpoint = `http://${queue.host}:${queue.port}/devstoreaccount1`;
  return {
    ...blob,
    queueEndpoint,
    connectionString: `${blob.connectionString}QueueEndpoint=${queueEndpoint};`,
    output: () => `${blob.output()}${queue.output()}`,
    async stop() {
      await queue.stop();
      await blob.stop();
    },
  };
}

async function startService(service: "blob" | "queue", options: AzuriteOptions): Promise<RunningAzurite> {
  const host = options.host ?? "127.0.0.1";
  const ownLocation = options.location === undefined;
  const location = options.location ?? fs.mkdtempSync(path.join(os.tmpdir(), "azurite-"));
  fs.mkdirSync(location, { recursive: true });
  const main = path.join(path.dirname(require.resolve("azurite/package.json")), "dist", "src", service, "main.js");
  const args = [
    ...(options.preload ?? []).flatMap((module) => ["-r", module]),
    main,
    `--${service}Host`,
    host,
    `--${service}Port`,
    String(options.port ?? 0),
    "--location",
    location,
    "--silent",
    "--skipApiVersionCheck",
    "--loose",
    "--disableTelemetry",
    ...(options.inMemory ? ["--inMemoryPersistence"] : []),
  ];
  const child = spawn(process.execPath, args, { env: { ...process.env, ...options.env }, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));

  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const cleanup = () => {
    if (ownLocation) fs.rmSync(location, { recursive: true, force: true });
  };

  let port: number;
  try {
    port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`Azurite did not start within ${options.startTimeoutMs ?? 30000} ms:\n${output}`)),
        options.startTimeoutMs ?? 30000,
      );
      const check = () => {
        const match = /successfully listens on https?:\/\/[^:\s]+:(\d+)/.exec(output);
        if (match) {
          clearTimeout(timer);
          resolve(Number(match[1]));
        }
      };
      child.stdout!.on("data", check);
      child.once("exit", (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`Azurite exited (${signal ?? code}) before listening:\n${output}`));
      });
      child.once("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
  } catch (error) {
    child.kill("SIGKILL");
    await exited;
    cleanup();
    throw error;
  }

  let stopping: Promise<void> | undefined;
  return {
    host,
    port,
    blobEndpoint: `http://${host}:${port}/devstoreaccount1`,
    connectionString: azuriteConnectionString(port, host),
    location,
    process: child,
    output: () => output,
    stop() {
      stopping ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill("SIGTERM");
          const killer = setTimeout(() => child.kill("SIGKILL"), 5000);
          await exited;
          clearTimeout(killer);
        }
        cleanup();
      })();
      return stopping;
    },
  };
}
