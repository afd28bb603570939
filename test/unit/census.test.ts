/** Cross-batch decisions from the running batches' counts (gather/census.ts). */
import { batchCountsOf, censusDecision, censusDelayMs, confirmedByMerge, MAX_CENSUSES, needsCensus } from "../../src/gather/census";

const ALL = { mode: "all" as const, agree: false };

test("a census is needed for a tolerance or a quorum of plain successes, not for agreement or all/first alone", () => {
  expect(needsCensus({ ...ALL, failuresAllowed: 1 })).toBe(true);
  expect(needsCensus({ mode: "quorum", quorum: 3, agree: false })).toBe(true);
  expect(needsCensus({ mode: "quorum", quorum: 3, agree: true })).toBe(false);
  expect(needsCensus(ALL)).toBe(false);
  expect(needsCensus({ mode: "first", agree: false })).toBe(false);
});

test("decides on the merged counts plus the running batches', leaving out batches merged meanwhile", () => {
  const tolerance = { ...ALL, failuresAllowed: 1 };
  expect(censusDecision(tolerance, { succeeded: 3, failed: 1 }, [[1, 0, 0]], () => false)).toBeUndefined();
  expect(censusDecision(tolerance, { succeeded: 3, failed: 1 }, [[1, 1, 1]], () => false)).toEqual({
    closedBy: "failure-tolerance-exceeded",
    outcome: "failed",
  });
  // Batch 1 was merged after the census read it: its failure is in `merged` already, not counted twice.
  expect(censusDecision(tolerance, { succeeded: 3, failed: 1 }, [[1, 1, 1]], (batch) => batch === 1)).toBeUndefined();
  const quorum = { mode: "quorum" as const, quorum: 3, agree: false };
  expect(
    censusDecision(
      quorum,
      { succeeded: 1, failed: 0 },
      [
        [0, 1, 0],
        [2, 1, 5],
      ],
      () => false,
    ),
  ).toEqual({
    closedBy: "quorum-reached",
    outcome: "complete",
  });
  expect(censusDecision(quorum, { succeeded: 1, failed: 0 }, [[0, 1, 0]], () => false)).toBeUndefined();
});

test("batch counts from an instance query: numbered ids of the prefix, counts from the custom status, failed batches left out", () => {
  const counts = (succeeded: number, failed: number) => ({ phase: "gathering", total: 3, succeeded, failed, pending: 0, deadline: null });
  expect(
    batchCountsOf("g~batch-r1-", [
      { instanceId: "g~batch-r1-0", runtimeStatus: "Running", customStatus: counts(1, 0) },
      { instanceId: "g~batch-r1-12", runtimeStatus: "Completed", customStatus: counts(2, 1) },
      { instanceId: "g~batch-r1-3", runtimeStatus: "Failed", customStatus: counts(2, 1) },
      { instanceId: "g~batch-r1-4", runtimeStatus: "Pending", customStatus: null },
      { instanceId: "g~batch-r0-5", runtimeStatus: "Running", customStatus: counts(9, 9) },
      { instanceId: "g~batch-r1-x", runtimeStatus: "Running", customStatus: counts(9, 9) },
    ]),
  ).toEqual([
    [0, 1, 0],
    [12, 2, 1],
  ]);
});

test("censuses back off from the first interval to a minute, at most MAX_CENSUSES of them (about 52 minutes)", () => {
  expect([0, 1, 2, 3].map((n) => censusDelayMs(2000, n))).toEqual([2000, 3000, 4500, 6750]);
  expect(censusDelayMs(2000, 20)).toBe(60_000);
  let total = 0;
  for (let n = 0; n < MAX_CENSUSES; n++) total += censusDelayMs(2000, n);
  expect(total / 60_000).toBeGreaterThan(45);
  expect(total / 60_000).toBeLessThan(60);
});

test("a census decision is borne out by the merged outcomes unless a batch it counted failed internally", () => {
  const quorum = { mode: "quorum" as const, quorum: 3, agree: false };
  const reached = { closedBy: "quorum-reached" as const, outcome: "complete" as const };
  expect(confirmedByMerge(reached, quorum, { succeeded: 3, failed: 0 })).toBe(true);
  expect(confirmedByMerge(reached, quorum, { succeeded: 2, failed: 4 })).toBe(false);
  const exceeded = { closedBy: "failure-tolerance-exceeded" as const, outcome: "failed" as const };
  expect(confirmedByMerge(exceeded, { ...quorum, failuresAllowed: 1 }, { succeeded: 0, failed: 2 })).toBe(true);
});
