import { GatherTally } from "../../src/gather/tally";
import type { CompletionPolicy } from "../../src/gather/types";

const ALL: CompletionPolicy = { mode: "all", agree: false };
const AGREE2: CompletionPolicy = { mode: "quorum", quorum: 2, agree: true };

describe("GatherTally", () => {
  test("a fresh tally: everyone pending", () => {
    const t = new GatherTally(["a", "b", "c"], ALL);
    expect(t.total).toBe(3);
    expect(t.pending).toBe(3);
    expect(t.counts()).toEqual({ total: 3, succeeded: 0, failed: 0, timedOut: 0, abandoned: 0 });
    expect(t.decision()).toBeUndefined();
    expect(t.isRecorded(0)).toBe(false);
  });

  test("counts and pending follow succeed and fail", () => {
    const t = new GatherTally(["a", "b", "c"], ALL);
    t.succeed(1, { price: 3 }, { attempts: 2, durationMs: 15 });
    expect(t.isRecorded(1)).toBe(true);
    expect(t.isRecorded(0)).toBe(false);
    expect(t.pending).toBe(2);
    t.fail(0, "HTTP 503", { attempts: 3 });
    expect(t.counts()).toEqual({ total: 3, succeeded: 1, failed: 1, timedOut: 0, abandoned: 0 });
    expect(t.pending).toBe(1);
    expect(t.decision()).toBeUndefined();
    t.succeed(2, null);
    expect(t.decision()).toEqual({ closedBy: "all-responded", outcome: "complete" });
    expect(t.close({ closedBy: "all-responded", outcome: "complete" })).toEqual({
      responses: [
        { recipientId: "a", status: "failed", error: "HTTP 503", attempts: 3 },
        { recipientId: "b", status: "succeeded", value: { price: 3 }, attempts: 2, durationMs: 15 },
        { recipientId: "c", status: "succeeded", value: null },
      ],
      counts: { total: 3, succeeded: 2, failed: 1, timedOut: 0, abandoned: 0 },
    });
  });

  test("agreement: deep-equal values in a different key order count together", () => {
    const t = new GatherTally(["a", "b", "c", "d"], AGREE2);
    t.succeed(0, { price: 1, currency: "EUR", tags: ["x", "y"] });
    t.succeed(1, { price: 2, currency: "EUR", tags: ["x", "y"] });
    expect(t.decision()).toBeUndefined();
    t.succeed(2, { tags: ["x", "y"], currency: "EUR", price: 1 });
    expect(t.decision()).toEqual({ closedBy: "quorum-reached", outcome: "complete" });
  });

  test("agreement: arrays in a different order are different values", () => {
    const t = new GatherTally(["a", "b", "c"], AGREE2);
    t.succeed(0, [1, 2]);
    t.succeed(1, [2, 1]);
    expect(t.decision()).toBeUndefined();
    t.succeed(2, { n: 1 });
    expect(t.decision()).toEqual({ closedBy: "quorum-unreachable", outcome: "failed" });
  });

  test("progress() reports the counts, the deadline and the phase", () => {
    const t = new GatherTally(["a", "b", "c"], ALL);
    t.succeed(0, 1);
    t.fail(2, "x");
    expect(t.progress("2026-11-22T10:00:05.000Z")).toEqual({
      phase: "gathering",
      total: 3,
      succeeded: 1,
      failed: 1,
      pending: 1,
      deadline: "2026-11-22T10:00:05.000Z",
    });
    expect(t.progress(null, "aggregating")).toEqual({ phase: "aggregating", total: 3, succeeded: 1, failed: 1, pending: 1, deadline: null });
  });

  test("close() at the deadline marks the pending recipients timedOut", () => {
    const t = new GatherTally(["a", "b", "c"], ALL);
    t.succeed(1, 7);
    const decision = t.deadlineDecision();
    expect(decision).toEqual({ closedBy: "deadline", outcome: "partial" });
    expect(t.close(decision)).toEqual({
      responses: [
        { recipientId: "a", status: "timedOut" },
        { recipientId: "b", status: "succeeded", value: 7 },
        { recipientId: "c", status: "timedOut" },
      ],
      counts: { total: 3, succeeded: 1, failed: 0, timedOut: 2, abandoned: 0 },
    });
    expect(t.pending).toBe(0);
  });

  test("deadlineDecision() without any success is failed", () => {
    const t = new GatherTally(["a"], ALL);
    expect(t.deadlineDecision()).toEqual({ closedBy: "deadline", outcome: "failed" });
  });

  test("close() by an early policy decision marks the pending recipients abandoned", () => {
    const t = new GatherTally(["a", "b", "c"], { mode: "first", agree: false });
    t.fail(0, "HTTP 500");
    t.succeed(2, "yes");
    const decision = t.decision()!;
    expect(decision).toEqual({ closedBy: "first-response", outcome: "complete" });
    expect(t.close(decision)).toEqual({
      responses: [
        { recipientId: "a", status: "failed", error: "HTTP 500" },
        { recipientId: "b", status: "abandoned" },
        { recipientId: "c", status: "succeeded", value: "yes" },
      ],
      counts: { total: 3, succeeded: 1, failed: 1, timedOut: 0, abandoned: 1 },
    });
  });

  test("recording a recipient twice throws", () => {
    const t = new GatherTally(["a", "b"], ALL);
    t.succeed(0, 1);
    expect(() => t.succeed(0, 2)).toThrow("recipient a was recorded twice");
    expect(() => t.fail(0, "x")).toThrow("recipient a was recorded twice");
    expect(() => t.settle(0, { recipientId: "a", status: "timedOut" })).toThrow("recipient a was recorded twice");
    expect(t.counts()).toEqual({ total: 2, succeeded: 1, failed: 0, timedOut: 0, abandoned: 0 });
  });

  describe("settle()", () => {
    test("succeeded: counted and kept with attempts and durationMs", () => {
      const t = new GatherTally(["a", "b"], ALL);
      t.settle(0, { recipientId: "a", status: "succeeded", value: { v: 1 }, attempts: 2, durationMs: 40 });
      t.settle(1, { recipientId: "b", status: "succeeded" });
      expect(t.counts()).toEqual({ total: 2, succeeded: 2, failed: 0, timedOut: 0, abandoned: 0 });
      expect(t.close(t.decision()!).responses).toEqual([
        { recipientId: "a", status: "succeeded", value: { v: 1 }, attempts: 2, durationMs: 40 },
        { recipientId: "b", status: "succeeded", value: null },
      ]);
    });

    test("succeeded answers count towards agreement", () => {
      const t = new GatherTally(["a", "b", "c"], AGREE2);
      t.settle(0, { recipientId: "a", status: "succeeded", value: { x: 1, y: 2 } });
      t.settle(1, { recipientId: "b", status: "succeeded", value: { y: 2, x: 1 } });
      expect(t.decision()).toEqual({ closedBy: "quorum-reached", outcome: "complete" });
    });

    test("failed: counted, with its error or 'failed'", () => {
      const t = new GatherTally(["a", "b"], ALL);
      t.settle(0, { recipientId: "a", status: "failed", error: "HTTP 404", attempts: 1 });
      t.settle(1, { recipientId: "b", status: "failed" });
      expect(t.counts()).toEqual({ total: 2, succeeded: 0, failed: 2, timedOut: 0, abandoned: 0 });
      expect(t.decision()).toEqual({ closedBy: "all-failed", outcome: "failed" });
      expect(t.close(t.decision()!).responses).toEqual([
        { recipientId: "a", status: "failed", error: "HTTP 404", attempts: 1 },
        { recipientId: "b", status: "failed", error: "failed" },
      ]);
    });

    test("timedOut: counted, no longer pending, the gather closes as deadline", () => {
      const t = new GatherTally(["a", "b"], ALL);
      t.settle(0, { recipientId: "a", status: "succeeded", value: 1 });
      t.settle(1, { recipientId: "b", status: "timedOut" });
      expect(t.pending).toBe(0);
      expect(t.counts()).toEqual({ total: 2, succeeded: 1, failed: 0, timedOut: 1, abandoned: 0 });
      expect(t.decision()).toEqual({ closedBy: "deadline", outcome: "partial" });
    });

    test("abandoned: counted and no longer pending", () => {
      const t = new GatherTally(["a", "b"], ALL);
      t.settle(1, { recipientId: "b", status: "abandoned" });
      expect(t.pending).toBe(1);
      expect(t.counts()).toEqual({ total: 2, succeeded: 0, failed: 0, timedOut: 0, abandoned: 1 });
      expect(t.close({ closedBy: "deadline", outcome: "failed" }).responses).toEqual([
        { recipientId: "a", status: "timedOut" },
        { recipientId: "b", status: "abandoned" },
      ]);
    });
  });
});
