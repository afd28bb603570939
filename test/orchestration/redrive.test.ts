/**
 * Redrive runs through the local host's durable engine (replay, sequence numbers, non-determinism checks) on a
 * fake clock: only the redriven recipients are called, each once per attempt in the actions the host received
 * (no task yielded twice), the whole gather's result is merged from both runs, batches and a deadline included,
 * and an agreement quorum counts the earlier equal answers.
 */
import { abandonRedrive, prepareRedrive } from "../../src/gather/redriveRun";
import type { GatherResult, OrchestrationInput } from "../../src/gather/types";
import { gatherInput, useHosts, type OrchestrationHost } from "./host";

const host = useHosts();

const sim = (id: string) => ({ id, simulate: { latencyMs: 0, failureRate: 0, value: null } });
const rows = (result: GatherResult) => result.responses!.map((r) => [r.recipientId, r.status, r.attempts, r.value ?? null]);
/** The recipients called in the run whose actions the host last received, with how many calls each. */
function calledInLastRun(h: OrchestrationHost, from: number): Record<string, number> {
  const called: Record<string, number> = {};
  for (const c of h.calls.slice(from)) called[c.recipientId] = (called[c.recipientId] ?? 0) + 1;
  return called;
}

test("only the failed recipients are called again; attempts add up; the result covers the whole gather", async () => {
  let fixed = false;
  const h = host((id) => (id === "b" && !fixed ? { error: "HTTP 500" } : { value: { price: id.charCodeAt(0) } }));
  await h.start(gatherInput({ aggregate: { kind: "summary", field: "price", order: "min" } }));
  const first = await h.result();
  expect(first.counts).toEqual({ total: 3, succeeded: 2, failed: 1, timedOut: 0, abandoned: 0 });

  fixed = true;
  const before = h.calls.length;
  await h.redrive({ runId: "run-2" });
  const second = await h.result();
  expect(calledInLastRun(h, before)).toEqual({ b: 1 });
  // The new run's actions hold the one redriven call, scheduled once.
  expect(h.flatActions().filter((a) => a.functionName === "callRecipient")).toHaveLength(1);
  expect(second).toMatchObject({ outcome: "complete", closedBy: "all-responded", redrives: 1 });
  expect(second.counts).toEqual({ total: 3, succeeded: 3, failed: 0, timedOut: 0, abandoned: 0 });
  expect(rows(second)).toEqual([
    ["a", "succeeded", 1, { price: 97 }],
    ["b", "succeeded", 2, { price: 98 }],
    ["c", "succeeded", 1, { price: 99 }],
  ]);
  expect(second.aggregate).toMatchObject({ kind: "summary", count: 3, sum: 97 + 98 + 99 });
  expect((await h.status()).customStatus).toMatchObject({ phase: "done", total: 3, succeeded: 3, failed: 0, pending: 0 });
  await expect(h.redrive({ runId: "run-3" })).rejects.toThrow(/400: .*nothing to redrive/);
  expect(h.problems()).toEqual([]);
});

test("in batches: the failed recipients run again in the new run's batches, with their own run tag", async () => {
  let down = true;
  const h = host((id) => (down && ["b", "d", "e"].includes(id) ? { error: "HTTP 503" } : { value: id }));
  const recipients = ["a", "b", "c", "d", "e"].map(sim);
  await h.start(gatherInput({ recipients, fanoutBatchSize: 2, batchIdPrefix: "g1~batch-r1-" }));
  const first = await h.result();
  expect(first.counts).toEqual({ total: 5, succeeded: 2, failed: 3, timedOut: 0, abandoned: 0 });

  down = false;
  const before = h.calls.length;
  await h.redrive({ runId: "run-2", statuses: ["failed"], fanoutBatchSize: 2 });
  const second = await h.result();
  expect(calledInLastRun(h, before)).toEqual({ b: 1, d: 1, e: 1 });
  expect(second).toMatchObject({ outcome: "complete", closedBy: "all-responded", redrives: 1 });
  expect(rows(second)).toEqual([
    ["a", "succeeded", 1, "a"],
    ["b", "succeeded", 2, "b"],
    ["c", "succeeded", 1, "c"],
    ["d", "succeeded", 2, "d"],
    ["e", "succeeded", 2, "e"],
  ]);
  // Two batches of the new run (3 recipients, 2 a batch), under ids of their own; each call scheduled once.
  const batches = h.flatActions().filter((a) => a.functionName === "scatterGatherBatch");
  expect(batches).toHaveLength(2);
  const input = (await h.status()).input as { batchIdPrefix: string };
  expect(input.batchIdPrefix).not.toBe("g1~batch-r1-");
  for (const n of [0, 1]) {
    const batchId = `${input.batchIdPrefix}${n}`;
    expect(batchId.length).toBeLessThanOrEqual(100);
    expect(h.flatActions(batchId).filter((a) => a.functionName === "callRecipient")).toHaveLength(n === 0 ? 2 : 1);
  }
  expect(h.problems()).toEqual([]);
});

/** A first run of a, b, c, d where a and b answer and c and d fail after a retry: the quorum of 3 is unreachable. */
async function twoOfFour(
  h: OrchestrationHost,
  completion: { quorum: number; agree: boolean },
  aggregate = { kind: "collect" as const, order: "min" as const },
) {
  const retry = { maxAttempts: 2, firstRetryIntervalMs: 1000, backoffCoefficient: 1 };
  await h.start(
    gatherInput({ recipients: ["a", "b", "c", "d"].map(sim), completion: { mode: "quorum", ...completion }, retry, aggregate }),
  );
  // a and b settle while c and d wait for their retries, so they are not abandoned when the quorum becomes unreachable.
  await h.until(async () => ((await h.status()).customStatus as { succeeded?: number } | null)?.succeeded === 2, "a and b");
  await h.advance(1000, 2);
  const first = await h.result();
  expect(first).toMatchObject({ outcome: "failed", closedBy: "quorum-unreachable" });
  expect(first.counts).toEqual({ total: 4, succeeded: 2, failed: 2, timedOut: 0, abandoned: 0 });
}

test("quorum 3 with 2 earlier successes needs 1 more: the redrive closes at the first new success", async () => {
  let round = 1;
  const h = host((id) => (round === 1 ? (["a", "b"].includes(id) ? { value: 1 } : { error: "down" }) : id === "c" ? { value: 1 } : "hold"));
  await twoOfFour(h, { quorum: 3, agree: false });
  round = 2;
  const before = h.calls.length;
  await h.redrive({ runId: "run-2" });
  await h.until(async () => (await h.phase()) !== "gathering", "the redrive to close");
  h.releaseHeld();
  const second = await h.result();
  expect(calledInLastRun(h, before)).toEqual({ c: 1, d: 1 });
  expect(second).toMatchObject({ outcome: "complete", closedBy: "quorum-reached", redrives: 1 });
  expect(second.counts).toEqual({ total: 4, succeeded: 3, failed: 0, timedOut: 0, abandoned: 1 });
  expect(rows(second).map((r) => r.slice(0, 3))).toEqual([
    ["a", "succeeded", 1],
    ["b", "succeeded", 1],
    ["c", "succeeded", 3],
    ["d", "abandoned", 3], // 2 earlier, and this run's call cut short by the close
  ]);
  expect(h.problems()).toEqual([]);
});

test("an agreement quorum counts the earlier equal answers", async () => {
  let round = 1;
  const h = host((id) => (round === 1 && ["c", "d"].includes(id) ? { error: "down" } : { value: id === "d" ? { v: 2 } : { v: 1 } }));
  await twoOfFour(h, { quorum: 3, agree: true }, { kind: "vote", order: "min" } as never);
  round = 2;
  await h.redrive({ runId: "run-2", statuses: ["failed"] });
  const second = await h.result();
  expect(second).toMatchObject({ outcome: "complete", closedBy: "quorum-reached", redrives: 1 });
  expect(second.aggregate).toEqual({ kind: "vote", value: { v: 1 }, count: 3 });
  expect(h.flatActions().filter((a) => a.functionName === "redriveAgreement")).toHaveLength(1);
  expect(h.problems()).toEqual([]);
});

test("one redrive per run: a second request planned from the same result is refused and writes nothing; a claim is given up or goes stale", async () => {
  const h = host((id) => (id === "b" ? { error: "HTTP 500" } : { value: 1 }));
  await h.start(gatherInput({}));
  await h.result();
  const input = (await h.finished()).input as OrchestrationInput;
  const options = (runId: string, now = new Date("2026-12-07T00:00:00Z")) => ({ runId, fanoutBatchSize: 250, now });
  const runs = async () => {
    const folders = new Set<string>();
    for await (const ref of h.store.list("g1/")) folders.add(ref.key.split("/")[1]);
    return [...folders].sort();
  };

  expect(await prepareRedrive(h.store, input, ["failed"], options("run-a"))).toMatchObject({ ok: true });
  // Planned from the same result (it read the status before run-a started, say): refused, nothing written.
  const second = await prepareRedrive(h.store, input, ["failed"], options("run-b"));
  expect(second).toMatchObject({ ok: false, status: 409, message: expect.stringContaining("already redriven (run run-a)") });
  expect(await runs()).toEqual(["run-1", "run-a"]);

  // run-a did not start after all (its start failed): its folder goes and the run may be redriven again.
  await abandonRedrive(h.store, input, "run-a");
  expect(await runs()).toEqual(["run-1"]);
  expect(await prepareRedrive(h.store, input, ["failed"], options("run-c"))).toMatchObject({ ok: true });

  // A claim whose run never started (its request died) is taken over once it is 5 minutes old.
  expect(await prepareRedrive(h.store, input, ["failed"], options("run-d", new Date("2026-12-07T00:04:00Z")))).toMatchObject({ ok: false });
  expect(await prepareRedrive(h.store, input, ["failed"], options("run-e", new Date("2026-12-07T00:06:00Z")))).toMatchObject({ ok: true });
});
