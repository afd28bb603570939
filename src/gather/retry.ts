/**
 * Retry timing of a recipient's attempts, as DurableTask.Core's RetryInterceptor computes it
 * (ComputeNextDelay): first interval × coefficient^(retries so far), capped by the maximum interval.
 * The orchestrator runs the retries itself (durable timers it can cancel when the gather closes), so
 * this is the one place that says when the next attempt starts.
 */
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
  // Capped whatever the spec says (inputs of older runs had no maxRetryIntervalMs): a wait longer than the
  // longest deadline can never count, and an unbounded one overflows Date (sent to the host as fireAt null).
  const cap = Math.min(retry.maxRetryIntervalMs ?? MAX_GATHER_DEADLINE_MS, MAX_GATHER_DEADLINE_MS);
  return Number.isFinite(delay) ? Math.min(delay, cap) : cap;
}
