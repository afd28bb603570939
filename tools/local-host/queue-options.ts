/**
 * host.json `extensions.queues`, read the way the Storage-queues extension binds it to its `QueuesOptions`
 * (Azure/azure-sdk-for-net, sdk/storage/Microsoft.Azure.WebJobs.Extensions.Storage.Common/src/Shared/Queues/QueuesOptions.cs
 * and QueuePollingIntervals.cs; the Development rule in
 * sdk/storage/Microsoft.Azure.WebJobs.Extensions.Storage.Queues/src/StorageQueuesWebJobsBuilderExtensions.cs):
 *
 * | setting | default | checked |
 * | --- | --- | --- |
 * | batchSize | 16 | 1..32 (MaxBatchSize) |
 * | newBatchThreshold | (batchSize / 2) * processor count (integer division; 1 processor when WEBSITE_SKU=Dynamic, SkuUtility.cs) | >= 0 |
 * | maxPollingInterval | 00:01:00, or 00:00:02 when the environment is Development and the value is the default | >= 00:00:00.1 |
 * | visibilityTimeout | 00:00:00 | 0..7 days (stricter: Azure fails only when a message is released) |
 * | maxDequeueCount | 5 | >= 1 |
 * | messageEncoding | base64 | base64 / none (case-insensitive) |
 *
 * Keys are case-insensitive as in .NET configuration; numbers may be JSON numbers or numeric strings; time spans are
 * .NET TimeSpan strings (`hh:mm:ss[.fffffff]`, `d.hh:mm:ss`, `hh:mm`, or a bare integer, which .NET reads as DAYS).
 * A value .NET could not bind (or the extension refuses) stops the start with a message naming the setting.
 */
import * as os from "node:os";

export type QueueMessageEncoding = "base64" | "none";

export interface QueuesOptions {
  batchSize: number;
  newBatchThreshold: number;
  maxPollingIntervalMs: number;
  visibilityTimeoutMs: number;
  maxDequeueCount: number;
  messageEncoding: QueueMessageEncoding;
}

/** QueuesOptions.cs: DefaultBatchSize, MaxBatchSize, DefaultMaxDequeueCount; QueuePollingIntervals.cs: Minimum, DefaultMaximum. */
export const QUEUE_DEFAULTS = {
  batchSize: 16,
  maxBatchSize: 32,
  maxDequeueCount: 5,
  minPollingIntervalMs: 100,
  maxPollingIntervalMs: 60_000,
  /** StorageQueuesWebJobsBuilderExtensions.cs: in Development a default maxPollingInterval becomes 2 s. */
  developmentMaxPollingIntervalMs: 2_000,
  visibilityTimeoutMs: 0,
  messageEncoding: "base64" as QueueMessageEncoding,
} as const;

/** The Update Message API's largest visibility timeout (7 days). */
const MAX_UPDATE_VISIBILITY_MS = 7 * 86_400_000;

const KNOWN = ["batchSize", "newBatchThreshold", "maxPollingInterval", "visibilityTimeout", "maxDequeueCount", "messageEncoding"];

export class QueueSettingsError extends Error {}

export interface QueuesOptionsResult {
  options: QueuesOptions;
  /** Lines for the host's log (unknown keys, integers read as days). */
  warnings: string[];
}

/**
 * `section` is host.json's `extensions.queues` (undefined when absent); `env` gives AZURE_FUNCTIONS_ENVIRONMENT and
 * WEBSITE_SKU; `processorCount` is Environment.ProcessorCount's stand-in.
 */
export function readQueuesOptions(
  section: unknown,
  env: NodeJS.ProcessEnv,
  processorCount: number = os.availableParallelism(),
): QueuesOptionsResult {
  const warnings: string[] = [];
  if (section !== undefined && (section === null || typeof section !== "object" || Array.isArray(section))) {
    throw new QueueSettingsError(`host.json extensions.queues must be an object, got ${JSON.stringify(section)}.`);
  }
  const raw = new Map<string, unknown>();
  for (const [key, value] of Object.entries((section ?? {}) as Record<string, unknown>)) {
    const known = KNOWN.find((k) => k.toLowerCase() === key.toLowerCase());
    if (known) raw.set(known, value);
    else warnings.push(`Warning: host.json extensions.queues.${key} is not a setting of the Storage-queues extension; it is ignored.`);
  }
  const batchSize = integer(raw, "batchSize", QUEUE_DEFAULTS.batchSize);
  if (batchSize <= 0 || batchSize > QUEUE_DEFAULTS.maxBatchSize) {
    throw new QueueSettingsError(
      `host.json extensions.queues.batchSize is ${batchSize}; it must be from 1 to ${QUEUE_DEFAULTS.maxBatchSize}.`,
    );
  }
  const sku = (env.WEBSITE_SKU ?? "").toLowerCase() === "dynamic" ? 1 : Math.max(1, processorCount);
  const newBatchThreshold = raw.has("newBatchThreshold") ? integer(raw, "newBatchThreshold", 0) : Math.floor(batchSize / 2) * sku;
  if (newBatchThreshold < 0)
    throw new QueueSettingsError(`host.json extensions.queues.newBatchThreshold is ${newBatchThreshold}; it must be 0 or more.`);
  let maxPollingIntervalMs = timeSpan(raw, "maxPollingInterval", QUEUE_DEFAULTS.maxPollingIntervalMs, warnings);
  if (maxPollingIntervalMs < QUEUE_DEFAULTS.minPollingIntervalMs) {
    throw new QueueSettingsError(
      `host.json extensions.queues.maxPollingInterval is ${formatTimeSpan(maxPollingIntervalMs)}; ` +
        `MaxPollingInterval must not be less than ${formatTimeSpan(QUEUE_DEFAULTS.minPollingIntervalMs)}.`,
    );
  }
  if (isDevelopment(env) && maxPollingIntervalMs === QUEUE_DEFAULTS.maxPollingIntervalMs) {
    maxPollingIntervalMs = QUEUE_DEFAULTS.developmentMaxPollingIntervalMs;
  }
  const visibilityTimeoutMs = timeSpan(raw, "visibilityTimeout", QUEUE_DEFAULTS.visibilityTimeoutMs, warnings);
  if (visibilityTimeoutMs < 0 || visibilityTimeoutMs > MAX_UPDATE_VISIBILITY_MS) {
    throw new QueueSettingsError(
      `host.json extensions.queues.visibilityTimeout is ${formatTimeSpan(visibilityTimeoutMs)}; the queue service accepts ` +
        `00:00:00 to 7.00:00:00 when a failed message is made visible again.`,
    );
  }
  const maxDequeueCount = integer(raw, "maxDequeueCount", QUEUE_DEFAULTS.maxDequeueCount);
  if (maxDequeueCount < 1)
    throw new QueueSettingsError(
      `host.json extensions.queues.maxDequeueCount is ${maxDequeueCount}; MaxDequeueCount must not be less than 1.`,
    );
  const messageEncoding = encoding(raw.get("messageEncoding"));
  return {
    options: { batchSize, newBatchThreshold, maxPollingIntervalMs, visibilityTimeoutMs, maxDequeueCount, messageEncoding },
    warnings,
  };
}

/** IHostingEnvironment.IsDevelopment(): the host's environment name comes from AZURE_FUNCTIONS_ENVIRONMENT. */
export function isDevelopment(env: NodeJS.ProcessEnv): boolean {
  return (env.AZURE_FUNCTIONS_ENVIRONMENT ?? "").toLowerCase() === "development";
}

function integer(raw: Map<string, unknown>, key: string, fallback: number): number {
  if (!raw.has(key)) return fallback;
  const v = raw.get(key);
  const n = typeof v === "string" && /^\s*[+-]?\d+\s*$/.test(v) ? Number(v) : v;
  if (typeof n !== "number" || !Number.isSafeInteger(n)) {
    throw new QueueSettingsError(`host.json extensions.queues.${key} is ${JSON.stringify(v)}, which is not an integer.`);
  }
  return n;
}

function timeSpan(raw: Map<string, unknown>, key: string, fallback: number, warnings: string[]): number {
  if (!raw.has(key)) return fallback;
  const v = raw.get(key);
  const text = typeof v === "number" ? String(v) : v;
  if (typeof text !== "string") {
    throw new QueueSettingsError(`host.json extensions.queues.${key} is ${JSON.stringify(v)}, which is not a TimeSpan ("hh:mm:ss").`);
  }
  const ms = parseTimeSpan(text);
  if (ms === undefined) {
    throw new QueueSettingsError(
      `host.json extensions.queues.${key} is ${JSON.stringify(v)}, which is not a TimeSpan ("hh:mm:ss", "hh:mm:ss.fffffff", "d.hh:mm:ss").`,
    );
  }
  if (/^\s*-?\d+\s*$/.test(text)) {
    warnings.push(
      `Warning: host.json extensions.queues.${key} is ${JSON.stringify(v)}, which .NET reads as ${text.trim()} DAYS ` +
        `(${formatTimeSpan(ms)}); write "hh:mm:ss" for hours, minutes and seconds.`,
    );
  }
  return ms;
}

function encoding(v: unknown): QueueMessageEncoding {
  if (v === undefined) return QUEUE_DEFAULTS.messageEncoding;
  const s = typeof v === "string" ? v.trim().toLowerCase() : "";
  if (s === "base64" || s === "none") return s;
  throw new QueueSettingsError(`host.json extensions.queues.messageEncoding is ${JSON.stringify(v)}; it must be "base64" or "none".`);
}

/**
 * .NET's TimeSpan.Parse (invariant culture) for the forms it accepts: `[-]d` (days), `[-][d.]hh:mm[:ss[.fffffff]]`
 * and `[-]d:hh:mm:ss[.fffffff]`, hours 0-23, minutes and seconds 0-59, up to 7 fraction digits. Milliseconds
 * (fractions below 1 ms are dropped), or undefined when .NET would refuse the text.
 */
export function parseTimeSpan(text: string): number | undefined {
  const s = text.trim();
  const days = /^(-)?(\d+)$/.exec(s);
  if (days) return sign(days[1]) * Number(days[2]) * 86_400_000;
  const m = /^(-)?(?:(\d+)\.)?(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,7}))?)?$/.exec(s) ?? dayColonForm(s);
  if (!m) return undefined;
  const [, neg, d, h, min, sec, frac] = m;
  if (Number(h) > 23 || Number(min) > 59 || Number(sec ?? 0) > 59) return undefined;
  const fracMs = frac ? Math.floor(Number(`0.${frac}`) * 1000) : 0;
  const ms = ((Number(d ?? 0) * 24 + Number(h)) * 60 + Number(min)) * 60_000 + Number(sec ?? 0) * 1000 + fracMs;
  return sign(neg) * ms;
}

/** `[-]d:hh:mm:ss[.fffffff]` (TimeSpan's general "g" form), shaped like the main pattern's groups. */
function dayColonForm(s: string): RegExpExecArray | null {
  return /^(-)?(\d+):(\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.(\d{1,7}))?$/.exec(s);
}

function sign(neg: string | undefined): number {
  return neg ? -1 : 1;
}

/** TimeSpan.ToString() ("c"): `[-][d.]hh:mm:ss[.fffffff]`. */
export function formatTimeSpan(ms: number): string {
  const neg = ms < 0;
  let rest = Math.abs(ms);
  const days = Math.floor(rest / 86_400_000);
  rest -= days * 86_400_000;
  const pad = (n: number) => String(n).padStart(2, "0");
  const h = Math.floor(rest / 3_600_000);
  const min = Math.floor((rest % 3_600_000) / 60_000);
  const sec = Math.floor((rest % 60_000) / 1000);
  const frac = rest % 1000;
  return (
    `${neg ? "-" : ""}${days ? `${days}.` : ""}${pad(h)}:${pad(min)}:${pad(sec)}` + (frac ? `.${String(frac).padStart(3, "0")}0000` : "")
  );
}

/** One line for the banner and the docs. */
export function describeQueuesOptions(o: QueuesOptions): string {
  return (
    `batchSize ${o.batchSize}, newBatchThreshold ${o.newBatchThreshold}, maxPollingInterval ${formatTimeSpan(o.maxPollingIntervalMs)}, ` +
    `visibilityTimeout ${formatTimeSpan(o.visibilityTimeoutMs)}, maxDequeueCount ${o.maxDequeueCount}, messageEncoding ${o.messageEncoding}`
  );
}
