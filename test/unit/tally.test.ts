import { answerFacts } from "../../src/gather/facts";
import { GatherTally, progressOf } from "../../src/gather/tally";
import type { CompletionPolicy, Json } from "../../src/gather/types";

const ALL: CompletionPolicy = { mode: "all", agree: false };
const AGREE2: CompletionPolicy = { mode: "quorum", quorum: 2, agree: true };
/** The facts of an answer, as callRecipient computes them for an agreement gather. */
const facts = (value: Json) => answerFacts(value, { agree: true, aggregate: { kind: "collect", order: "min" } });

describe("GatherTally", () => {
  test("a fresh tally: everyone pending", () => {
    const t = new GatherTally(3, ALL);
    expect(t.total).toBe(3);
    expect(t.pending).toBe(3);
    expect(t.counts()).toEqual({ total: 3, succeeded: 0, failed: 0, timedOut: 0, abandoned: 0 });
    expect(t.decision()).toBeUndefined();
    expect(t.isRecorded(0)).toBe(false);
  });

  test("counts and pending follow succeed and fail; close() hands back outcomes and facts by index", () => {
    const t = new GatherTally(3, ALL);
    t.succeed(1, facts({ price: 3 }), { attempts: 2, durationMs: 15 });
    expect(t.isRecorded(1)).toBe(true);
    expect(t.isRecorded(0)).toBe(false);
    expect(t.pending).toBe(2);
    t.fail(0, "HTTP 503", { attempts: 3 });
    expect(t.counts()).toEqual({ total: 3, succeeded: 1, failed: 1, timedOut: 0, abandoned: 0 });
    expect(t.pending).toBe(1);
    expect(t.decision()).toBeUndefined();
    t.succeed(2, facts(null));
    expect(t.decision()).toEqual({ closedBy: "all-responded", outcome: "complete" });
    const closed = t.close({ closedBy: "all-responded", outcome: "complete" });
    expect(closed.outcomes).toEqual([
      { status: "failed", error: "HTTP 503", attempts: 3 },
      { status: "succeeded", attempts: 2, durationMs: 15 },
      { status: "succeeded" },
    ]);
    expect(closed.facts).toEqual([null, facts({ price: 3 }), facts(null)]);
    expect(closed.counts).toEqual({ total: 3, succeeded: 2, failed: 1, timedOut: 0, abandoned: 0 });
    expect(t.plan()).toEqual({ kind: "collect", count: 2, bytes: 15 });
  });

  test("failure tolerance: the failure over the bound closes the gather; the rest are abandoned", () => {
    const t = new GatherTally(5, { ...ALL, failuresAllowed: 1 });
    t.succeed(0, facts(1));
    t.fail(1, "HTTP 500");
    expect(t.decision()).toBeUndefined();
    t.fail(3, "HTTP 500");
    const decision = t.decision();
    expect(decision).toEqual({ closedBy: "failure-tolerance-exceeded", outcome: "failed" });
    expect(t.close(decision).outcomes.map((o) => o.status)).toEqual(["succeeded", "failed", "abandoned", "failed", "abandoned"]);
  });

  test("a very long error is cut, so outcomes stay bounded", () => {
    const t = new GatherTally(1, ALL);
    t.fail(0, "e".repeat(5000));
    expect(t.close(t.decision()).outcomes[0].error!.length).toBeLessThanOrEqual(300);
  });

  test("agreement: deep-equal values in a different key order count together (by digest)", () => {
    const t = new GatherTally(4, AGREE2);
    t.succeed(0, facts({ price: 1, currency: "EUR", tags: ["x", "y"] }));
    t.succeed(1, facts({ price: 2, currency: "EUR", tags: ["x", "y"] }));
    expect(t.decision()).toBeUndefined();
    t.succeed(2, facts({ tags: ["x", "y"], currency: "EUR", price: 1 }));
    expect(t.decision()).toEqual({ closedBy: "quorum-reached", outcome: "complete" });
  });

  test("agreement: arrays in a different order are different values", () => {
    const t = new GatherTally(3, AGREE2);
    t.succeed(0, facts([1, 2]));
    t.succeed(1, facts([2, 1]));
    expect(t.decision()).toBeUndefined();
    t.succeed(2, facts({ n: 1 }));
    expect(t.decision()).toEqual({ closedBy: "quorum-unreachable", outcome: "failed" });
  });

  test("progress() reports the counts, the deadline and the phase", () => {
    const t = new GatherTally(3, ALL);
    t.succeed(0, facts(1));
    t.fail(2, "x");
    expect(t.progress("2026-11-22T10:00:05.000Z")).toEqual({
      phase: "gathering",
      total: 3,
      succeeded: 1,
      failed: 1,
      pending: 1,
      deadline: "2026-11-22T10:00:05.000Z",
    });
    expect(t.progress(null, "aggregating")).toEqual({
      phase: "aggregating",
      total: 3,
      succeeded: 1,
      failed: 1,
      pending: 1,
      deadline: null,
    });
  });

  test("progress() shows timed out and abandoned once there are any, so the figures add up to the total", () => {
    const t = new GatherTally(4, ALL);
    t.succeed(0, facts(1));
    t.settle(1, { status: "abandoned", attempts: 1 });
    const closed = t.close({ closedBy: "deadline", outcome: "partial" });
    expect(progressOf(closed.counts, null, "done")).toEqual({
      phase: "done",
      total: 4,
      succeeded: 1,
      failed: 0,
      timedOut: 2,
      abandoned: 1,
      pending: 0,
      deadline: null,
    });
  });

  test("close() at the deadline marks the pending recipients timedOut", () => {
    const t = new GatherTally(3, ALL);
    t.succeed(1, facts(7));
    const decision = t.deadlineDecision();
    expect(decision).toEqual({ closedBy: "deadline", outcome: "partial" });
    const closed = t.close(decision);
    expect(closed.outcomes).toEqual([{ status: "timedOut" }, { status: "succeeded" }, { status: "timedOut" }]);
    expect(closed.counts).toEqual({ total: 3, succeeded: 1, failed: 0, timedOut: 2, abandoned: 0 });
    expect(t.pending).toBe(0);
  });

  test("deadlineDecision() without any success is failed", () => {
    const t = new GatherTally(1, ALL);
    expect(t.deadlineDecision()).toEqual({ closedBy: "deadline", outcome: "failed" });
  });

  test("close() by an early policy decision, or with none (a parent closed the batch), marks pending as abandoned", () => {
    const t = new GatherTally(3, { mode: "first", agree: false });
    t.fail(0, "HTTP 500");
    t.succeed(2, facts("yes"));
    const decision = t.decision()!;
    expect(decision).toEqual({ closedBy: "first-response", outcome: "complete" });
    expect(t.close(decision).outcomes).toEqual([{ status: "failed", error: "HTTP 500" }, { status: "abandoned" }, { status: "succeeded" }]);
    const closedByParent = new GatherTally(2, ALL);
    expect(closedByParent.close(undefined).outcomes).toEqual([{ status: "abandoned" }, { status: "abandoned" }]);
  });

  test("recording a recipient twice throws", () => {
    const t = new GatherTally(2, ALL);
    t.succeed(0, facts(1));
    expect(() => t.succeed(0, facts(2))).toThrow("recipient #0 was recorded twice");
    expect(() => t.fail(0, "x")).toThrow("recipient #0 was recorded twice");
    expect(() => t.settle(0, { status: "timedOut" })).toThrow("recipient #0 was recorded twice");
    expect(t.counts()).toEqual({ total: 2, succeeded: 1, failed: 0, timedOut: 0, abandoned: 0 });
  });

  describe("settle() (a batch's outcomes merged into its parent)", () => {
    test("succeeded: counted, with attempts, durationMs and the answer's facts", () => {
      const t = new GatherTally(2, ALL, { kind: "summary", field: "v", order: "min" });
      t.settle(
        0,
        { status: "succeeded", attempts: 2, durationMs: 40 },
        answerFacts({ v: 4 }, { agree: false, aggregate: { kind: "summary", field: "v", order: "min" } }),
      );
      t.settle(1, { status: "succeeded" });
      expect(t.counts()).toEqual({ total: 2, succeeded: 2, failed: 0, timedOut: 0, abandoned: 0 });
      expect(t.close(t.decision()!).outcomes).toEqual([{ status: "succeeded", attempts: 2, durationMs: 40 }, { status: "succeeded" }]);
      expect(t.plan()).toEqual({ kind: "summary", field: "v", count: 1, sum: 4, average: 4, min: 4, max: 4 });
    });

    test("succeeded answers count towards agreement", () => {
      const t = new GatherTally(3, AGREE2);
      t.settle(0, { status: "succeeded" }, facts({ x: 1, y: 2 }));
      t.settle(1, { status: "succeeded" }, facts({ y: 2, x: 1 }));
      expect(t.decision()).toEqual({ closedBy: "quorum-reached", outcome: "complete" });
    });

    test("failed: counted, with its error or 'failed'", () => {
      const t = new GatherTally(2, ALL);
      t.settle(0, { status: "failed", error: "HTTP 404", attempts: 1 });
      t.settle(1, { status: "failed" });
      expect(t.counts()).toEqual({ total: 2, succeeded: 0, failed: 2, timedOut: 0, abandoned: 0 });
      expect(t.decision()).toEqual({ closedBy: "all-failed", outcome: "failed" });
      expect(t.close(t.decision()!).outcomes).toEqual([
        { status: "failed", error: "HTTP 404", attempts: 1 },
        { status: "failed", error: "failed" },
      ]);
    });

    test("timedOut: counted, no longer pending, the gather closes as deadline", () => {
      const t = new GatherTally(2, ALL);
      t.settle(0, { status: "succeeded" }, facts(1));
      t.settle(1, { status: "timedOut" });
      expect(t.pending).toBe(0);
      expect(t.counts()).toEqual({ total: 2, succeeded: 1, failed: 0, timedOut: 1, abandoned: 0 });
      expect(t.decision()).toEqual({ closedBy: "deadline", outcome: "partial" });
    });

    test("abandoned: counted and no longer pending", () => {
      const t = new GatherTally(2, ALL);
      t.settle(1, { status: "abandoned" });
      expect(t.pending).toBe(1);
      expect(t.counts()).toEqual({ total: 2, succeeded: 0, failed: 0, timedOut: 0, abandoned: 1 });
      expect(t.close({ closedBy: "deadline", outcome: "failed" }).outcomes).toEqual([{ status: "timedOut" }, { status: "abandoned" }]);
    });
  });

  describe("a redrive's kept outcomes", () => {
    const kept = (timedOut: number, abandoned: number) => ({
      total: 1 + timedOut + abandoned,
      succeeded: 1,
      failed: 0,
      timedOut,
      abandoned,
    });

    test("recipients a ?status= left out as timed out or abandoned keep an 'all' gather from being complete", () => {
      for (const [timedOut, abandoned] of [
        [1, 0],
        [0, 2],
      ]) {
        const t = new GatherTally(1, ALL, undefined, {}, kept(timedOut, abandoned));
        t.succeed(0, { bytes: 2 });
        // Every recipient of this run responded; the whole gather has some that never did.
        expect(t.decision()).toEqual({ closedBy: "all-responded", outcome: "partial" });
        expect(t.counts()).toMatchObject({ succeeded: 2, timedOut, abandoned });
      }
    });

    test("with every earlier recipient answered or redriven, the redrive completes as before", () => {
      const t = new GatherTally(1, ALL, undefined, {}, kept(0, 0));
      t.succeed(0, { bytes: 2 });
      expect(t.decision()).toEqual({ closedBy: "all-responded", outcome: "complete" });
    });

    test("kept timed-out recipients do not count towards a quorum's reach: unreachable at once", () => {
      const t = new GatherTally(1, { mode: "quorum", quorum: 3, agree: false }, undefined, {}, kept(2, 0));
      expect(t.decision()).toEqual({ closedBy: "quorum-unreachable", outcome: "failed" });
    });
  });
});
