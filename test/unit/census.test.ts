/** Cross-batch decisions from the running batches' counts (gather/census.ts). */
import {
  batchCountsOf,
  censusDecision,
  censusDelayMs,
  confirmedByMerge,
  MAX_CENSUSES,
  needsCensus,
  runningVotes,
  VOTES_SHOWN,
} from "../../src/gather/census";

const ALL = { mode: "all" as const, agree: false };

test("a census is needed for a tolerance or a quorum, for agreement only with votes (inputs since censusVotes); not for all/first alone", () => {
  expect(needsCensus({ ...ALL, failuresAllowed: 1 })).toBe(true);
  expect(needsCensus({ mode: "quorum", quorum: 3, agree: false })).toBe(true);
  expect(needsCensus({ mode: "quorum", quorum: 3, agree: true })).toBe(false);
  expect(needsCensus({ mode: "quorum", quorum: 3, agree: true }, true)).toBe(true);
  expect(needsCensus(ALL)).toBe(false);
  expect(needsCensus({ mode: "first", agree: false })).toBe(false);
});

test("decides on the merged counts plus the running batches', leaving out batches merged meanwhile", () => {
  const tolerance = { ...ALL, failuresAllowed: 1 };
  expect(censusDecision(tolerance, { succeeded: 3, failed: 1 }, { batches: [[1, 0, 0]] }, () => false)).toBeUndefined();
  expect(censusDecision(tolerance, { succeeded: 3, failed: 1 }, { batches: [[1, 1, 1]] }, () => false)).toEqual({
    closedBy: "failure-tolerance-exceeded",
    outcome: "failed",
  });
  // Batch 1 was merged after the census read it: its failure is in `merged` already, not counted twice.
  expect(censusDecision(tolerance, { succeeded: 3, failed: 1 }, { batches: [[1, 1, 1]] }, (batch) => batch === 1)).toBeUndefined();
  const quorum = { mode: "quorum" as const, quorum: 3, agree: false };
  expect(
    censusDecision(
      quorum,
      { succeeded: 1, failed: 0 },
      {
        batches: [
          [0, 1, 0],
          [2, 1, 5],
        ],
      },
      () => false,
    ),
  ).toEqual({
    closedBy: "quorum-reached",
    outcome: "complete",
  });
  expect(censusDecision(quorum, { succeeded: 1, failed: 0 }, { batches: [[0, 1, 0]] }, () => false)).toBeUndefined();
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
  expect(confirmedByMerge(reached, quorum, { succeeded: 3, failed: 0, largestAgreement: 0 })).toBe(true);
  expect(confirmedByMerge(reached, quorum, { succeeded: 2, failed: 4, largestAgreement: 0 })).toBe(false);
  const exceeded = { closedBy: "failure-tolerance-exceeded" as const, outcome: "failed" as const };
  expect(confirmedByMerge(exceeded, { ...quorum, failuresAllowed: 1 }, { succeeded: 0, failed: 2, largestAgreement: 0 })).toBe(true);
  // An agreement quorum: the merged answers must carry as many equal values.
  const agreement = { ...quorum, agree: true };
  expect(confirmedByMerge(reached, agreement, { succeeded: 5, failed: 0, largestAgreement: 3 })).toBe(true);
  expect(confirmedByMerge(reached, agreement, { succeeded: 5, failed: 0, largestAgreement: 2 })).toBe(false);
});

test("an agreement quorum: the running batches' votes for a digest plus the parent's own count of it decide", () => {
  const agreement = { mode: "quorum" as const, quorum: 6, agree: true };
  const parent = (counts: Record<string, number>) => ({ succeeded: 9, failed: 0, agreementOn: (d: string) => counts[d] ?? 0 });
  // Batch 0's votes: A 3, B 2; batch 1's: A 1.
  const census = {
    batches: [
      [0, 4, 0],
      [1, 5, 0],
    ] as [number, number, number][],
    votes: {
      digests: ["A", "B"],
      batches: [
        [0, 3, 2],
        [1, 1, 0],
      ],
    },
  };
  // 2 merged + 3 + 1 running carry "A": six equal answers.
  expect(censusDecision(agreement, parent({ A: 2 }), census, () => false)).toEqual({ closedBy: "quorum-reached", outcome: "complete" });
  // Nine successes, but no six of them equal: not reached (a plain count would say it is).
  expect(censusDecision(agreement, parent({ A: 1, B: 2 }), census, () => false)).toBeUndefined();
  // Batch 0 merged after the read: its 3 are in the parent's own count already, not counted twice.
  expect(censusDecision(agreement, parent({ A: 5 }), census, (batch) => batch === 0)).toEqual({
    closedBy: "quorum-reached",
    outcome: "complete",
  });
  expect(censusDecision(agreement, parent({ A: 4 }), census, (batch) => batch === 0)).toBeUndefined();
  // A census of counts only (no votes) never reaches an agreement quorum.
  expect(censusDecision(agreement, parent({ A: 5 }), { batches: [[0, 4, 0]] }, () => false)).toBeUndefined();
});

test("running votes: batch by batch over the batches that still run, for the digests asked and those the batches show most", () => {
  let n = 0;
  const status = (runtimeStatus: string, votes: [string, number][]) => ({
    instanceId: `g~batch-r1-${n++}`,
    runtimeStatus,
    customStatus: { phase: "gathering", total: 9, succeeded: 9, failed: 0, pending: 0, deadline: null, votes },
  });
  const statuses = [
    status("Running", [
      ["A", 3],
      ["B", 1],
    ]),
    status("Running", [
      ["A", 2],
      ["C", 2],
      ["D", 1],
    ]),
    // Ended: its parent has merged its answers (or will), so they are not counted twice.
    status("Completed", [["A", 9]]),
    // Failed: counted by its parent as all failed.
    status("Failed", [["B", 9]]),
    {
      instanceId: "g~batch-r1-9",
      runtimeStatus: "Running",
      customStatus: { phase: "gathering", total: 1, succeeded: 0, failed: 0, pending: 1, deadline: null, votes: "junk" },
    },
    // Another run's batch.
    {
      instanceId: "g~batch-r0-1",
      runtimeStatus: "Running",
      customStatus: { phase: "gathering", succeeded: 9, failed: 0, votes: [["A", 9]] },
    },
  ];
  expect(runningVotes("g~batch-r1-", statuses, ["Z"])).toEqual({
    digests: ["Z", "A", "C", "B"],
    batches: [
      [0, 0, 3, 0, 1],
      [1, 0, 2, 2, 0],
    ],
  });
  // Bounded whatever the number of batches and digests: the asked ones and VOTES_SHOWN leaders, a few numbers a batch.
  const many = Array.from({ length: 500 }, (_, i) => status("Running", [[`d${i}`, 1 + (i % 7)]]));
  const read = runningVotes("g~batch-r1-", many, ["x", "y", "z", "w"]);
  expect(read.digests.length).toBeLessThanOrEqual(2 * VOTES_SHOWN);
  expect(read.batches.every((b) => b.length === 1 + read.digests.length)).toBe(true);
});
