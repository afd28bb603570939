/**
 * Redrive planning and merging (src/gather/redrive.ts), and the tally of a redrive run, which counts the
 * earlier outcomes it keeps with its own under the policy of the whole gather (src/gather/tally.ts).
 */
import { createHash } from "node:crypto";
import { GatherTally } from "../../src/gather/tally";
import { prepareRedrive } from "../../src/gather/redriveRun";
import type { OrchestrationInput } from "../../src/gather/types";
import { MemoryPayloadStore } from "../../src/payload";
import {
  agreementSeed,
  countsOf,
  keptCounts,
  mergeOutcomes,
  parseRedriveStatuses,
  planRedrive,
  type RedriveEntry,
} from "../../src/gather/redrive";

const ref = (group: string, run?: string) => ({ group, offset: 0, length: 10, ...(run ? { run } : {}) });

const earlier: RedriveEntry[] = [
  { recipientId: "a", status: "succeeded", attempts: 1, durationMs: 5, answer: ref("g1") },
  { recipientId: "b", status: "failed", error: "HTTP 500", attempts: 3 },
  { recipientId: "c", status: "timedOut", attempts: 1 },
  { recipientId: "d", status: "abandoned" },
  { recipientId: "e", status: "succeeded", attempts: 2, answer: ref("g0", "run-0") },
];

describe("parseRedriveStatuses", () => {
  test("defaults to all three", () => {
    expect(parseRedriveStatuses(null)).toEqual({ ok: true, value: ["failed", "timedOut", "abandoned"] });
    expect(parseRedriveStatuses("")).toEqual({ ok: true, value: ["failed", "timedOut", "abandoned"] });
  });
  test("takes a list, in any order, without duplicates", () => {
    expect(parseRedriveStatuses("abandoned, failed,failed")).toEqual({ ok: true, value: ["failed", "abandoned"] });
  });
  test("refuses anything else, naming it", () => {
    const parsed = parseRedriveStatuses("failed,succeeded");
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.message).toMatch(/'succeeded'/);
    expect(parseRedriveStatuses("pending").ok).toBe(false);
  });
});

describe("planRedrive", () => {
  test("picks the recipients with the given statuses, in list order, and counts what it keeps", () => {
    const plan = planRedrive({ closedBy: "all-responded", outcomes: earlier }, "run-1", ["failed", "abandoned"]);
    expect(plan.ok).toBe(true);
    if (!plan.ok) return;
    expect(plan.indexes).toEqual([1, 3]);
    expect(plan.kept).toEqual({ total: 3, succeeded: 2, failed: 0, timedOut: 1, abandoned: 0 });
  });
  test("pins every answer ref to its run: the result's own run, or the run the ref already names", () => {
    const plan = planRedrive({ closedBy: "deadline", outcomes: earlier }, "run-1", ["timedOut"]);
    if (!plan.ok) throw new Error(plan.message);
    expect(plan.entries[0].answer).toEqual(ref("g1", "run-1"));
    expect(plan.entries[4].answer).toEqual(ref("g0", "run-0"));
    // the input is left as it was
    expect(earlier[0].answer).toEqual(ref("g1"));
  });
  test("400s: nothing matches", () => {
    const plan = planRedrive({ closedBy: "all-responded", outcomes: earlier.slice(0, 2) }, "run-1", ["abandoned"]);
    expect(plan).toEqual({ ok: false, message: expect.stringMatching(/nothing to redrive/) });
  });
  test("refuses a gather whose policy was met (first answered, quorum reached): it would call nobody", () => {
    for (const closedBy of ["first-response", "quorum-reached"] as const) {
      const plan = planRedrive({ closedBy, outcomes: earlier }, "run-1", ["abandoned"]);
      expect(plan).toEqual({ ok: false, message: expect.stringMatching(/policy is met/) });
    }
  });
});

describe("mergeOutcomes", () => {
  const doc = { indexes: [1, 2, 3], entries: planEntries() };
  function planEntries(): RedriveEntry[] {
    const plan = planRedrive({ closedBy: "failure-tolerance-exceeded", outcomes: earlier }, "run-1", ["failed", "timedOut", "abandoned"]);
    if (!plan.ok) throw new Error(plan.message);
    return plan.entries;
  }

  test("replaces each redriven entry; attempts add up across runs; new answers are pinned to the new run", () => {
    const merged = mergeOutcomes(
      doc,
      [
        { status: "succeeded", attempts: 1, durationMs: 7, answer: ref("n1") },
        { status: "failed", attempts: 2, error: "HTTP 503" },
        { status: "abandoned" },
      ],
      "run-2",
    );
    expect(merged).toEqual([
      { recipientId: "a", status: "succeeded", attempts: 1, durationMs: 5, answer: ref("g1", "run-1") },
      { recipientId: "b", status: "succeeded", attempts: 4, durationMs: 7, answer: ref("n1", "run-2") },
      { recipientId: "c", status: "failed", attempts: 3, error: "HTTP 503" },
      // never called again: keeps no error of the earlier run, and no attempts it never had
      { recipientId: "d", status: "abandoned" },
      { recipientId: "e", status: "succeeded", attempts: 2, answer: ref("g0", "run-0") },
    ]);
    expect(countsOf(merged)).toEqual({ total: 5, succeeded: 3, failed: 1, timedOut: 0, abandoned: 1 });
  });

  test("refuses outcomes that do not match the document", () => {
    expect(() => mergeOutcomes(doc, [{ status: "abandoned" }], "run-2")).toThrow(/3/);
  });
});

describe("a redrive run's tally: the policy over the whole gather", () => {
  const none = { total: 0, succeeded: 0, failed: 0, timedOut: 0, abandoned: 0 };
  const keptOf = (succeeded: number, failed = 0) => ({ ...none, total: succeeded + failed, succeeded, failed });

  test("quorum 3 with 2 earlier successes needs 1 more", () => {
    const tally = new GatherTally(3, { mode: "quorum", quorum: 3, agree: false }, undefined, {}, keptOf(2, 1));
    expect(tally.decision()).toBeUndefined();
    tally.succeed(1, { bytes: 1 });
    expect(tally.decision()).toEqual({ closedBy: "quorum-reached", outcome: "complete" });
    expect(tally.counts()).toEqual({ total: 6, succeeded: 3, failed: 1, timedOut: 0, abandoned: 0 });
  });

  test("without the earlier successes the same answers would not reach it", () => {
    const tally = new GatherTally(3, { mode: "quorum", quorum: 3, agree: false });
    tally.succeed(1, { bytes: 1 });
    expect(tally.decision()).toBeUndefined();
  });

  test("quorum unreachable counts earlier successes and this run's pending", () => {
    const tally = new GatherTally(2, { mode: "quorum", quorum: 4, agree: false }, undefined, {}, keptOf(2));
    tally.fail(0, "x");
    expect(tally.decision()).toEqual({ closedBy: "quorum-unreachable", outcome: "failed" });
  });

  test("mode all: the redriven all fail, earlier successes make it complete, not all-failed", () => {
    const tally = new GatherTally(2, { mode: "all", agree: false }, undefined, {}, keptOf(1));
    tally.fail(0, "x");
    tally.fail(1, "y");
    expect(tally.decision()).toEqual({ closedBy: "all-responded", outcome: "complete" });
  });

  test("tolerance counts this run's failures only (earlier failures kept are not counted again)", () => {
    const tally = new GatherTally(4, { mode: "all", agree: false, failuresAllowed: 1 }, undefined, {}, keptOf(1, 5));
    tally.fail(0, "x");
    expect(tally.decision()).toBeUndefined();
    tally.fail(1, "x");
    expect(tally.decision()).toEqual({ closedBy: "failure-tolerance-exceeded", outcome: "failed" });
  });

  test("at the deadline, earlier successes make it partial", () => {
    const tally = new GatherTally(2, { mode: "all", agree: false }, undefined, {}, keptOf(1));
    expect(tally.deadlineDecision()).toEqual({ closedBy: "deadline", outcome: "partial" });
    const { counts } = tally.close(tally.deadlineDecision());
    expect(counts).toEqual({ total: 3, succeeded: 1, failed: 0, timedOut: 2, abandoned: 0 });
  });

  test("earlier timed-out recipients kept do not make this run's close a deadline, but the gather is partial", () => {
    const kept = { total: 2, succeeded: 1, failed: 0, timedOut: 1, abandoned: 0 };
    const tally = new GatherTally(1, { mode: "all", agree: false }, undefined, {}, kept);
    tally.succeed(0, { bytes: 1 });
    // The policy counts the whole gather: one of its recipients never answered, so "all" was not met.
    expect(tally.decision()).toEqual({ closedBy: "all-responded", outcome: "partial" });
    expect(keptCounts(earlier, [1, 3])).toEqual({ total: 3, succeeded: 2, failed: 0, timedOut: 1, abandoned: 0 });
  });
});

describe("agreement quorum over the whole gather", () => {
  test("agreementSeed counts equal answers and keeps only the groups the redriven recipients can bring to the quorum", () => {
    expect(agreementSeed(["x", "y", "x", "z", "x", "y"], 1, 3)).toEqual([
      ["x", 3],
      ["y", 2],
    ]);
    expect(agreementSeed(["x", "y", "x"], 0, 2)).toEqual([["x", 2]]);
    expect(agreementSeed([], 5, 3)).toEqual([]);
  });

  test("agreementSeed's output (the activity's, in history) stays far under 1 MiB at the largest gather", () => {
    // The worst case: MAX_RECIPIENTS at its ceiling (15,000), every earlier answer different, one redriven
    // recipient and a quorum of 2, so that every group can still decide and none is dropped.
    const digests = Array.from({ length: 14_999 }, (_, i) => createHash("sha256").update(String(i)).digest("base64url").slice(0, 22));
    const seed = agreementSeed(digests, 1, 2);
    expect(seed).toHaveLength(14_999);
    const bytes = Buffer.byteLength(JSON.stringify(seed), "utf8");
    expect(bytes).toBeLessThan(512 * 1024);
    expect(bytes).toBeGreaterThan(400 * 1024); // ~32 bytes a group: measured, not assumed
  });

  test("earlier equal answers count towards the quorum: 2 earlier + 1 new equal one reach 3", () => {
    const policy = { mode: "quorum" as const, quorum: 3, agree: true };
    const kept = { total: 3, succeeded: 3, failed: 0, timedOut: 0, abandoned: 0, agreement: [["d1", 2] as [string, number]] };
    const tally = new GatherTally(2, policy, undefined, {}, kept);
    tally.succeed(0, { bytes: 1, digest: "d2" });
    expect(tally.decision()).toBeUndefined();
    tally.succeed(1, { bytes: 1, digest: "d1" });
    expect(tally.decision()).toEqual({ closedBy: "quorum-reached", outcome: "complete" });
  });

  test("without the seed, plain successes do not count as agreement", () => {
    const policy = { mode: "quorum" as const, quorum: 3, agree: true };
    const tally = new GatherTally(2, policy, undefined, {}, { total: 3, succeeded: 3, failed: 0, timedOut: 0, abandoned: 0 });
    tally.succeed(0, { bytes: 1, digest: "d1" });
    tally.succeed(1, { bytes: 1, digest: "d1" });
    expect(tally.decision()).toEqual({ closedBy: "quorum-unreachable", outcome: "failed" });
  });
});

describe("a redrive ends before the first run's payloads expire (PAYLOAD_RETENTION_DAYS)", () => {
  const input = (timeoutMs: number, redrive?: { listRunId: string }) =>
    ({
      run: { instanceId: "g", runId: "20261203T000000000Z-bbbbbb" },
      completion: { mode: "all", agree: false, timeoutMs },
      aggregate: { kind: "collect", order: "min" },
      responsesUri: "http://x/api/scatter-gather/g/responses",
      ...(redrive ? { redrive: { redrives: 1, kept: { succeeded: 0, failed: 0, timedOut: 0 }, ...redrive } } : {}),
    }) as unknown as OrchestrationInput;
  const options = (now: string) => ({ runId: "20261210T000000000Z-cccccc", fanoutBatchSize: 250, retentionDays: 6, now: new Date(now) });

  test("refused (409, naming the setting) when the first run is too old for the deadline and a day's margin", async () => {
    const late = await prepareRedrive(new MemoryPayloadStore(), input(3_600_000), ["failed"], options("2026-12-08T00:00:00Z"));
    expect(late).toMatchObject({ ok: false, status: 409, message: expect.stringContaining("PAYLOAD_RETENTION_DAYS") });
    // A redrive of a redrive counts from the first run, whose list and answers it still reads.
    const chained = input(3_600_000, { listRunId: "20261201T000000000Z-aaaaaa" });
    const old = await prepareRedrive(new MemoryPayloadStore(), chained, ["failed"], options("2026-12-06T12:00:00Z"));
    expect(old).toMatchObject({ ok: false, status: 409, message: expect.stringContaining("2026-12-01T00:00:00.000Z") });
  });

  test("allowed while the deadline and a day fit (then it looks for the earlier result)", async () => {
    const soon = await prepareRedrive(new MemoryPayloadStore(), input(3_600_000), ["failed"], options("2026-12-07T22:00:00Z"));
    expect(soon).toMatchObject({ ok: false, status: 409, message: expect.stringContaining("no stored result") });
    const long = await prepareRedrive(new MemoryPayloadStore(), input(432_000_000), ["failed"], options("2026-12-04T00:00:00Z"));
    expect(long).toMatchObject({ ok: false, message: expect.stringContaining("PAYLOAD_RETENTION_DAYS") });
  });
});
