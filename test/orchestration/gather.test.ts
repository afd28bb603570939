/**
 * scatterGatherOrchestrator through the local host's durable engine (the host-side replay with its
 * sequence numbering and non-determinism checks) and the real durable-functions replay, on a fake
 * clock: every completion mode, retries under a deadline, batches, auctions.
 */
import { FunctionNames } from "../../src/durable/names";
import { batchIdPrefix } from "../../src/gather/instanceIds";
import { DEFAULT_LIMITS } from "../../src/gather/limits";
import { EventType } from "../../tools/local-host/engine/history";
import { validateGatherRequest } from "../../src/gather/schema";
import type { GatherResult, Json, RetrySpec } from "../../src/gather/types";
import { RunPayloads } from "../../src/gather/runPayloads";
import { gatherInput, useHosts, type GatherSpec, type OrchestrationHost } from "./host";

const host = useHosts();

const sims = (...ids: string[]) => ids.map((id) => ({ id, simulate: { latencyMs: 0, failureRate: 0, value: null as Json } }));
const urls = (...ids: string[]) => ids.map((id) => ({ id, url: `http://127.0.0.1:9/${id}`, method: "POST" as const, timeoutMs: 1000 }));
const retry = (maxAttempts: number, firstRetryIntervalMs = 1000, extra: Partial<RetrySpec> = {}): RetrySpec => ({
  maxAttempts,
  firstRetryIntervalMs,
  backoffCoefficient: 1,
  ...extra,
});
/** Waits until each of these batches has one answer (its status shows it). */
async function batchesAnswered(h: OrchestrationHost, batches: number[]): Promise<void> {
  for (const batch of batches)
    await h.until(
      async () => ((await h.status(`g1~batch-${batch}`))?.customStatus as { succeeded?: number } | null)?.succeeded === 1,
      `batch ${batch}'s answer`,
    );
}

const statuses = (result: GatherResult) => Object.fromEntries(result.responses!.map((r) => [r.recipientId, [r.status, r.attempts]]));

/** Each recipient's call appears once per attempt in the actions the host received. */
function expectCallsScheduledOnce(h: OrchestrationHost, attempts: Record<string, number>, instanceId = "g1") {
  const calls = h.flatActions(instanceId).filter((a) => a.functionName === "callRecipient");
  expect(calls).toHaveLength(Object.values(attempts).reduce((a, b) => a + b, 0));
  expect(h.flatActions(instanceId).some((a) => a.actionType === 1)).toBe(false); // no CallActivityWithRetry
}

describe("completion modes", () => {
  test("all: every answer is taken, then aggregated; progress ends in phase done", async () => {
    const h = host((id) => (id === "b" ? { error: "HTTP 503" } : { value: { price: id === "a" ? 40 : 45 } }));
    await h.start(gatherInput({ aggregate: { kind: "best", field: "price", order: "min" } }));
    const result = await h.result();
    expect(result).toMatchObject({ outcome: "complete", closedBy: "all-responded", counts: { total: 3, succeeded: 2, failed: 1 } });
    expect(result.aggregate).toMatchObject({ kind: "best", recipientId: "a", value: { price: 40 } });
    expect(result.responses!.find((r) => r.recipientId === "b")).toMatchObject({ status: "failed", error: "HTTP 503", attempts: 1 });
    expect((await h.status()).customStatus).toMatchObject({ phase: "done", total: 3, succeeded: 2, failed: 1, pending: 0 });
    expectCallsScheduledOnce(h, { a: 1, b: 1, c: 1 });
    expect(h.problems()).toEqual([]);
  });

  test("first: closes at the first success and abandons the rest (the held calls only delay completion)", async () => {
    const h = host((id) => (id === "b" ? { value: { price: 1 } } : "hold"));
    await h.start(gatherInput({ completion: { mode: "first", agree: false, timeoutMs: 60_000 } }));
    await h.until(async () => (await h.phase()) !== "gathering", "the gather to close");
    h.releaseHeld();
    const result = await h.result();
    expect(result).toMatchObject({ outcome: "complete", closedBy: "first-response" });
    // Calls in flight at the close count as attempts made (they may have reached their recipients).
    expect(statuses(result)).toEqual({ a: ["abandoned", 1], b: ["succeeded", 1], c: ["abandoned", 1] });
    // The deadline timer was cancelled: its action says so.
    expect(
      h
        .flatActions()
        .filter((a) => a.actionType === 5)
        .map((a) => a.isCanceled),
    ).toEqual([true]);
  });

  test("quorum: unreachable as soon as too many failed", async () => {
    const h = host((id) => (id === "c" ? "hold" : { error: "down" }));
    await h.start(gatherInput({ completion: { mode: "quorum", quorum: 2, agree: false } }));
    await h.until(async () => (await h.phase()) !== "gathering", "the gather to close");
    h.releaseHeld();
    expect(await h.result()).toMatchObject({ outcome: "failed", closedBy: "quorum-unreachable", counts: { failed: 2, abandoned: 1 } });
  });

  test("first: every recipient failing closes as all-failed", async () => {
    const h = host(() => ({ error: "down" }));
    await h.start(gatherInput({ completion: { mode: "first", agree: false } }));
    const result = await h.result();
    expect(result).toMatchObject({ outcome: "failed", closedBy: "all-failed", counts: { failed: 3 } });
    expect(result.aggregate).toEqual({ kind: "collect", values: {}, count: 0 });
  });

  test("agreement quorum: counts deep-equal values only, then votes", async () => {
    const values: Record<string, Json> = {
      a: { label: "cat", score: [1, 2] },
      b: { label: "dog", score: [1, 2] },
      c: { score: [1, 2], label: "cat" },
    };
    const h = host((id) => (id in values ? { value: values[id] } : "hold"));
    await h.start(
      gatherInput({
        recipients: sims("a", "b", "c", "d"),
        completion: { mode: "quorum", quorum: 2, agree: true },
        aggregate: { kind: "vote", order: "min" },
      }),
    );
    await h.until(async () => (await h.phase()) !== "gathering", "the gather to close");
    h.releaseHeld();
    const result = await h.result();
    expect(result).toMatchObject({ closedBy: "quorum-reached", counts: { succeeded: 3, abandoned: 1 } });
    expect(result.aggregate).toEqual({ kind: "vote", value: { label: "cat", score: [1, 2] }, count: 2 });
  });

  test("agreement quorum: unreachable once no group can still reach it", async () => {
    const h = host((id) => (id === "c" ? { error: "boom" } : { value: id }));
    await h.start(gatherInput({ completion: { mode: "quorum", quorum: 2, agree: true } }));
    expect(await h.result()).toMatchObject({ outcome: "failed", closedBy: "quorum-unreachable" });
  });

  test("deadline: closes with what arrived; the others are timedOut", async () => {
    const h = host((id) => (id === "a" ? { value: 1 } : "hold"));
    await h.start(gatherInput({ completion: { mode: "all", agree: false, timeoutMs: 5000 } }));
    await h.until(() => h.calls.length === 3);
    await h.advance(5000);
    await h.until(async () => (await h.phase()) !== "gathering", "the gather to close");
    h.releaseHeld();
    const result = await h.result();
    expect(result).toMatchObject({ outcome: "partial", closedBy: "deadline" });
    expect(statuses(result)).toEqual({ a: ["succeeded", 1], b: ["timedOut", 1], c: ["timedOut", 1] });
  });
});

describe("retries under a deadline (the orchestrator's own durable retry waits)", () => {
  // The trial's case: one recipient failing every attempt, retry + deadline. callActivityWithRetry inside
  // the progressive gather failed the whole orchestration as non-deterministic.
  for (const mode of ["all", "first", "quorum"] as const) {
    for (const [kind, recipients] of [
      ["simulated", sims("bad", "good")],
      ["URL", urls("bad", "good")],
    ] as const) {
      test(`${mode}, ${kind} recipients: a failing recipient is retried, the gather completes`, async () => {
        const h = host((id) => (id === "bad" ? { error: "HTTP 503" } : { value: { ok: 1 } }));
        const completion = { mode, agree: false, timeoutMs: 20_000, ...(mode === "quorum" ? { quorum: 1 } : {}) };
        await h.start(gatherInput({ recipients: [...recipients], completion, retry: retry(3, 100) }));
        if (mode === "all") {
          await h.advance(100, 2); // the deadline and the first retry wait are armed
          await h.until(() => h.calls.filter((c) => c.recipientId === "bad").length === 2);
          await h.advance(100, 2); // the second
        }
        const result = await h.result();
        expect(result.outcome).toBe("complete");
        if (mode === "all") {
          expect(statuses(result)).toEqual({ bad: ["failed", 3], good: ["succeeded", 1] });
          expectCallsScheduledOnce(h, { bad: 3, good: 1 });
        } else {
          // first/quorum decided on "good": the pending retry wait was cancelled, not waited out.
          expect(result.responses!.find((r) => r.recipientId === "good")?.status).toBe("succeeded");
        }
        expect(h.problems()).toEqual([]);
      });
    }
  }

  test("the trial's request: one recipient, 2 attempts, 20 s deadline → failed after 2 attempts, no non-determinism", async () => {
    const h = host(() => ({ error: "simulated failure (failureRate 1)" }));
    await h.start(
      gatherInput({ recipients: sims("bad"), completion: { mode: "all", agree: false, timeoutMs: 20_000 }, retry: retry(2, 100) }),
    );
    await h.advance(100, 2);
    const result = await h.result();
    expect(result).toMatchObject({ outcome: "failed", closedBy: "all-failed" });
    expect(statuses(result)).toEqual({ bad: ["failed", 2] });
    expect(h.shape().filter((e) => /TimerCreated|TaskScheduled/.test(e))).toEqual([
      "TaskScheduled#0", // bad, attempt 1
      "TimerCreated#1", // the deadline
      "TimerCreated#2", // the retry wait
      "TaskScheduled#3", // bad, attempt 2
      "TaskScheduled#4", // aggregateResponses
    ]);
  });

  test("a gather decided by its first answer does not wait out another recipient's 600 s retry wait", async () => {
    let goodAnswers = false;
    const h = host((id) => (id === "slow" ? { error: "HTTP 500" } : goodAnswers ? { value: "yes" } : "hold"));
    await h.start(
      gatherInput({
        recipients: sims("slow", "good"),
        completion: { mode: "first", agree: false, timeoutMs: 3_600_000 },
        retry: retry(5, 600_000),
      }),
    );
    await h.until(() => h.clock.dueTimes().length === 2, "the deadline and the retry wait armed");
    goodAnswers = true;
    h.releaseHeld();
    const result = await h.result();
    expect(result).toMatchObject({ outcome: "complete", closedBy: "first-response" });
    // slow had made one attempt, its retry still waiting.
    expect(statuses(result)).toEqual({ slow: ["abandoned", 1], good: ["succeeded", 1] });
    // Both timers (deadline and retry wait) went out cancelled; no time had to pass.
    expect(
      h
        .flatActions()
        .filter((a) => a.actionType === 5)
        .map((a) => a.isCanceled),
    ).toEqual([true, true]);
  });

  test("retry waits follow first × coefficient^n, capped by maxRetryIntervalMs", async () => {
    const h = host(() => ({ error: "down" }));
    await h.start(gatherInput({ recipients: sims("x"), retry: retry(4, 1000, { backoffCoefficient: 3, maxRetryIntervalMs: 5000 }) }));
    const start = h.clock.now();
    const fireAts: number[] = [];
    for (const wait of [1000, 3000, 5000]) {
      await h.advance(0);
      fireAts.push(h.clock.dueTimes()[0] - start);
      h.clock.advance(wait);
      await h.until(() => h.calls.length === fireAts.length + 1);
    }
    expect(fireAts).toEqual([1000, 1000 + 3000, 1000 + 3000 + 5000]);
    expect(statuses(await h.result())).toEqual({ x: ["failed", 4] });
  });

  test("no retry that would start after the deadline: the recipient fails at once and the gather can close", async () => {
    const h = host(() => ({ error: "down" }));
    await h.start(
      gatherInput({ recipients: sims("x"), completion: { mode: "all", agree: false, timeoutMs: 1000 }, retry: retry(3, 5000) }),
    );
    const result = await h.result();
    expect(result.responses![0]).toMatchObject({
      status: "failed",
      attempts: 1,
      error: "down (the next retry would start after the deadline)",
    });
  });

  test("a retried recipient that answers on a later attempt succeeds with its attempt count", async () => {
    const h = host((_id, attempt) => (attempt < 3 ? { error: "flaky" } : { value: { price: 7 } }));
    await h.start(
      gatherInput({ recipients: sims("x"), completion: { mode: "all", agree: false, timeoutMs: 60_000 }, retry: retry(5, 10) }),
    );
    await h.advance(10, 2);
    await h.until(() => h.calls.length === 2);
    await h.advance(10, 2);
    expect(statuses(await h.result())).toEqual({ x: ["succeeded", 3] });
    expect(h.calls.map((c) => c.attempt)).toEqual([1, 2, 3]);
  });
});

describe("Retry-After (the wait a recipient asked for, carried in its failure)", () => {
  test("the next attempt waits at least the Retry-After, not the shorter backoff; the timer counts from the orchestrator's clock", async () => {
    const h = host((_id, attempt) => (attempt === 1 ? { error: "HTTP 429 (Retry-After 30 s)" } : { value: { ok: 1 } }));
    const t0 = h.clock.now();
    await h.start(
      gatherInput({ recipients: urls("busy"), completion: { mode: "all", agree: false, timeoutMs: 120_000 }, retry: retry(3, 100) }),
    );
    await h.until(() => h.clock.dueTimes().length === 2, "the deadline and the retry wait armed");
    expect(h.clock.dueTimes().map((at) => at - t0)).toEqual([30_000, 120_000]);
    h.clock.advance(29_999);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(h.calls).toHaveLength(1);
    h.clock.advance(1);
    expect(statuses(await h.result())).toEqual({ busy: ["succeeded", 2] });
    expectCallsScheduledOnce(h, { busy: 2 });
    expect(h.problems()).toEqual([]);
  });

  test("a Retry-After past the deadline is not waited for: failed at once, the error naming the status", async () => {
    const h = host(() => ({ error: "HTTP 503 (Retry-After 30 s)" }));
    await h.start(
      gatherInput({ recipients: urls("busy"), completion: { mode: "all", agree: false, timeoutMs: 10_000 }, retry: retry(3, 100) }),
    );
    const result = await h.result();
    expect(result).toMatchObject({ outcome: "failed", closedBy: "all-failed" });
    expect(result.responses![0]).toMatchObject({
      status: "failed",
      attempts: 1,
      error: "HTTP 503 (Retry-After 30 s is past the deadline)",
    });
    expect(h.calls).toHaveLength(1);
  });

  test("without retry it changes nothing: one attempt, the error is the status", async () => {
    const h = host(() => ({ error: "HTTP 429 (Retry-After 2 s)" }));
    await h.start(gatherInput({ recipients: urls("busy"), completion: { mode: "all", agree: false, timeoutMs: 10_000 } }));
    expect((await h.result()).responses![0]).toMatchObject({ status: "failed", attempts: 1, error: "HTTP 429" });
  });
});

describe("failure tolerance", () => {
  const closed = async (h: OrchestrationHost, instanceId = "g1") =>
    h.until(async () => (await h.phase(instanceId)) !== "gathering", `${instanceId} to close`);

  test("the failure over the bound closes the gather: failed, the rest abandoned, a pending retry wait never waited out", async () => {
    const h = host((id) =>
      id === "a" || id === "b" ? { error: "HTTP 500" } : id === "c" ? { error: "HTTP 429 (Retry-After 600 s)" } : "hold",
    );
    await h.start(
      gatherInput({
        recipients: sims("a", "b", "c", "d", "e"),
        completion: { mode: "all", agree: false, timeoutMs: 3_600_000 },
        retry: retry(3, 100),
        tolerance: { maxFailures: 1 },
      }),
    );
    await h.advance(100, 3); // a's and b's retry waits (c's is 600 s), and the deadline
    await h.until(() => h.calls.length === 7, "a and b tried again");
    await h.advance(100, 3);
    await closed(h);
    h.releaseHeld();
    const result = await h.result();
    expect(result).toMatchObject({ outcome: "failed", closedBy: "failure-tolerance-exceeded", counts: { failed: 2, abandoned: 3 } });
    expect(statuses(result)).toEqual({
      a: ["failed", 3],
      b: ["failed", 3],
      c: ["abandoned", 1],
      d: ["abandoned", 1],
      e: ["abandoned", 1],
    });
    expect(h.calls.filter((c) => c.recipientId === "c")).toHaveLength(1);
    expect(h.problems()).toEqual([]);
  });

  test("every completion mode gets it", async () => {
    for (const completion of [
      { mode: "first" as const, agree: false },
      { mode: "quorum" as const, quorum: 2, agree: false },
    ]) {
      const h = host((id) => (id === "a" || id === "b" ? { error: "down" } : "hold"));
      await h.start(gatherInput({ recipients: sims("a", "b", "c", "d", "e"), completion, tolerance: { maxFailurePercent: 20 } }));
      await closed(h);
      h.releaseHeld();
      expect(await h.result()).toMatchObject({
        outcome: "failed",
        closedBy: "failure-tolerance-exceeded",
        counts: { failed: 2, abandoned: 3 },
      });
    }
  });

  test("batches: one whose own failures exceed the gather's bound closes at once, and the parent closes the others", async () => {
    const h = host((id) => (id === "a" || id === "b" ? { error: "down" } : "hold"));
    await h.start(gatherInput({ recipients: sims("a", "b", "c", "d", "e", "f"), fanoutBatchSize: 2, tolerance: { maxFailures: 1 } }));
    await closed(h);
    // Batch 0 closed on its own; the parent closed batches 1 and 2 while their calls were still held. Nothing is
    // released: the held calls end as they read the parent's status (closing.ts), abandoned.
    expect((await h.status("g1~batch-0")).output).toMatchObject({ decision: { closedBy: "failure-tolerance-exceeded" } });
    await h.until(() => h.heldIds().length === 0, "the held calls to end");
    const result = await h.result();
    for (const id of ["g1~batch-1", "g1~batch-2"]) expect((await h.finished(id)).output).not.toHaveProperty("decision.closedBy");
    expect(result).toMatchObject({ outcome: "failed", closedBy: "failure-tolerance-exceeded" });
    // c to f were held in flight when their batches closed: one attempt each.
    expect(statuses(result)).toEqual({
      a: ["failed", 1],
      b: ["failed", 1],
      c: ["abandoned", 1],
      d: ["abandoned", 1],
      e: ["abandoned", 1],
      f: ["abandoned", 1],
    });
    expect(h.problems()).toEqual([]);
  });

  test("batches: failures spread over batches count once the batches holding them finish", async () => {
    // Bound 1; a (batch 0) and c (batch 1) fail. Batch 0 ends at once (b answers): 1 failure, within the bound.
    // Batch 1 alone is within it too, so it runs on until d answers; only then does the parent see 2 failures.
    const h = host((id) => (id === "a" || id === "c" ? { error: "down" } : id === "d" ? "hold" : { value: id }));
    await h.start(gatherInput({ recipients: sims("a", "b", "c", "d", "e", "f"), fanoutBatchSize: 2, tolerance: { maxFailures: 1 } }));
    await h.until(async () => ((await h.status("g1~batch-1"))?.customStatus as { failed?: number } | null)?.failed === 1, "c failed");
    await h.until(
      async () => ((await h.status()).customStatus as { succeeded?: number } | null)?.succeeded === 3,
      "batches 0 and 2 merged",
    );
    expect((await h.status()).customStatus).toMatchObject({ phase: "gathering", failed: 1 });
    expect((await h.status("g1~batch-1")).runtimeStatus).toBe("Running");
    h.releaseHeld();
    const result = await h.result();
    expect(result).toMatchObject({ outcome: "failed", closedBy: "failure-tolerance-exceeded", counts: { succeeded: 4, failed: 2 } });
  });

  test("batches with a census: failures spread over batches close the gather at the next census, not as the batch holding them ends", async () => {
    // As above, but the parent reads its running batches' counts every 2 s (censusMs): batch 1 holds c's failure
    // while d is held; the census adds it to batch 0's, 2 > 1, and the gather closes with d still in flight.
    const h = host((id) => (id === "a" || id === "c" ? { error: "down" } : id === "d" ? "hold" : { value: id }));
    await h.start(
      gatherInput({ recipients: sims("a", "b", "c", "d", "e", "f"), fanoutBatchSize: 2, tolerance: { maxFailures: 1 }, censusMs: 2000 }),
    );
    await h.until(async () => ((await h.status("g1~batch-1"))?.customStatus as { failed?: number } | null)?.failed === 1, "c failed");
    await h.until(
      async () => ((await h.status()).customStatus as { succeeded?: number } | null)?.succeeded === 3,
      "batches 0 and 2 merged",
    );
    expect(h.censuses).toBe(0);
    await h.advance(2000, 1); // the census timer (no deadline)
    await closed(h);
    const result = await h.result();
    expect(h.censuses).toBe(1);
    expect(result).toMatchObject({
      outcome: "failed",
      closedBy: "failure-tolerance-exceeded",
      counts: { succeeded: 3, failed: 2, abandoned: 1 },
    });
    expect(statuses(result).d).toEqual(["abandoned", 1]);
    // Batch 1 was closed by its parent, not finished by d's answer.
    expect((await h.finished("g1~batch-1")).output).not.toHaveProperty("decision.closedBy");
    expect(h.problems()).toEqual([]);
  });

  test("batches with a census: a quorum of successes spread over batches is reached at the next census", async () => {
    // Quorum 3, batches of 2: a and c answer, e too; b, d, f are held. No batch meets 3 alone or ends.
    const h = host((id) => (["a", "c", "e"].includes(id) ? { value: id } : "hold"));
    await h.start(
      gatherInput({
        recipients: sims("a", "b", "c", "d", "e", "f"),
        fanoutBatchSize: 2,
        completion: { mode: "quorum", quorum: 3, agree: false },
        censusMs: 2000,
      }),
    );
    await batchesAnswered(h, [0, 1, 2]);
    await h.advance(2000, 1);
    await closed(h);
    const result = await h.result();
    expect(result).toMatchObject({ outcome: "complete", closedBy: "quorum-reached", counts: { succeeded: 3, abandoned: 3 } });
    expect(h.problems()).toEqual([]);
  });

  test("batches with a census: an agreement quorum spread over batches is reached at the census that sees enough equal answers", async () => {
    // Quorum 3 agreeing, batches of 2: a, c, e and g answer, one per batch; b, d, f and h are held, so no batch ends.
    // c answers differently: of 4 successes, 3 agree (a, e, g), which only the census's votes can tell.
    const answer = (id: string) => (id === "c" ? { value: { answer: 41 } } : { value: { answer: 42 } });
    const h = host((id) => (["a", "c", "e"].includes(id) ? answer(id) : id === "g" ? answer("a") : "hold"));
    await h.start(
      gatherInput({
        recipients: sims("a", "b", "c", "d", "e", "f", "g", "h"),
        fanoutBatchSize: 2,
        completion: { mode: "quorum", quorum: 3, agree: true },
        aggregate: { kind: "vote", order: "min" },
        censusMs: 2000,
        censusVotes: true,
      }),
    );
    await batchesAnswered(h, [0, 1, 2, 3]);
    // Each batch shows its votes: one digest, one answer.
    expect((await h.status("g1~batch-0")).customStatus).toMatchObject({ votes: [[expect.any(String), 1]] });
    await h.advance(2000, 1);
    await closed(h);
    const result = await h.result();
    expect(h.censuses).toBe(1);
    expect(result).toMatchObject({
      outcome: "complete",
      closedBy: "quorum-reached",
      counts: { succeeded: 4, abandoned: 4 },
      aggregate: { kind: "vote", value: { answer: 42 }, count: 3 },
    });
    expect(h.problems()).toEqual([]);
  });

  test("batches with a census: the votes of a batch merged after the census read them are not counted twice", async () => {
    // Quorum 3 agreeing, batches of 2: a and c answer X, the rest are held. The census reads batch 0's vote for X; then,
    // before its result reaches the parent, b answers and the parent merges batch 0 (its X now in its own count).
    const h = host((id) => (id === "a" || id === "c" ? { value: "X" } : "hold"));
    await h.start(
      gatherInput({
        recipients: sims("a", "b", "c", "d", "e", "f", "g", "h"),
        fanoutBatchSize: 2,
        completion: { mode: "quorum", quorum: 3, agree: true },
        censusMs: 2000,
        censusVotes: true,
      }),
    );
    await batchesAnswered(h, [0, 1]);
    h.afterCensusRead = async () => {
      h.release("b");
      await h.until(async () => ((await h.status()).customStatus as { succeeded?: number } | null)?.succeeded === 2, "batch 0 merged");
    };
    await h.advance(2000, 1);
    await new Promise((resolve) => setTimeout(resolve, 200));
    // Two answers equal X, not three: the gather goes on.
    expect((await h.status()).runtimeStatus).toBe("Running");
    expect(h.censuses).toBe(1);
    h.releaseHeld();
    const result = await h.result();
    // The held ones, released, all answer the same value: those agree.
    expect(result).toMatchObject({ closedBy: "quorum-reached", counts: { succeeded: 8 } });
    expect(h.problems()).toEqual([]);
  });

  test("batches with a census: three successes that do not agree reach no agreement quorum of 3; an input without censusVotes takes no census", async () => {
    const script = (id: string) => (id === "a" ? { value: 1 } : id === "c" ? { value: 2 } : id === "e" ? { value: 1 } : ("hold" as const));
    for (const censusVotes of [true, undefined]) {
      const h = host(script);
      await h.start(
        gatherInput({
          recipients: sims("a", "b", "c", "d", "e", "f"),
          fanoutBatchSize: 2,
          completion: { mode: "quorum", quorum: 3, agree: true, timeoutMs: 10_000 },
          censusMs: 2000,
          ...(censusVotes ? { censusVotes } : {}),
        }),
      );
      await batchesAnswered(h, [0, 1, 2]);
      await h.advance(10_000, 1);
      const result = await h.result();
      if (censusVotes) expect(h.censuses).toBeGreaterThan(0);
      else expect(h.censuses).toBe(0);
      expect(result).toMatchObject({ outcome: "partial", closedBy: "deadline", counts: { succeeded: 3, timedOut: 3 } });
      expect(h.problems()).toEqual([]);
      await h.stop();
    }
  });

  test("batches: maxFailurePercent is of all the gather's recipients, not of a batch", async () => {
    // 34 % of 6 allows 2 failures; of a batch of 2 it would allow none and close batch 0 at a's failure.
    const h = host((id) => (id === "a" ? { error: "down" } : id === "b" ? "hold" : { value: id }));
    await h.start(
      gatherInput({ recipients: sims("a", "b", "c", "d", "e", "f"), fanoutBatchSize: 2, tolerance: { maxFailurePercent: 34 } }),
    );
    await h.until(
      async () => ((await h.status()).customStatus as { succeeded?: number } | null)?.succeeded === 4,
      "batches 1 and 2 merged",
    );
    expect((await h.status("g1~batch-0")).runtimeStatus).toBe("Running");
    h.releaseHeld();
    const result = await h.result();
    expect(result).toMatchObject({ outcome: "complete", closedBy: "all-responded", counts: { succeeded: 5, failed: 1 } });
  });
});

describe("payloads stay out of durable history", () => {
  const big = (tag: string) => ({ tag, blob: "x".repeat(60_000) });

  test("30 answers of 60 KB: history and output carry facts and references, the values stay in the store", async () => {
    const ids = Array.from({ length: 30 }, (_, i) => `r${i}`);
    // An agreement quorum over big answers: equality is decided on digests, the values never travel.
    const h = host(() => ({ value: big("same") }));
    await h.start(
      gatherInput({
        recipients: sims(...ids),
        request: { q: "y".repeat(200_000) },
        completion: { mode: "quorum", quorum: 30, agree: true },
      }),
    );
    const result = await h.result();
    expect(result).toMatchObject({ outcome: "complete", closedBy: "quorum-reached", counts: { succeeded: 30 } });
    expect(result.responses).toBeUndefined(); // 1.8 MB of answers: read them from responsesUri
    expect(result.responsesUri).toBe("http://localhost:7071/api/scatter-gather/g1/responses");
    expect(result.aggregate).toEqual({ kind: "collect", count: 30 });
    const historyBytes = Buffer.byteLength(JSON.stringify(h.history()), "utf8");
    expect(historyBytes).toBeLessThan(30 * 3 * 1024); // < 3 KB a recipient, whatever the answers and the request
    // And the stored result document names every recipient.
    const doc = await h.store.getJson<{ outcomes: { recipientId: string }[] }>("g1/run-1/result.json");
    expect(doc.outcomes.map((o) => o.recipientId)).toEqual(ids);
  });

  test("best and vote read only the answers they name; small results come back inline", async () => {
    const prices: Record<string, number> = { a: 30, b: 10, c: 20 };
    const h = host((id) => ({ value: { price: prices[id], label: id === "a" ? "cheap" : "dear" } }));
    await h.start(gatherInput({ aggregate: { kind: "best", field: "price", order: "min" } }));
    const result = await h.result();
    expect(result.aggregate).toEqual({ kind: "best", field: "price", order: "min", recipientId: "b", value: { price: 10, label: "dear" } });
    expect(result.responses!.map((r) => [r.recipientId, r.status, r.value])).toEqual([
      ["a", "succeeded", { price: 30, label: "cheap" }],
      ["b", "succeeded", { price: 10, label: "dear" }],
      ["c", "succeeded", { price: 20, label: "dear" }],
    ]);
  });
});

describe("large fan-outs", () => {
  test("batches run under ids clients cannot take (~batch-n), merged in recipient order", async () => {
    const h = host((id) => ({ value: id }));
    await h.start(gatherInput({ recipients: sims("a", "b", "c", "d", "e"), fanoutBatchSize: 2 }));
    const result = await h.result();
    expect(result.responses!.map((r) => r.recipientId)).toEqual(["a", "b", "c", "d", "e"]);
    const batchIds = (await h.engine.listInstances({})).instances.map((i) => i.instanceId).filter((id) => id !== "g1");
    expect(batchIds.sort()).toEqual(["g1~batch-0", "g1~batch-1", "g1~batch-2"]);
  });

  test("batch ids carry the run's tag, so a restart of the id never reuses an earlier run's batch ids", async () => {
    const h = host((id) => ({ value: id }));
    const prefix = batchIdPrefix("g1", "run-1");
    await h.start(gatherInput({ recipients: sims("a", "b", "c"), fanoutBatchSize: 2, batchIdPrefix: prefix }));
    await h.result();
    const batchIds = (await h.engine.listInstances({})).instances.map((i) => i.instanceId).filter((id) => id !== "g1");
    expect(batchIds.sort()).toEqual([`${prefix}0`, `${prefix}1`]);
    expect(prefix).toMatch(/^g1~batch-[0-9a-f]{8}-$/);
  });

  test("a batch closes early only when the whole policy is met inside it", async () => {
    // quorum 2 over slices [a b c] and [d]: a and b fail, so slice 0 alone can no longer reach 2, but its
    // last answer still counts for the whole gather: it goes on until c answers.
    const h = host((id) => (id === "a" || id === "b" ? { error: "down" } : id === "c" ? "hold" : { value: 1 }));
    await h.start(
      gatherInput({ recipients: sims("a", "b", "c", "d"), fanoutBatchSize: 3, completion: { mode: "quorum", quorum: 2, agree: false } }),
    );
    await h.until(async () => ((await h.status("g1~batch-0"))?.customStatus as { failed?: number } | null)?.failed === 2, "a and b failed");
    expect((await h.status("g1~batch-0")).runtimeStatus).toBe("Running");
    h.releaseHeld();
    const result = await h.result();
    expect(result).toMatchObject({ outcome: "complete", closedBy: "quorum-reached" });
    expect(statuses(result)).toEqual({ a: ["failed", 1], b: ["failed", 1], c: ["succeeded", 1], d: ["succeeded", 1] });
  });

  test("an agreement quorum larger than a batch counts equal answers across batches, by their values", async () => {
    // Slices of 2 cannot hold a quorum of 3: each gathers all its recipients, and the parent counts agreement.
    const agreeing = host((id) => ({ value: id === "b" ? { v: 2 } : { v: 1 } }));
    await agreeing.start(
      gatherInput({ recipients: sims("a", "b", "c", "d"), fanoutBatchSize: 2, completion: { mode: "quorum", quorum: 3, agree: true } }),
    );
    expect(await agreeing.result()).toMatchObject({ outcome: "complete", closedBy: "quorum-reached" });

    // Four different answers never agree, however many of them there are.
    const disagreeing = host((id) => ({ value: { v: id } }));
    await disagreeing.start(
      gatherInput({ recipients: sims("a", "b", "c", "d"), fanoutBatchSize: 2, completion: { mode: "quorum", quorum: 3, agree: true } }),
    );
    expect(await disagreeing.result()).toMatchObject({ outcome: "failed", closedBy: "quorum-unreachable" });
  });

  test("a batch the parent closes hands back what it had recorded: those answers count, only its pending ones are abandoned", async () => {
    // Batches [a b] [c d] [e f], quorum 3: e has answered inside the open batch 2 (f held) when c's answer lets
    // batch 1 end and the parent reach the quorum. e answered before the gather closed for it: it succeeded.
    const h = host((id) => (id === "c" || id === "f" ? "hold" : { value: { id } }));
    await h.start(
      gatherInput({
        recipients: sims("a", "b", "c", "d", "e", "f"),
        fanoutBatchSize: 2,
        completion: { mode: "quorum", quorum: 3, agree: false },
      }),
    );
    await h.until(
      async () => ((await h.status("g1~batch-2"))?.customStatus as { succeeded?: number } | null)?.succeeded === 1,
      "e recorded",
    );
    await h.until(() => h.heldIds().includes("c"), "c held");
    h.release("c");
    const result = await h.result();
    expect(result).toMatchObject({ outcome: "complete", closedBy: "quorum-reached", counts: { succeeded: 5, abandoned: 1 } });
    expect(statuses(result)).toMatchObject({ e: ["succeeded", 1], f: ["abandoned", 1] }); // f's call was cut short
    expect(result.aggregate).toMatchObject({ count: 5 });
    expect(h.problems()).toEqual([]);
  });

  test("a quorum larger than a batch, met inside batches that are still running at the deadline: quorum-reached, the rest timedOut", async () => {
    // Batches [a b] [c d] [e f] gather all their recipients (a quorum of 3 does not fit in 2); b, d, f never answer.
    // The parent learns of a, c and e only when it closes the batches at the deadline.
    const h = host((id) => (id === "b" || id === "d" || id === "f" ? "hold" : { value: 1 }));
    await h.start(
      gatherInput({
        recipients: sims("a", "b", "c", "d", "e", "f"),
        fanoutBatchSize: 2,
        completion: { mode: "quorum", quorum: 3, agree: false, timeoutMs: 1000 },
      }),
    );
    await h.until(() => h.heldIds().length === 3, "b, d and f held");
    await h.advance(1000, 4); // the parent's deadline timer and each batch's
    const result = await h.result();
    expect(result).toMatchObject({ outcome: "complete", closedBy: "quorum-reached", counts: { succeeded: 3, timedOut: 3, abandoned: 0 } });
    expect(statuses(result)).toMatchObject({ a: ["succeeded", 1], b: ["timedOut", 1], e: ["succeeded", 1] });
    expect(h.problems()).toEqual([]);
  });

  test("calls end as they read their batch's or gather's status, without closeBatches: a batch that decided, then its parent", async () => {
    // Batches [a b c] [d e f], first: a answers, every other call is held, and closeBatches waits (a host queues it
    // behind the recipient calls that fill its slots). Batch 0 says it is done, so b and c end; the parent decides
    // and says so, so e and f end and batch 1 closes. Only then does closeBatches run, with nothing left to end.
    const h = host((id) => (id === "a" ? { value: 1 } : "hold"));
    const openCloseBatches = h.holdCloseBatches();
    await h.start(
      gatherInput({ recipients: sims("a", "b", "c", "d", "e", "f"), fanoutBatchSize: 3, completion: { mode: "first", agree: false } }),
    );
    for (const id of ["g1~batch-0", "g1~batch-1"])
      await h.until(async () => (await h.status(id))?.runtimeStatus === "Completed", `${id} to complete`);
    expect(h.heldIds()).toEqual([]);
    expect((await h.status("g1~batch-1")).output).not.toHaveProperty("decision.closedBy"); // closed, not deciding
    expect(await h.phase()).toBe("aggregating");
    openCloseBatches();
    const result = await h.result();
    expect(result).toMatchObject({ closedBy: "first-response", counts: { succeeded: 1, failed: 0, abandoned: 5 } });
    // Their calls were cut short: one attempt each.
    expect(statuses(result)).toMatchObject({ b: ["abandoned", 1], e: ["abandoned", 1] });
    expect(h.problems()).toEqual([]);
  });

  test("a batch started before 2026-12-07 (no callsEndByStatus) still runs its own closeBatches, so its history replays after an upgrade", async () => {
    // Its parent wrote its input without the flag; the batch decided and scheduled closeBatches, as that version did,
    // and the host then restarted (a deploy) with the activity still queued. Replayed, it must schedule it again.
    const h = host((id) => (id === "a" ? { value: 1 } : "hold"));
    const openCloseBatches = h.holdCloseBatches();
    const legacy = {
      completion: { mode: "first", agree: false },
      aggregate: { kind: "collect", order: "min" },
      closeKey: "g1@t0",
      closable: true,
    };
    await h.startBatch(sims("a", "b", "c"), legacy);
    const scheduledCloseBatches = () =>
      h.history("g1~batch-0").some((e) => e.EventType === EventType.TaskScheduled && e.Name === FunctionNames.closeBatches);
    await h.until(scheduledCloseBatches, "the batch's own closeBatches");
    await h.restart();
    openCloseBatches();
    const batch = await h.finished("g1~batch-0");
    expect(batch.runtimeStatus).toBe("Completed");
    expect(batch.output).toMatchObject({ decision: { closedBy: "first-response" }, counts: { succeeded: 1, abandoned: 2 } });
    expect(h.problems()).toEqual([]);
    // Started now (the flag set), the same batch runs no activity after deciding.
    const current = host((id) => (id === "a" ? { value: 1 } : "hold"));
    await current.startBatch(sims("a", "b", "c"), { ...legacy, callsEndByStatus: true });
    expect((await current.finished("g1~batch-0")).output).toMatchObject({ decision: { closedBy: "first-response" } });
    expect(
      current.history("g1~batch-0").some((e) => e.EventType === EventType.TaskScheduled && e.Name === FunctionNames.closeBatches),
    ).toBe(false);
  });

  test("a batch that meets the policy inside itself ends its own calls; the other batches' calls end as their parent closes them", async () => {
    // Batches [a b c] [d e f], first: a answers, every other call is held. Nothing is released: the gather
    // completes because batch 0's calls read that it is done and the parent's closeBatches ends batch 1's.
    const h = host((id) => (id === "a" ? { value: 1 } : "hold"));
    await h.start(
      gatherInput({ recipients: sims("a", "b", "c", "d", "e", "f"), fanoutBatchSize: 3, completion: { mode: "first", agree: false } }),
    );
    const result = await h.result();
    expect(result).toMatchObject({ closedBy: "first-response", counts: { succeeded: 1, failed: 0, abandoned: 5 } });
    expect(h.problems()).toEqual([]);
  });

  test("once the parent decides, batches still waiting on retries are closed and the parent completes", async () => {
    const h = host((id) => (id === "a" ? { value: "first!" } : { error: "HTTP 500" }));
    await h.start(
      gatherInput({
        recipients: sims("a", "b", "c", "d"),
        fanoutBatchSize: 2,
        completion: { mode: "first", agree: false, timeoutMs: 3_600_000 },
        retry: retry(5, 600_000),
      }),
    );
    const result = await h.result();
    expect(result).toMatchObject({ outcome: "complete", closedBy: "first-response" });
    expect(result.responses!.find((r) => r.recipientId === "a")).toMatchObject({ status: "succeeded" });
    for (const id of ["g1~batch-0", "g1~batch-1"]) expect((await h.status(id)).runtimeStatus).toBe("Completed");
    expect(h.problems()).toEqual([]);
  });
});

describe("timers inside every backend's limit", () => {
  // The worst request validation accepts: the longest deadline, the most attempts, the longest first wait
  // and the steepest backoff, over batches. Every recipient fails every attempt.
  test.each([
    ["a steep backoff from 1 s", 1_000],
    ["the steepest backoff from 1 ms", 1],
  ])("%s: no timer of the gather or its batches fires past its deadline (5 days ≤ the 6-day short-timer limit)", async (_name, first) => {
    const validation = validateGatherRequest(
      {
        request: null,
        recipients: ["a", "b", "c", "d", "e"].map((id) => ({ id, simulate: { failureRate: 1 } })),
        completion: { timeoutMs: 432_000_000 },
        retry: { maxAttempts: 10, firstRetryIntervalMs: first, backoffCoefficient: 100 },
      },
      { ...DEFAULT_LIMITS, maxAttemptsPerGather: 1_000 },
    );
    if (!validation.ok) throw new Error(JSON.stringify(validation.details));
    const { recipients, completion, aggregate, retry: spec } = validation.value;
    const h = host(() => ({ error: "HTTP 503" }));
    const t0 = h.clock.now();
    await h.start(
      gatherInput({ recipients, completion, aggregate, retry: spec, fanoutBatchSize: 2, batchIdPrefix: batchIdPrefix("g1", "run-1") }),
    );
    // Jump the fake clock from one armed timer to the next until the gather ends, each time once the
    // activities and episodes of the last jump have settled.
    for (let step = 0; step < 200 && (await h.status()).runtimeStatus !== "Completed"; step++) {
      await h.settled();
      const due = h.clock.dueTimes();
      if (due.length > 0) h.clock.advance(Math.max(0, Math.min(...due) - h.clock.now()));
    }
    const result = await h.result();
    expect(result.counts.failed + result.counts.timedOut).toBe(5);
    const instances = (await h.engine.listInstances({})).instances.map((i) => i.instanceId);
    expect(instances).toHaveLength(4); // the gather and its three batches
    const fireAts = instances.flatMap((id) =>
      h
        .history(id)
        .filter((e) => e.EventType === EventType.TimerCreated)
        .map((e) => String(e.FireAt)),
    );
    expect(fireAts.length).toBeGreaterThanOrEqual(3 + 5 * 2); // three deadlines, at least two waits a recipient
    for (const fireAt of fireAts) {
      expect(Number.isNaN(Date.parse(fireAt))).toBe(false);
      expect(Date.parse(fireAt) - t0).toBeLessThanOrEqual(432_000_000);
    }
    expect(h.problems()).toEqual([]);
  });
});

describe("auction", () => {
  const auctionInput = (extra: { expected?: number; maxAnswers?: number; timeoutMs?: number; aggregate?: GatherSpec["aggregate"] } = {}) =>
    gatherInput({
      recipients: undefined,
      auction: {
        notify: ["http://127.0.0.1:9/rfq"],
        respondUrl: "http://localhost:7071/api/scatter-gather/g1/answers",
        ...(extra.expected ? { expected: extra.expected } : {}),
      },
      completion: { mode: "all", agree: false, timeoutMs: extra.timeoutMs ?? 60_000 },
      ...(extra.maxAnswers ? { maxAnswers: extra.maxAnswers } : {}),
      ...(extra.aggregate ? { aggregate: extra.aggregate } : {}),
    });

  test("facts an event claims are never taken: a forged event counts only with a stored answer, facts computed from it", async () => {
    const h = host();
    await h.start(auctionInput({ expected: 2, aggregate: { kind: "summary", field: "score", order: "min" } }));
    await h.until(() => h.notified.length === 1);
    // Raised straight at the instance (sendEventPostUri), in the shape the HTTP routes once used.
    await h.engine.raiseEvent("g1", "response", { responder: "mallory", facts: { bytes: 2, score: 1, field: 1 } });
    // An answer stored by the HTTP routes, then announced by name only; and a raw value with a claimed fact.
    await new RunPayloads(h.store, { instanceId: "g1", runId: "run-1" }).storeAuctionAnswer("acme", {
      recipientId: "acme",
      value: { score: 7 },
    });
    await h.engine.raiseEvent("g1", "response", { responder: "acme", facts: { bytes: 1, field: 1000 } });
    await h.engine.raiseEvent("g1", "response", { responder: "globex", value: { score: "abc" }, facts: { bytes: 1, field: 5 } });
    const result = await h.result();
    expect(result.responses!.map((r) => r.recipientId)).toEqual(["acme", "globex"]);
    expect(result.aggregate).toMatchObject({ kind: "summary", field: "score", count: 1, sum: 7, min: 7, max: 7 });
  });

  test("first answer per responder wins; closes at expected; one deadline timer for the whole auction", async () => {
    const h = host();
    await h.start(auctionInput({ expected: 2 }));
    await h.until(() => h.notified.length === 1);
    await h.engine.raiseEvent("g1", "response", { responder: "acme", value: { price: 5 } });
    await h.engine.raiseEvent("g1", "response", { responder: "acme", value: { price: 1 } });
    await h.engine.raiseEvent("g1", "response", { nonsense: true });
    await h.engine.raiseEvent("g1", "response", { responder: "globex", value: { price: 6 } });
    const result = await h.result();
    expect(result).toMatchObject({ outcome: "complete", closedBy: "all-responded", counts: { total: 2, succeeded: 2 } });
    expect(result.responses).toEqual([
      { recipientId: "acme", status: "succeeded", value: { price: 5 } },
      { recipientId: "globex", status: "succeeded", value: { price: 6 } },
    ]);
    expect(h.flatActions().filter((a) => a.actionType === 5)).toHaveLength(1);
  });

  test("without expected, answers stop at the cap (MAX_RECIPIENTS) and the auction closes", async () => {
    const h = host();
    await h.start(auctionInput({ maxAnswers: 3 }));
    // The last ones may find the auction closed already (the engine then refuses them, as the host does).
    for (let i = 0; i < 5; i++) await h.engine.raiseEvent("g1", "response", { responder: `r${i}`, value: i }).catch(() => undefined);
    const result = await h.result();
    expect(result).toMatchObject({ closedBy: "all-responded", counts: { total: 3, succeeded: 3 } });
    expect(result.responses!.map((r) => r.recipientId)).toEqual(["r0", "r1", "r2"]);
  });

  test("closes at the deadline with what arrived", async () => {
    const h = host();
    await h.start(auctionInput({ timeoutMs: 10_000 }));
    await h.engine.raiseEvent("g1", "response", { responder: "acme", value: 1 });
    await h.until(async () => ((await h.status()).customStatus as { succeeded: number }).succeeded === 1);
    await h.advance(10_000);
    expect(await h.result()).toMatchObject({ outcome: "partial", closedBy: "deadline", counts: { succeeded: 1 } });
  });
});

describe.each([
  ["one gather", {}],
  ["batches", { fanoutBatchSize: 2 }],
  ["batches under a window of 1 (batches not started by the deadline)", { fanoutBatchSize: 2, concurrency: { maxInFlight: 1 } }],
  ["one gather under a window of 1", { concurrency: { maxInFlight: 1 } }],
] as [string, Partial<GatherSpec>][])("quorum 5 of 6 with every call still running at the deadline: %s", (_name, shape) => {
  test("closes by the deadline, every pending recipient timedOut (batches change nothing)", async () => {
    const h = host(() => "hold");
    await h.start(
      gatherInput({
        recipients: sims("a", "b", "c", "d", "e", "f"),
        completion: { mode: "quorum", quorum: 5, agree: false, timeoutMs: 1000 },
        ...shape,
      }),
    );
    await h.until(() => h.heldIds().length > 0, "a call");
    await h.advance(1000);
    const result = await h.result();
    expect({ closedBy: result.closedBy, outcome: result.outcome, counts: result.counts }).toEqual({
      closedBy: "deadline",
      outcome: "failed",
      counts: { total: 6, succeeded: 0, failed: 0, timedOut: 6, abandoned: 0 },
    });
    expect(h.problems()).toEqual([]);
  });
});
