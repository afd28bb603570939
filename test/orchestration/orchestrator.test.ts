import { scatterGatherBatch, scatterGatherOrchestrator } from "../../src/durable/orchestrator";
import type { GatherResult, Json, OrchestrationInput, RecipientResponse } from "../../src/gather/types";
import { EventType, Replay, type Action } from "./replay";

const sim = (id: string, value: Json = { price: 1 }) => ({ id, simulate: { latencyMs: 0, failureRate: 0, value } });

function input(overrides: Partial<OrchestrationInput> & { fanoutBatchSize?: number } = {}): OrchestrationInput {
  return {
    request: { item: "widget" },
    recipients: [sim("a"), sim("b"), sim("c")],
    completion: { mode: "all", agree: false },
    aggregate: { kind: "collect", order: "min" },
    ...overrides,
  } as OrchestrationInput;
}

const answer = (value: unknown, durationMs = 5) => ({ value, durationMs });

/** Audit: in the cumulative actions, every recipient's call appears exactly once. */
function expectEachCallOnce(replay: Replay, recipientIds: string[]) {
  const calls = replay.actions.filter((a) => a.functionName === "callRecipient");
  const ids = calls.map((a) => (a.input as { recipient: { id: string } }).recipient.id);
  expect(ids.sort()).toEqual([...recipientIds].sort());
}

function timers(replay: Replay): Action[] {
  return replay.actions.filter((a) => a.actionType === 5);
}

async function finish(replay: Replay): Promise<GatherResult> {
  const aggregateId = replay.idOf("aggregateResponses");
  const scheduled = replay.history.find((e) => e.EventId === aggregateId && e.EventType === EventType.TaskScheduled)!;
  const { aggregate } = await import("../../src/gather/aggregate");
  const activityInput = JSON.parse(scheduled.Input as string);
  const state = await replay.episode([replay.completed(aggregateId, aggregate(activityInput.spec, activityInput.answers))]);
  expect(state.isDone).toBe(true);
  return state.output as GatherResult;
}

describe("scatterGatherOrchestrator through the real durable-functions replay", () => {
  test("all: schedules every recipient in one yield, decides as each answer arrives, aggregates", async () => {
    const replay = new Replay(scatterGatherOrchestrator, input());
    let state = await replay.start();
    expect(state.isDone).toBe(false);
    expect(state.actions[0]).toHaveLength(1);
    expect(state.actions[0][0].actionType).toBe(11); // one WhenAny over the three calls
    expect(replay.scheduledEvents().map((e) => e.EventId)).toEqual([0, 1, 2]);
    expect(state.customStatus).toEqual({ phase: "gathering", total: 3, succeeded: 0, failed: 0, pending: 3, deadline: null });

    state = await replay.episode([replay.failed(1, "HTTP 503")], 100);
    expect(state.customStatus).toMatchObject({ succeeded: 0, failed: 1, pending: 2 });
    state = await replay.episode([replay.completed(2, answer({ price: 45 }, 300))], 200);
    expect(state.customStatus).toMatchObject({ succeeded: 1, failed: 1, pending: 1 });
    expect(replay.actions.some((a) => a.functionName === "aggregateResponses")).toBe(false);
    state = await replay.episode([replay.completed(0, answer({ price: 40 }, 120))], 50);
    expect(state.customStatus).toMatchObject({ phase: "aggregating" });

    const result = await finish(replay);
    expect(result).toMatchObject({
      id: "test-instance",
      outcome: "complete",
      closedBy: "all-responded",
      startedAt: "2026-11-22T10:00:00.000Z",
      closedAt: "2026-11-22T10:00:00.350Z",
      counts: { total: 3, succeeded: 2, failed: 1, timedOut: 0, abandoned: 0 },
    });
    expect(result.responses).toEqual([
      { recipientId: "a", status: "succeeded", value: { price: 40 }, attempts: 1, durationMs: 120 },
      { recipientId: "b", status: "failed", error: "HTTP 503", attempts: 1 },
      { recipientId: "c", status: "succeeded", value: { price: 45 }, attempts: 1, durationMs: 300 },
    ]);
    expect(result.aggregate).toEqual({ kind: "collect", values: { a: { price: 40 }, c: { price: 45 } } });
    expectEachCallOnce(replay, ["a", "b", "c"]);
  });

  test("all: answers that arrive together in one episode are all taken", async () => {
    const replay = new Replay(scatterGatherOrchestrator, input());
    await replay.start();
    await replay.episode([replay.completed(2, answer(3)), replay.completed(0, answer(1)), replay.completed(1, answer(2))]);
    const result = await finish(replay);
    expect(result.responses.map((r) => r.value)).toEqual([1, 2, 3]);
    expectEachCallOnce(replay, ["a", "b", "c"]);
  });

  test("first: closes at the first success, cancels the deadline timer, abandons the rest", async () => {
    const replay = new Replay(scatterGatherOrchestrator, input({ completion: { mode: "first", agree: false, timeoutMs: 5000 } }));
    const state = await replay.start();
    expect(replay.timerIds()).toEqual([3]);
    expect(timers(replay)[0]).toMatchObject({ fireAt: "2026-11-22T10:00:05.000Z", isCanceled: false });
    expect(state.customStatus).toMatchObject({ deadline: "2026-11-22T10:00:05.000Z" });

    await replay.episode([replay.failed(0, "connection refused")], 10);
    expect(timers(replay)[0].isCanceled).toBe(false);
    await replay.episode([replay.completed(2, answer({ price: 9 }))], 10);
    expect(timers(replay)[0].isCanceled).toBe(true);
    expect(timers(replay)).toHaveLength(1);

    const result = await finish(replay);
    expect(result).toMatchObject({ outcome: "complete", closedBy: "first-response", counts: { total: 3, succeeded: 1, failed: 1, timedOut: 0, abandoned: 1 } });
    expect(result.responses[1]).toEqual({ recipientId: "b", status: "abandoned" });
    expectEachCallOnce(replay, ["a", "b", "c"]);
  });

  test("first: every recipient failing closes as all-failed", async () => {
    const replay = new Replay(scatterGatherOrchestrator, input({ completion: { mode: "first", agree: false } }));
    await replay.start();
    await replay.episode([replay.failed(0, "x"), replay.failed(1, "y")]);
    await replay.episode([replay.failed(2, "z")]);
    const result = await finish(replay);
    expect(result).toMatchObject({ outcome: "failed", closedBy: "all-failed", counts: { failed: 3 } });
    expect(result.aggregate).toEqual({ kind: "collect", values: {} });
  });

  test("quorum: closes when the quorum of successes is reached", async () => {
    const recipients = ["a", "b", "c", "d"].map((id) => sim(id));
    const replay = new Replay(scatterGatherOrchestrator, input({ recipients, completion: { mode: "quorum", quorum: 2, agree: false, timeoutMs: 60000 } }));
    await replay.start();
    await replay.episode([replay.completed(3, answer(1))]);
    await replay.episode([replay.failed(0, "HTTP 500")]);
    expect(replay.actions.some((a) => a.functionName === "aggregateResponses")).toBe(false);
    await replay.episode([replay.completed(1, answer(2))]);
    expect(timers(replay)[0].isCanceled).toBe(true);
    const result = await finish(replay);
    expect(result).toMatchObject({ outcome: "complete", closedBy: "quorum-reached", counts: { succeeded: 2, failed: 1, abandoned: 1 } });
    expectEachCallOnce(replay, ["a", "b", "c", "d"]);
  });

  test("quorum: closes as quorum-unreachable as soon as too many have failed", async () => {
    const recipients = ["a", "b", "c", "d"].map((id) => sim(id));
    const replay = new Replay(scatterGatherOrchestrator, input({ recipients, completion: { mode: "quorum", quorum: 3, agree: false, timeoutMs: 60000 } }));
    await replay.start();
    await replay.episode([replay.failed(2, "HTTP 500")]);
    expect(replay.actions.some((a) => a.functionName === "aggregateResponses")).toBe(false);
    await replay.episode([replay.failed(0, "HTTP 500")]);
    expect(timers(replay)[0].isCanceled).toBe(true);
    const result = await finish(replay);
    expect(result).toMatchObject({ outcome: "failed", closedBy: "quorum-unreachable", counts: { failed: 2, abandoned: 2 } });
  });

  test("agreement quorum: counts deep-equal values only", async () => {
    const recipients = ["a", "b", "c", "d"].map((id) => sim(id));
    const replay = new Replay(scatterGatherOrchestrator, input({ recipients, completion: { mode: "quorum", quorum: 2, agree: true }, aggregate: { kind: "vote", order: "min" } }));
    await replay.start();
    await replay.episode([replay.completed(0, answer({ label: "cat", score: [1, 2] }))]);
    await replay.episode([replay.completed(1, answer({ label: "dog", score: [1, 2] }))]);
    expect(replay.actions.some((a) => a.functionName === "aggregateResponses")).toBe(false);
    await replay.episode([replay.completed(3, answer({ score: [1, 2], label: "cat" }))]);
    const result = await finish(replay);
    expect(result).toMatchObject({ closedBy: "quorum-reached", counts: { succeeded: 3, abandoned: 1 } });
    expect(result.aggregate).toEqual({ kind: "vote", value: { label: "cat", score: [1, 2] }, count: 2 });
  });

  test("agreement quorum: unreachable once no group can still reach it", async () => {
    const recipients = ["a", "b", "c"].map((id) => sim(id));
    const replay = new Replay(scatterGatherOrchestrator, input({ recipients, completion: { mode: "quorum", quorum: 2, agree: true } }));
    await replay.start();
    await replay.episode([replay.completed(0, answer("x"))]);
    await replay.episode([replay.completed(1, answer("y"))]);
    expect(replay.actions.some((a) => a.functionName === "aggregateResponses")).toBe(false);
    await replay.episode([replay.failed(2, "boom")]);
    const result = await finish(replay);
    expect(result).toMatchObject({ outcome: "failed", closedBy: "quorum-unreachable" });
  });

  test("deadline: closes with partial results; pending recipients are timedOut", async () => {
    const replay = new Replay(scatterGatherOrchestrator, input({ completion: { mode: "all", agree: false, timeoutMs: 2000 }, aggregate: { kind: "best", field: "price", order: "min" } }));
    await replay.start();
    await replay.episode([replay.completed(1, answer({ price: 7 }))], 500);
    await replay.episode([replay.timerFired(3)], 1500);
    const result = await finish(replay);
    expect(result).toMatchObject({ outcome: "partial", closedBy: "deadline", closedAt: "2026-11-22T10:00:02.000Z", counts: { succeeded: 1, timedOut: 2 } });
    expect(result.responses.map((r: RecipientResponse) => r.status)).toEqual(["timedOut", "succeeded", "timedOut"]);
    expect(result.aggregate).toEqual({ kind: "best", field: "price", order: "min", recipientId: "b", value: { price: 7 } });
    expect(timers(replay)[0].isCanceled).toBe(false);
  });

  test("deadline with no answer at all: failed", async () => {
    const replay = new Replay(scatterGatherOrchestrator, input({ completion: { mode: "quorum", quorum: 1, agree: false, timeoutMs: 1000 } }));
    await replay.start();
    await replay.episode([replay.timerFired(3)], 1000);
    const result = await finish(replay);
    expect(result).toMatchObject({ outcome: "failed", closedBy: "deadline", counts: { timedOut: 3 } });
  });

  test("retry: failed attempts are retried by the host; attempts are reported", async () => {
    const retry = { maxAttempts: 2, firstRetryIntervalMs: 500, backoffCoefficient: 2 };
    const replay = new Replay(scatterGatherOrchestrator, input({ recipients: [sim("a"), sim("b")], retry }));
    const state = await replay.start();
    expect(state.actions[0][0].compoundActions!.map((a) => a.actionType)).toEqual([1, 1]);
    expect(state.actions[0][0].compoundActions![0]).toMatchObject({ retryOptions: { firstRetryIntervalInMilliseconds: 500, maxNumberOfAttempts: 2, backoffCoefficient: 2 } });

    // a: fails once, then succeeds. b: fails twice (final), after which the SDK waits one more timer.
    const callA = replay.history.find((e) => e.EventId === 0)!;
    const callB = replay.history.find((e) => e.EventId === 1)!;
    const t2 = replay.hostTimer(new Date(replay.now.getTime() + 500));
    await replay.episode([replay.failed(0, "HTTP 503"), t2]);
    const a2 = replay.hostScheduled("callRecipient", JSON.parse(callA.Input as string));
    await replay.episode([replay.timerFired(t2.EventId), a2], 500);
    await replay.episode([replay.completed(a2.EventId, answer("A", 11))]);

    const t4 = replay.hostTimer(new Date(replay.now.getTime() + 500));
    await replay.episode([replay.failed(1, "timed out after 10000 ms"), t4]);
    const b2 = replay.hostScheduled("callRecipient", JSON.parse(callB.Input as string));
    await replay.episode([replay.timerFired(t4.EventId), b2], 500);
    const t6 = replay.hostTimer(new Date(replay.now.getTime() + 1000));
    await replay.episode([replay.failed(b2.EventId, "HTTP 502"), t6]);
    expect(replay.actions.some((a) => a.functionName === "aggregateResponses")).toBe(false);
    await replay.episode([replay.timerFired(t6.EventId)], 1000);

    const result = await finish(replay);
    expect(result.responses).toEqual([
      { recipientId: "a", status: "succeeded", value: "A", attempts: 2, durationMs: 11 },
      { recipientId: "b", status: "failed", error: "HTTP 502", attempts: 2 },
    ]);
    expect(result).toMatchObject({ outcome: "complete", closedBy: "all-responded" });
    expect(replay.actions.filter((a) => a.functionName === "callRecipient")).toHaveLength(2);
  });

  test("large fan-outs go to batch sub-orchestrations, merged in recipient order", async () => {
    const recipients = ["a", "b", "c", "d", "e"].map((id) => sim(id));
    const replay = new Replay(scatterGatherOrchestrator, input({ recipients, fanoutBatchSize: 2, completion: { mode: "all", agree: false, timeoutMs: 1000 } }));
    const state = await replay.start();
    const subs = state.actions[0][0].compoundActions!;
    expect(subs.map((a) => [a.actionType, a.functionName, a.instanceId])).toEqual([
      [2, "scatterGatherBatch", "test-instance:batch:0"],
      [2, "scatterGatherBatch", "test-instance:batch:1"],
      [2, "scatterGatherBatch", "test-instance:batch:2"],
    ]);
    const batchInput = subs[1].input as { recipients: { id: string }[]; deadline: string };
    expect(batchInput.recipients.map((r) => r.id)).toEqual(["c", "d"]);
    expect(batchInput.deadline).toBe("2026-11-22T10:00:01.000Z");

    const ok = (id: string, value: number): RecipientResponse => ({ recipientId: id, status: "succeeded", value, attempts: 1, durationMs: 1 });
    await replay.episode([replay.subCompleted(2, { decision: { closedBy: "all-responded", outcome: "complete" }, responses: [ok("e", 5)] })]);
    expect(replay.state.customStatus).toMatchObject({ succeeded: 1, pending: 4 });
    await replay.episode([replay.subCompleted(0, { decision: { closedBy: "all-responded", outcome: "complete" }, responses: [ok("a", 1), { recipientId: "b", status: "failed", error: "x", attempts: 1 }] })]);
    await replay.episode([replay.subCompleted(1, { decision: { closedBy: "deadline", outcome: "partial" }, responses: [ok("c", 3), { recipientId: "d", status: "timedOut" }] })]);
    const result = await finish(replay);
    expect(result.responses.map((r) => `${r.recipientId}:${r.status}`)).toEqual(["a:succeeded", "b:failed", "c:succeeded", "d:timedOut", "e:succeeded"]);
    expect(result).toMatchObject({ closedBy: "deadline", outcome: "partial", counts: { total: 5, succeeded: 3, failed: 1, timedOut: 1, abandoned: 0 } });
  });

  test("a batch closes early only when the whole policy is met inside it", async () => {
    const batch = new Replay(scatterGatherBatch, {
      requestId: "p",
      request: null,
      recipients: ["a", "b", "c"].map((id) => sim(id)),
      completion: { mode: "quorum", quorum: 2, agree: false, withinSlice: true },
      deadline: null,
    });
    await batch.start();
    await batch.episode([batch.failed(0, "x")]);
    await batch.episode([batch.failed(1, "y")]);
    // Unreachable inside the slice, but its answers still count for the whole gather: it goes on.
    expect(batch.state.isDone).toBe(false);
    const state = await batch.episode([batch.completed(2, answer(1))]);
    expect(state.isDone).toBe(true);
    expect((state.output as { responses: RecipientResponse[] }).responses.map((r) => r.status)).toEqual(["failed", "failed", "succeeded"]);
  });
});

describe("auction through the real replay", () => {
  const auctionInput = (overrides: Partial<OrchestrationInput> = {}) =>
    input({
      recipients: undefined,
      auction: { notify: ["http://127.0.0.1:9/rfq"], expected: 2, respondUrl: "http://localhost:7071/api/scatter-gather/test-instance/responses" },
      completion: { mode: "all", agree: false, timeoutMs: 10000 },
      ...overrides,
    });

  test("notifies once, takes answers as events (first per responder wins), closes at expected", async () => {
    const replay = new Replay(scatterGatherOrchestrator, auctionInput());
    await replay.start();
    const notify = replay.actions.filter((a) => a.functionName === "notifyResponder");
    expect(notify).toHaveLength(1);
    expect(notify[0].input).toEqual({ url: "http://127.0.0.1:9/rfq", payload: { requestId: "test-instance", request: { item: "widget" }, respondUrl: "http://localhost:7071/api/scatter-gather/test-instance/responses" } });

    // An answer raised before the notification finished is buffered, not lost.
    await replay.episode([replay.eventRaised("response", { responder: "early", value: 10 })]);
    let state = await replay.episode([replay.completed(0, { url: "http://127.0.0.1:9/rfq", delivered: true })]);
    expect(state.customStatus).toMatchObject({ succeeded: 1, pending: 1 });
    state = await replay.episode([replay.eventRaised("response", { responder: "early", value: 99 }), replay.eventRaised("response", { nonsense: true })]);
    expect(state.customStatus).toMatchObject({ succeeded: 1, pending: 1 });
    await replay.episode([replay.eventRaised("response", { responder: "late", value: 8 })]);
    const result = await finish(replay);
    expect(result).toMatchObject({ outcome: "complete", closedBy: "all-responded", counts: { total: 2, succeeded: 2 } });
    expect(result.responses).toEqual([
      { recipientId: "early", status: "succeeded", value: 10 },
      { recipientId: "late", status: "succeeded", value: 8 },
    ]);
    // Every wait used a new timer; all but a fired one are cancelled, none yielded twice.
    const allTimers = timers(replay);
    expect(allTimers.length).toBeGreaterThan(1);
    expect(allTimers.every((t) => t.isCanceled)).toBe(true);
    expect(new Set(replay.timerIds()).size).toBe(replay.timerIds().length);
  });

  test("closes at the deadline with what arrived", async () => {
    const replay = new Replay(scatterGatherOrchestrator, auctionInput({ auction: { notify: [], respondUrl: "http://x/" } }));
    await replay.start();
    await replay.episode([replay.eventRaised("response", { responder: "r1", value: 1 })], 100);
    const lastTimer = replay.timerIds().at(-1)!;
    await replay.episode([replay.timerFired(lastTimer)], 9900);
    const result = await finish(replay);
    expect(result).toMatchObject({ outcome: "partial", closedBy: "deadline", counts: { total: 1, succeeded: 1 } });
  });
});
