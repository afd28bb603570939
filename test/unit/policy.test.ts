import { atDeadline, decide, toleratedFailures, type GatherPolicy, type Tally } from "../../src/gather/policy";
import type { CompletionPolicy } from "../../src/gather/types";

/** A tally of `total` recipients; pending is whatever is not otherwise accounted for. */
function tally(total: number, t: Partial<Omit<Tally, "total" | "pending">> = {}): Tally {
  const succeeded = t.succeeded ?? 0;
  const failed = t.failed ?? 0;
  const timedOut = t.timedOut ?? 0;
  return { total, succeeded, failed, timedOut, pending: total - succeeded - failed - timedOut, largestAgreement: t.largestAgreement ?? 0 };
}

const ALL: CompletionPolicy = { mode: "all", agree: false };
const FIRST: CompletionPolicy = { mode: "first", agree: false };
const slice = { withinSlice: true };
const quorum = (q: number, extra: Partial<CompletionPolicy> = {}): CompletionPolicy => ({
  mode: "quorum",
  quorum: q,
  agree: false,
  ...extra,
});

describe("decide: mode all", () => {
  test("stays open while anyone is pending, even with failures", () => {
    expect(decide(ALL, tally(3))).toBeUndefined();
    expect(decide(ALL, tally(3, { succeeded: 2 }))).toBeUndefined();
    expect(decide(ALL, tally(3, { failed: 2 }))).toBeUndefined();
  });

  test("closes complete when everyone answered or finally failed", () => {
    expect(decide(ALL, tally(3, { succeeded: 3 }))).toEqual({ closedBy: "all-responded", outcome: "complete" });
    expect(decide(ALL, tally(3, { succeeded: 1, failed: 2 }))).toEqual({ closedBy: "all-responded", outcome: "complete" });
  });

  test("closes failed when everyone failed", () => {
    expect(decide(ALL, tally(3, { failed: 3 }))).toEqual({ closedBy: "all-failed", outcome: "failed" });
  });

  test("answers lost to a deadline upstream close as deadline", () => {
    expect(decide(ALL, tally(3, { succeeded: 1, timedOut: 2 }))).toEqual({ closedBy: "deadline", outcome: "partial" });
    expect(decide(ALL, tally(3, { failed: 1, timedOut: 2 }))).toEqual({ closedBy: "deadline", outcome: "failed" });
    expect(decide(ALL, tally(3, { succeeded: 1, timedOut: 1 }))).toBeUndefined();
  });
});

describe("decide: mode first", () => {
  test("closes at the first success, even with others pending", () => {
    expect(decide(FIRST, tally(5))).toBeUndefined();
    expect(decide(FIRST, tally(5, { failed: 3 }))).toBeUndefined();
    expect(decide(FIRST, tally(5, { succeeded: 1 }))).toEqual({ closedBy: "first-response", outcome: "complete" });
    expect(decide(FIRST, tally(5, { succeeded: 1, failed: 4 }))).toEqual({ closedBy: "first-response", outcome: "complete" });
  });

  test("closes failed when all failed", () => {
    expect(decide(FIRST, tally(3, { failed: 3 }))).toEqual({ closedBy: "all-failed", outcome: "failed" });
  });

  test("closes as a failed deadline when the rest timed out upstream", () => {
    expect(decide(FIRST, tally(3, { failed: 1, timedOut: 2 }))).toEqual({ closedBy: "deadline", outcome: "failed" });
  });
});

describe("decide: mode quorum", () => {
  test("closes when the quorum of successes is reached", () => {
    expect(decide(quorum(2), tally(4, { succeeded: 1 }))).toBeUndefined();
    expect(decide(quorum(2), tally(4, { succeeded: 2 }))).toEqual({ closedBy: "quorum-reached", outcome: "complete" });
    expect(decide(quorum(2), tally(4, { succeeded: 2, failed: 2 }))).toEqual({ closedBy: "quorum-reached", outcome: "complete" });
  });

  test("quorum equal to the total needs every answer", () => {
    expect(decide(quorum(3), tally(3, { succeeded: 2 }))).toBeUndefined();
    expect(decide(quorum(3), tally(3, { succeeded: 3 }))).toEqual({ closedBy: "quorum-reached", outcome: "complete" });
  });

  test("at the boundary (successes + pending == quorum) it keeps waiting", () => {
    expect(decide(quorum(3), tally(5, { succeeded: 1, failed: 2 }))).toBeUndefined();
    expect(decide(quorum(3), tally(5, { failed: 2 }))).toBeUndefined();
  });

  test("closes unreachable as soon as the quorum can no longer be met", () => {
    // 5 recipients, quorum 3: the third failure leaves 2 pending, not enough.
    expect(decide(quorum(3), tally(5, { failed: 3 }))).toEqual({ closedBy: "quorum-unreachable", outcome: "failed" });
    expect(decide(quorum(3), tally(5, { succeeded: 1, failed: 3 }))).toEqual({ closedBy: "quorum-unreachable", outcome: "failed" });
    expect(decide(quorum(1), tally(2, { failed: 2 }))).toEqual({ closedBy: "quorum-unreachable", outcome: "failed" });
  });

  test("agree: the quorum counts the largest group of equal answers", () => {
    const policy = quorum(2, { agree: true });
    expect(decide(policy, tally(4, { succeeded: 2, largestAgreement: 1 }))).toBeUndefined();
    expect(decide(policy, tally(4, { succeeded: 2, largestAgreement: 2 }))).toEqual({ closedBy: "quorum-reached", outcome: "complete" });
    // Three different answers and one pending: 1 + 1 >= 2, still reachable.
    expect(decide(policy, tally(4, { succeeded: 3, largestAgreement: 1 }))).toBeUndefined();
    // Four different answers: no agreement possible although everyone succeeded.
    expect(decide(policy, tally(4, { succeeded: 4, largestAgreement: 1 }))).toEqual({ closedBy: "quorum-unreachable", outcome: "failed" });
    expect(decide(quorum(3, { agree: true }), tally(4, { succeeded: 3, largestAgreement: 1 }))).toEqual({
      closedBy: "quorum-unreachable",
      outcome: "failed",
    });
  });

  test("without agree, largestAgreement is ignored", () => {
    expect(decide(quorum(2), tally(3, { succeeded: 2, largestAgreement: 1 }))).toEqual({ closedBy: "quorum-reached", outcome: "complete" });
  });

  test("made unreachable by answers lost to a deadline upstream: closes as deadline", () => {
    expect(decide(quorum(3), tally(4, { succeeded: 1, timedOut: 3 }))).toEqual({ closedBy: "deadline", outcome: "partial" });
    expect(decide(quorum(3), tally(4, { failed: 1, timedOut: 3 }))).toEqual({ closedBy: "deadline", outcome: "failed" });
  });

  test("unreachable with answers still pending is quorum-unreachable even after upstream timeouts", () => {
    expect(decide(quorum(4), tally(5, { failed: 1, timedOut: 1 }))).toEqual({ closedBy: "quorum-unreachable", outcome: "failed" });
  });

  test("withinSlice: never unreachable while answers are pending", () => {
    const policy = quorum(3);
    expect(decide(policy, tally(5, { failed: 4 }), slice)).toBeUndefined();
    expect(decide(policy, tally(5, { succeeded: 3 }), slice)).toEqual({ closedBy: "quorum-reached", outcome: "complete" });
  });

  test("withinSlice: once nothing is pending the slice closes like an unmet gather", () => {
    const policy = quorum(3);
    expect(decide(policy, tally(3, { failed: 3 }), slice)).toEqual({ closedBy: "all-failed", outcome: "failed" });
    expect(decide(policy, tally(3, { succeeded: 1, failed: 2 }), slice)).toEqual({ closedBy: "all-failed", outcome: "failed" });
    expect(decide(policy, tally(3, { succeeded: 1, timedOut: 2 }), slice)).toEqual({ closedBy: "deadline", outcome: "partial" });
  });
});

describe("decide: failure tolerance (every mode)", () => {
  const EXCEEDED = { closedBy: "failure-tolerance-exceeded", outcome: "failed" };
  const tolerating = (policy: CompletionPolicy, failuresAllowed: number): GatherPolicy => ({ ...policy, failuresAllowed });

  test("closes failed as soon as the failures exceed the bound, with recipients still pending and successes in", () => {
    for (const policy of [ALL, FIRST, quorum(3)]) {
      expect(decide(tolerating(policy, 1), tally(10, { failed: 1 }))).toBeUndefined();
      expect(decide(tolerating(policy, 1), tally(10, { failed: 2 }))).toEqual(EXCEEDED);
    }
    expect(decide(tolerating(ALL, 1), tally(10, { succeeded: 7, failed: 2 }))).toEqual(EXCEEDED);
    expect(decide(tolerating(ALL, 0), tally(10, { failed: 1 }))).toEqual(EXCEEDED);
  });

  test("at the bound it goes on, and ends as it would without a tolerance", () => {
    expect(decide(tolerating(ALL, 2), tally(3, { succeeded: 1, failed: 2 }))).toEqual({ closedBy: "all-responded", outcome: "complete" });
    expect(decide(tolerating(ALL, 3), tally(3, { failed: 3 }))).toEqual({ closedBy: "all-failed", outcome: "failed" });
  });

  test("a met policy wins (a batch's merged answers may meet both at once); the tolerance wins over an unreachable quorum", () => {
    expect(decide(tolerating(quorum(2), 1), tally(6, { succeeded: 2, failed: 3 }))).toEqual({
      closedBy: "quorum-reached",
      outcome: "complete",
    });
    expect(decide(tolerating(FIRST, 1), tally(6, { succeeded: 1, failed: 3 }))).toEqual({
      closedBy: "first-response",
      outcome: "complete",
    });
    // 4 recipients, quorum 3: the second failure makes it unreachable and exceeds a bound of 1.
    expect(decide(tolerating(quorum(3), 1), tally(4, { failed: 2 }))).toEqual(EXCEEDED);
  });

  test("withinSlice: a slice's own failures over the whole gather's bound close it", () => {
    expect(decide(tolerating(quorum(3), 2), tally(5, { failed: 2 }), slice)).toBeUndefined();
    expect(decide(tolerating(quorum(3), 2), tally(5, { failed: 3 }), slice)).toEqual(EXCEEDED);
    expect(decide(tolerating(ALL, 2), tally(5, { failed: 3 }), slice)).toEqual(EXCEEDED);
  });

  test("failures lost to a deadline upstream are not failures", () => {
    expect(decide(tolerating(ALL, 0), tally(3, { succeeded: 1, timedOut: 2 }))).toEqual({ closedBy: "deadline", outcome: "partial" });
  });
});

describe("toleratedFailures: the bound of a gather of n recipients", () => {
  test("no tolerance, no bound", () => {
    expect(toleratedFailures(undefined, 10)).toBeUndefined();
    expect(toleratedFailures({}, 10)).toBeUndefined();
  });

  test("maxFailures as given; maxFailurePercent of all the recipients, rounded down; the tighter of both", () => {
    expect(toleratedFailures({ maxFailures: 3 }, 10)).toBe(3);
    expect(toleratedFailures({ maxFailurePercent: 5 }, 100)).toBe(5);
    expect(toleratedFailures({ maxFailurePercent: 5 }, 30)).toBe(1); // 1.5: the second failure exceeds 5 %
    expect(toleratedFailures({ maxFailurePercent: 0 }, 30)).toBe(0);
    expect(toleratedFailures({ maxFailurePercent: 100 }, 30)).toBe(30);
    expect(toleratedFailures({ maxFailures: 100, maxFailurePercent: 5 }, 10_000)).toBe(100);
    expect(toleratedFailures({ maxFailures: 100, maxFailurePercent: 5 }, 1000)).toBe(50);
  });

  test("exact in spite of floating point: 9.2 % of 750 is 69", () => {
    expect(toleratedFailures({ maxFailurePercent: 9.2 }, 750)).toBe(69);
    expect(toleratedFailures({ maxFailurePercent: 18.4 }, 875)).toBe(161);
  });
});

describe("atDeadline", () => {
  test("partial with at least one success, failed without", () => {
    expect(atDeadline({ succeeded: 1 })).toEqual({ closedBy: "deadline", outcome: "partial" });
    expect(atDeadline({ succeeded: 7 })).toEqual({ closedBy: "deadline", outcome: "partial" });
    expect(atDeadline({ succeeded: 0 })).toEqual({ closedBy: "deadline", outcome: "failed" });
  });
});
