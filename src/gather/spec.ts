/**
 * The request's own shapes: JSON values and the policy specs. Below every other module of src/gather (it
 * imports nothing), so the transports, facts and json helpers can use them without an import circle through
 * types.ts, which gathers the shapes that need those modules.
 */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export type CompletionMode = "all" | "first" | "quorum";

export interface CompletionPolicy {
  mode: CompletionMode;
  /** Required for mode "quorum". */
  quorum?: number;
  /** With mode "quorum": the quorum counts equal answers (deep JSON equality). */
  agree: boolean;
  /** The gather deadline, relative to the orchestration start. */
  timeoutMs?: number;
}

export type AggregateKind = "collect" | "best" | "summary" | "vote";

export interface AggregateSpec {
  kind: AggregateKind;
  /** Dot path into each value; required for best and summary, optional for vote. */
  field?: string;
  /** For best: lowest or highest wins. */
  order: "min" | "max";
}

export interface RetrySpec {
  maxAttempts: number;
  firstRetryIntervalMs: number;
  backoffCoefficient: number;
  maxRetryIntervalMs?: number;
}

/** Where the gather's close event goes (API.md "Notification when a gather closes"). */
export interface OnCloseSpec {
  url: string;
}

/** How many recipients may finally fail before the gather closes as failed (either bound, or both). */
export interface ToleranceSpec {
  maxFailures?: number;
  /** A percentage of all the gather's recipients. */
  maxFailurePercent?: number;
}

export interface AuctionSpec {
  notify: string[];
  /** How many answers make the gather complete ("all" in auction mode). */
  expected?: number;
}

/** How a gather's recipients ended (or stand). */
export interface Counts {
  total: number;
  succeeded: number;
  failed: number;
  timedOut: number;
  abandoned: number;
}

/** Fan-out control (docs/api.md "Fan-out control"): at least one of the two. */
export interface ConcurrencySpec {
  /** At no moment more recipient calls of the gather in progress, across all its batches. */
  maxInFlight?: number;
  /** The same per URL origin (scheme, host, port); simulated recipients have none. */
  perOrigin?: number;
}
