/** Limits and settings read from app settings (environment), with the defaults of API.md. */

export interface Limits {
  maxRecipients: number;
  maxResponseBytes: number;
  maxRequestBytes: number;
  /** Above this many recipients the orchestrator fans out to sub-orchestrations of this size. */
  fanoutBatchSize: number;
  /** Origins URL recipients and notify URLs may use; empty refuses every URL. */
  recipientUrlAllowlist: string[];
  /**
   * The most delivery attempts one gather may make: recipients × retry.maxAttempts (1 without retry).
   * Bounds the outbound calls a single small request can cause.
   */
  maxAttemptsPerGather: number;
}

export const DEFAULT_LIMITS: Limits = Object.freeze({
  maxRecipients: 10_000,
  maxResponseBytes: 65_536,
  maxRequestBytes: 1_048_576,
  fanoutBatchSize: 500,
  recipientUrlAllowlist: [],
  // 5 attempts for each of MAX_RECIPIENTS (10000) recipients: a full-size gather may still retry every
  // recipient four times, while 100 recipients cannot make more than 1000 calls (maxAttempts ≤ 10).
  maxAttemptsPerGather: 50_000,
}) as Limits;

function positiveInt(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) {
    throw new Error(`App setting ${name} must be a positive integer, got "${raw}"`);
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
    maxRecipients: positiveInt(env, "MAX_RECIPIENTS", DEFAULT_LIMITS.maxRecipients),
    maxResponseBytes: positiveInt(env, "MAX_RESPONSE_BYTES", DEFAULT_LIMITS.maxResponseBytes),
    maxRequestBytes: positiveInt(env, "MAX_REQUEST_BYTES", DEFAULT_LIMITS.maxRequestBytes),
    fanoutBatchSize: positiveInt(env, "FANOUT_BATCH_SIZE", DEFAULT_LIMITS.fanoutBatchSize),
    recipientUrlAllowlist: parseAllowlist(env.RECIPIENT_URL_ALLOWLIST),
    maxAttemptsPerGather: positiveInt(env, "MAX_ATTEMPTS_PER_GATHER", DEFAULT_LIMITS.maxAttemptsPerGather),
  };
}
