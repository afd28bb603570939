/**
 * Retry-After, end to end in the domain: the header read by the HTTP transport (parseRetryAfter), the wait
 * carried across the activity boundary in the failure's reason (withRetryAfter → the host's framing →
 * failureReason → retryAfterOf), and the orchestrator's decision on it (nextRetry).
 */
import { failureReason, retryAfterOf, withRetryAfter } from "../../src/gather/failures";
import { MAX_GATHER_DEADLINE_MS } from "../../src/gather/limits";
import { nextRetry } from "../../src/gather/retry";
import { parseRetryAfter } from "../../src/gather/retryAfter";
import type { RetrySpec } from "../../src/gather/types";

const NOW = Date.parse("2026-11-22T10:00:00.000Z");

describe("parseRetryAfter", () => {
  test("delta-seconds", () => {
    expect(parseRetryAfter("2", NOW)).toBe(2000);
    expect(parseRetryAfter(" 30 ", NOW)).toBe(30_000);
    expect(parseRetryAfter("0", NOW)).toBe(0);
    expect(parseRetryAfter(["5", "9"], NOW)).toBe(5000);
  });

  test("an HTTP-date in each of its three forms: the time left until it (whole ms, rounded up), 0 once past", () => {
    expect(parseRetryAfter("Sun, 22 Nov 2026 10:00:03 GMT", NOW)).toBe(3000);
    expect(parseRetryAfter("Sun, 22 Nov 2026 10:00:03 GMT", NOW + 0.4)).toBe(3000);
    expect(parseRetryAfter("Sunday, 22-Nov-26 10:01:00 GMT", NOW)).toBe(60_000);
    expect(parseRetryAfter("Sun Nov 22 10:00:10 2026", NOW)).toBe(10_000);
    expect(parseRetryAfter("Sun Nov  1 10:00:00 2026", NOW)).toBe(0);
    expect(parseRetryAfter("Sun, 22 Nov 2026 09:59:00 GMT", NOW)).toBe(0);
  });

  test("capped at the longest gather deadline, whatever the recipient asks", () => {
    expect(parseRetryAfter("999999999999999999999", NOW)).toBe(MAX_GATHER_DEADLINE_MS);
    expect(parseRetryAfter("Fri, 01 Jan 2100 00:00:00 GMT", NOW)).toBe(MAX_GATHER_DEADLINE_MS);
  });

  test.each([
    undefined,
    "",
    "-1",
    "1.5",
    "soon",
    "garbage 1",
    "Sun, 31 Feb 2026 10:00:00 GMT",
    "Sun, 22 Nov 2026 10:00:03 +0100",
    "2026-11-22T10:00:03Z",
  ])("%j says nothing usable: ignored", (header) => {
    expect(parseRetryAfter(header, NOW)).toBeUndefined();
  });
});

describe("the wait crosses the activity boundary in the failure's reason", () => {
  test("one short line, read back exactly, through the host's framings", () => {
    const reason = withRetryAfter("HTTP 429", 1532);
    expect(reason).toBe("HTTP 429 (Retry-After 1.532 s)");
    const framings = [
      `Activity function 'callRecipient' failed: RecipientError: ${reason} \n {"message":${JSON.stringify(reason)}}`,
      `Activity function 'callRecipient' failed: Result: Failure\nException: RecipientError: ${reason}\nStack: RecipientError: x\n    at y`,
    ];
    for (const message of framings) {
      expect(retryAfterOf(failureReason(new Error(message)))).toEqual({ reason: "HTTP 429", retryAfterMs: 1532 });
    }
    expect(retryAfterOf(withRetryAfter("HTTP 503", MAX_GATHER_DEADLINE_MS))).toEqual({
      reason: "HTTP 503",
      retryAfterMs: MAX_GATHER_DEADLINE_MS,
    });
  });

  test("a reason without the note, or with one that is not the bounded form, is just a reason", () => {
    expect(retryAfterOf("HTTP 503")).toEqual({ reason: "HTTP 503" });
    expect(retryAfterOf("HTTP 429 (Retry-After 1234567 s)")).toEqual({ reason: "HTTP 429 (Retry-After 1234567 s)" });
    expect(retryAfterOf("HTTP 429 (Retry-After 2 s) trailing")).toEqual({ reason: "HTTP 429 (Retry-After 2 s) trailing" });
  });
});

describe("nextRetry: backoff, Retry-After, maxRetryIntervalMs and the deadline", () => {
  const retry = (extra: Partial<RetrySpec> = {}): RetrySpec => ({
    maxAttempts: 3,
    firstRetryIntervalMs: 500,
    backoffCoefficient: 1,
    maxRetryIntervalMs: 60_000,
    ...extra,
  });
  const deadline = NOW + 120_000;

  test("the backoff when the recipient asked for less (or nothing)", () => {
    expect(nextRetry(retry(), 1, "HTTP 503", NOW, deadline)).toEqual({ retryAtMs: NOW + 500, reason: "HTTP 503" });
    expect(nextRetry(retry(), 1, "HTTP 429 (Retry-After 0.2 s)", NOW, deadline)).toEqual({ retryAtMs: NOW + 500, reason: "HTTP 429" });
  });

  test("at least the wait the recipient asked for", () => {
    expect(nextRetry(retry(), 1, "HTTP 429 (Retry-After 2 s)", NOW, deadline)).toEqual({ retryAtMs: NOW + 2000, reason: "HTTP 429" });
    expect(nextRetry(retry(), 2, "HTTP 503 (Retry-After 30 s)", NOW, undefined)).toEqual({ retryAtMs: NOW + 30_000, reason: "HTTP 503" });
  });

  test("a wait ending at or after the deadline is not made: the recipient fails at once, the error naming the status", () => {
    expect(nextRetry(retry(), 1, "HTTP 429 (Retry-After 30 s)", NOW, NOW + 30_000)).toEqual({
      reason: "HTTP 429 (Retry-After 30 s is past the deadline)",
    });
    expect(nextRetry(retry(), 1, "HTTP 429 (Retry-After 30 s)", NOW, NOW + 30_001)).toEqual({
      retryAtMs: NOW + 30_000,
      reason: "HTTP 429",
    });
    // The backoff alone past the deadline: the message it always had.
    expect(nextRetry(retry({ firstRetryIntervalMs: 5000 }), 1, "HTTP 503 (Retry-After 1 s)", NOW, NOW + 4000)).toEqual({
      reason: "HTTP 503 (the next retry would start after the deadline)",
    });
  });

  test("past the deadline is named first (maxRetryIntervalMs defaults to the deadline's length)", () => {
    expect(nextRetry(retry({ maxRetryIntervalMs: 10_000 }), 1, "HTTP 429 (Retry-After 30 s)", NOW, NOW + 10_000)).toEqual({
      reason: "HTTP 429 (Retry-After 30 s is past the deadline)",
    });
  });

  test("a wait over retry.maxRetryIntervalMs is not made", () => {
    expect(nextRetry(retry({ maxRetryIntervalMs: 10_000 }), 1, "HTTP 429 (Retry-After 30 s)", NOW, deadline)).toEqual({
      reason: "HTTP 429 (Retry-After 30 s is over retry.maxRetryIntervalMs, 10000 ms)",
    });
    expect(nextRetry(retry({ maxRetryIntervalMs: 10_000 }), 1, "HTTP 429 (Retry-After 10 s)", NOW, deadline)).toEqual({
      retryAtMs: NOW + 10_000,
      reason: "HTTP 429",
    });
  });

  test("without retry, or with no attempt left, Retry-After changes nothing (the error is the status alone)", () => {
    expect(nextRetry(undefined, 1, "HTTP 429 (Retry-After 2 s)", NOW, deadline)).toEqual({ reason: "HTTP 429" });
    expect(nextRetry(retry(), 3, "HTTP 429 (Retry-After 2 s)", NOW, deadline)).toEqual({ reason: "HTTP 429" });
    expect(nextRetry(retry(), 1, "cancelled: the gather closed before this call finished", NOW, deadline)).toEqual({
      reason: "cancelled: the gather closed before this call finished",
    });
  });
});
