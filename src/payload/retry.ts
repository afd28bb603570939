/**
 * The payload store's retry policy: the one place that says which storage failures are worth another
 * attempt and how long to keep trying. The storage SDK's own retries are switched off (blobStore.ts), so
 * attempts are never multiplied by a second policy underneath.
 *
 * - Transient only: a connection refused, reset or cut (ECONNREFUSED, ECONNRESET, EPIPE, ...), a timeout
 *   (our per-attempt timeout included), a body that ended before the bytes it announced, and the statuses
 *   408, 429, 500, 502, 503, 504. Any other answer of the service (400, 403, 404, 409, 412, 416, ...) is
 *   final at once: retrying cannot change it, and 404/409/412 mean something to the caller.
 * - Bounded: attempts start while less than `maxElapsedMs` (2 minutes) has passed since the first one, so
 *   an operation gives up after at most maxElapsedMs + tryTimeoutMs. Longer than a plausible outage of
 *   the store (a restart, a failover): an answer the service got is stored once the store is back.
 * - Exponential back-off with jitter: the wait before retry n is between half and all of
 *   firstDelayMs × 2^(n-1), capped at maxDelayMs, so processes that failed together do not come back in step.
 * - Each attempt is abandoned after `tryTimeoutMs` (a stalled connection is never waited on forever).
 */

export interface StoreRetryPolicy {
  /** No attempt starts once this long has passed since the first (default 120 s). */
  maxElapsedMs: number;
  /** Back-off before the second attempt, doubled for each later one (default 500 ms). */
  firstDelayMs: number;
  /** Longest back-off between two attempts (default 10 s). */
  maxDelayMs: number;
  /** One attempt (request and whole body) is abandoned after this long, and counts as transient (default 30 s). */
  tryTimeoutMs: number;
}

export const DEFAULT_STORE_RETRY: Readonly<StoreRetryPolicy> = Object.freeze({
  maxElapsedMs: 120_000,
  firstDelayMs: 500,
  maxDelayMs: 10_000,
  tryTimeoutMs: 30_000,
});

/** Statuses a later attempt may see differently. */
const TRANSIENT_STATUSES: ReadonlySet<number> = new Set([408, 429, 500, 502, 503, 504]);

/** Network failures of one connection (Node's error codes; undici's for completeness). */
const TRANSIENT_CODES: ReadonlySet<string> = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "ESOCKETTIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENETDOWN",
  "EAI_AGAIN",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  // @azure/core-rest-pipeline: the request could not be sent (its cause is one of the above)
  "REQUEST_SEND_ERROR",
]);

interface FailureShape {
  name?: unknown;
  code?: unknown;
  statusCode?: unknown;
  message?: unknown;
  transient?: unknown;
  cause?: unknown;
}

/** Whether another attempt may succeed where this one failed (see the list at the top). */
export function isTransient(error: unknown): boolean {
  for (
    let e = error as FailureShape | undefined, depth = 0;
    e && typeof e === "object" && depth < 5;
    e = e.cause as FailureShape, depth++
  ) {
    if (e.transient === true) return true;
    // An answer of the service decides alone: a 404 carrying a network-looking message is still a 404.
    if (typeof e.statusCode === "number" && e.statusCode > 0) return TRANSIENT_STATUSES.has(e.statusCode);
    if (e.name === "AbortError" || e.name === "TimeoutError") return true;
    if (typeof e.code === "string" && TRANSIENT_CODES.has(e.code.toUpperCase())) return true;
    // A listing whose body broke off while the SDK read it ("Error reading response as text: aborted"), or
    // whose XML ended early.
    if (e.code === "PARSE_ERROR" && typeof e.message === "string" && /reading response|unclosed root tag|unexpected end/i.test(e.message)) {
      return true;
    }
    if (typeof e.message === "string" && /\b(ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT|socket hang up)\b/i.test(e.message)) return true;
  }
  return false;
}

/** The wait before retry `retry` (1-based): equal jitter over the capped exponential delay. */
export function backoffMs(policy: StoreRetryPolicy, retry: number, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.firstDelayMs * Math.pow(2, Math.max(0, retry - 1)));
  return ceiling / 2 + random() * (ceiling / 2);
}

/** What withRetries uses for time (replaceable in tests). */
export interface RetryClock {
  now(): number;
  sleep(ms: number): Promise<void>;
  random(): number;
}

const realClock: RetryClock = {
  now: () => performance.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  random: Math.random,
};

/** Thrown by an attempt that ran past tryTimeoutMs (the signal's reason). */
export class AttemptTimeoutError extends Error {
  readonly transient = true;
  constructor(ms: number) {
    super(`the storage request took longer than ${ms} ms`);
    this.name = "TimeoutError";
  }
}

/**
 * Runs `attempt` until it succeeds, fails with a non-transient error, or the policy's time is up (then
 * the last error is thrown as it is). Each attempt gets a signal that aborts after tryTimeoutMs: pass it
 * to the request, and stop reading a body when it fires.
 */
export async function withRetries<T>(
  attempt: (signal: AbortSignal, attemptNumber: number) => Promise<T>,
  policy: StoreRetryPolicy = DEFAULT_STORE_RETRY,
  clock: RetryClock = realClock,
): Promise<T> {
  const started = clock.now();
  for (let n = 1; ; n++) {
    const controller = new AbortController();
    // A plain timer (no AbortSignal.timeout): nothing lingers once the attempt is over.
    const timer = setTimeout(() => controller.abort(new AttemptTimeoutError(policy.tryTimeoutMs)), policy.tryTimeoutMs);
    try {
      return await attempt(controller.signal, n);
    } catch (error) {
      clearTimeout(timer);
      if (!isTransient(error)) throw error;
      const wait = backoffMs(policy, n, clock.random);
      if (clock.now() + wait - started >= policy.maxElapsedMs) throw error;
      await clock.sleep(wait);
    } finally {
      clearTimeout(timer);
    }
  }
}
