/**
 * Retry timing of a recipient's attempts, as DurableTask.Core's RetryInterceptor computes it
 * (ComputeNextDelay): first interval × coefficient^(retries so far), capped by the maximum interval.
 * The orchestrator runs the retries itself (durable timers it can cancel when the gather closes), so
 * this is the one place that says when the next attempt starts.
 */
import { retryAfterOf, seconds } from "./failures";
import { MAX_GATHER_DEADLINE_MS } from "./limits";
import type { RetrySpec } from "./types";

/** Failures that no retry can help: the gather closed or was stopped while the call ran. */
const FINAL_FAILURE = /^cancelled:/;

export function isFinalFailure(reason: string): boolean {
  return FINAL_FAILURE.test(reason);
}

/**
 * The delay before the next attempt after `failedAttempts` failed ones (1-based), or undefined when
 * no attempt is left.
 */
export function retryDelayMs(retry: RetrySpec | undefined, failedAttempts: number): number | undefined {
  if (!retry || failedAttempts >= retry.maxAttempts) return undefined;
  const delay = retry.firstRetryIntervalMs * Math.pow(retry.backoffCoefficient, failedAttempts - 1);
  const cap = maxRetryIntervalMs(retry);
  return Number.isFinite(delay) ? Math.min(delay, cap) : cap;
}

/**
 * Capped whatever the spec says (inputs of older runs had no maxRetryIntervalMs): a wait longer than the
 * longest deadline can never count, and an unbounded one overflows Date (sent to the host as fireAt null).
 */
function maxRetryIntervalMs(retry: RetrySpec): number {
  return Math.min(retry.maxRetryIntervalMs ?? MAX_GATHER_DEADLINE_MS, MAX_GATHER_DEADLINE_MS);
}

/**
 * After a failed attempt (`failure`: its reason as the orchestrator got it), when the next attempt starts, or
 * the reason the recipient finally failed. The wait is the backoff, or longer when the recipient asked for
 * more (Retry-After): a wait over maxRetryIntervalMs or ending at or after the deadline is not made. Without
 * an attempt left, Retry-After changes nothing. Times in ms since the epoch; pure, so the orchestrator passes
 * its replay-safe clock.
 */
export function nextRetry(
  retry: RetrySpec | undefined,
  failedAttempts: number,
  failure: string,
  nowMs: number,
  deadlineMs: number | undefined,
): { retryAtMs?: number; reason: string } {
  const { reason, retryAfterMs } = retryAfterOf(failure);
  const backoff = isFinalFailure(reason) ? undefined : retryDelayMs(retry, failedAttempts);
  if (backoff === undefined || !retry) return { reason };
  if (retryAfterMs !== undefined && retryAfterMs > backoff) {
    const asked = `Retry-After ${seconds(retryAfterMs)} s`;
    // The deadline first: maxRetryIntervalMs defaults to the deadline's length, and is then not what stood in the way.
    if (deadlineMs !== undefined && nowMs + retryAfterMs >= deadlineMs) return { reason: `${reason} (${asked} is past the deadline)` };
    const cap = maxRetryIntervalMs(retry);
    if (retryAfterMs > cap) return { reason: `${reason} (${asked} is over retry.maxRetryIntervalMs, ${cap} ms)` };
    return { retryAtMs: nowMs + retryAfterMs, reason };
  }
  // An attempt that could only start after the deadline can never count: settle the recipient now.
  if (deadlineMs !== undefined && nowMs + backoff >= deadlineMs)
    return { reason: `${reason} (the next retry would start after the deadline)` };
  return { retryAtMs: nowMs + backoff, reason };
}
