/** Limits and settings read from app settings (environment), with the defaults of docs/api.md. */

/**
 * The longest deadline a gather may have: 5 days. Every durable timer of a gather (its deadline, each retry
 * wait) falls before it, so no timer needs the host's long-timer splitting (over 6 days on the Azure Storage
 * backend: docs/design.md, "Timers"), and a gather's whole life stays shorter than PAYLOAD_RETENTION_DAYS.
 */
export const MAX_GATHER_DEADLINE_MS = 432_000_000;
/** The deadline of a gather with `retry` and no `completion.timeoutMs`: retries always end somewhere. */
export const DEFAULT_RETRY_DEADLINE_MS = MAX_GATHER_DEADLINE_MS;

export interface Limits {
  maxRecipients: number;
  maxResponseBytes: number;
  maxRequestBytes: number;
  /** Above this many recipients the orchestrator fans out to sub-orchestrations of this size. */
  fanoutBatchSize: number;
  /** Origins URL recipients and notify URLs may use; empty refuses every URL. */
  recipientUrlAllowlist: string[];
  /** RECIPIENT_QUEUE_ALLOWLIST: queue names (a trailing `*` matches any rest) queue recipients may use; empty refuses every queue. */
  recipientQueueAllowlist: string[];
  /**
   * The most delivery attempts one gather may make: recipients × retry.maxAttempts (1 without retry).
   * Bounds the outbound calls a single small request can cause.
   */
  maxAttemptsPerGather: number;
  /** The result carries `responses` (and collect's values) inline while they fit in this many bytes. */
  resultInlineBytes: number;
}

/**
 * A batch hands its outcomes and answer facts to its parent in one durable payload (≈ 400 bytes a
 * recipient at most), and the Durable Task Scheduler refuses payloads over 1 MiB: batches stay ≤ 1000.
 */
const MAX_FANOUT_BATCH_SIZE = 1000;
/**
 * The aggregation activity's input holds every recipient's packed outcome (status, attempts, duration,
 * where its answer is stored: up to about 53 bytes a recipient when every answer has a group of its own), and
 * the scheduler refuses payloads over 1 MiB (the test in test/unit/limits.test.ts builds that worst case).
 */
const MAX_MAX_RECIPIENTS = 15_000;
/** The inline part of the orchestration output must leave room under the scheduler's 1 MiB. */
const MAX_RESULT_INLINE_BYTES = 524_288;

export const DEFAULT_LIMITS: Limits = Object.freeze({
  maxRecipients: 10_000,
  maxResponseBytes: 65_536,
  maxRequestBytes: 1_048_576,
  fanoutBatchSize: 250,
  recipientUrlAllowlist: [],
  recipientQueueAllowlist: [],
  // 5 attempts for each of MAX_RECIPIENTS (10000) recipients: a full-size gather may still retry every
  // recipient four times, while 100 recipients cannot make more than 1000 calls (maxAttempts ≤ 10).
  maxAttemptsPerGather: 50_000,
  resultInlineBytes: 262_144,
}) as Limits;

function positiveInt(env: NodeJS.ProcessEnv, name: string, fallback: number, max = Number.MAX_SAFE_INTEGER): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new Error(`App setting ${name} must be a whole number from 1 to ${max}, got "${raw}"`);
  }
  return value;
}

export function parseAllowlist(raw: string | undefined): string[] {
  return (raw ?? "")
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0);
}

export function readLimits(env: NodeJS.ProcessEnv = process.env): Limits {
  return {
    maxRecipients: positiveInt(env, "MAX_RECIPIENTS", DEFAULT_LIMITS.maxRecipients, MAX_MAX_RECIPIENTS),
    maxResponseBytes: positiveInt(env, "MAX_RESPONSE_BYTES", DEFAULT_LIMITS.maxResponseBytes),
    maxRequestBytes: positiveInt(env, "MAX_REQUEST_BYTES", DEFAULT_LIMITS.maxRequestBytes),
    fanoutBatchSize: positiveInt(env, "FANOUT_BATCH_SIZE", DEFAULT_LIMITS.fanoutBatchSize, MAX_FANOUT_BATCH_SIZE),
    recipientUrlAllowlist: parseAllowlist(env.RECIPIENT_URL_ALLOWLIST),
    recipientQueueAllowlist: parseAllowlist(env.RECIPIENT_QUEUE_ALLOWLIST),
    maxAttemptsPerGather: positiveInt(env, "MAX_ATTEMPTS_PER_GATHER", DEFAULT_LIMITS.maxAttemptsPerGather),
    resultInlineBytes: positiveInt(env, "RESULT_INLINE_BYTES", DEFAULT_LIMITS.resultInlineBytes, MAX_RESULT_INLINE_BYTES),
  };
}
