/**
 * Retry timing of a recipient's attempts, as DurableTask.Core's RetryInterceptor computes it
 * (ComputeNextDelay): first interval × coefficient^(retries so far), capped by the maximum interval.
 * The orchestrator runs the retries itself (durable timers it can cancel when the gather closes), so
 * this is the one place that says when the next attempt starts.
 */
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
  return retry.maxRetryIntervalMs !== undefined ? Math.min(delay, retry.maxRetryIntervalMs) : delay;
}
