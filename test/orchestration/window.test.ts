/**
 * concurrency { maxInFlight, perOrigin } through the local host's durable engine and the real durable-functions
 * replay, on a fake clock: what the orchestrators schedule never exceeds the window, counted from the histories
 * (calls scheduled and not settled, in every instance; the shares of the batches running, in the parent) and
 * from the stand-in activities running at once; slots refill in list order, fired retries first; a gather that
 * closes makes none of the calls still waiting; a host restart mid-window; each attempt scheduled exactly once.
 */
import { EventType } from "../../tools/local-host/engine/history";
import type { HistoryEvent } from "../../tools/local-host/engine/types";
import type { GatherResult, Json, Recipient, RetrySpec } from "../../src/gather/types";
import { decodeOriginTable } from "../../src/gather/window";
import { gatherInput, useHosts, type OrchestrationHost, type Outcome } from "./host";

const host = useHosts();

const hold = (): Outcome => "hold";
const sims = (...ids: string[]): Recipient[] => ids.map((id) => ({ id, simulate: { latencyMs: 0, failureRate: 0, value: null as Json } }));
/** URL recipients; `A3` goes to origin A (port 1), `B1` to origin B (port 2), ... */
const urls = (...ids: string[]): Recipient[] =>
  ids.map((id) => ({ id, url: `http://127.0.0.1:${id.charCodeAt(0) - 64}/${id}`, method: "POST" as const, timeoutMs: 1000 }));
const letters = (n: number, prefix = "r") => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
const retry = (maxAttempts: number, firstRetryIntervalMs: number): RetrySpec => ({
  maxAttempts,
  firstRetryIntervalMs,
  backoffCoefficient: 1,
});
const statuses = (result: GatherResult) => Object.fromEntries(result.responses!.map((r) => [r.recipientId, [r.status, r.attempts]]));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const ids = (h: OrchestrationHost) => h.calls.map((c) => (c.attempt > 1 ? `${c.recipientId}#${c.attempt}` : c.recipientId));

/** The input of a scheduled activity or sub-orchestration (the shim wraps an activity's in an array). */
function inputOf(event: HistoryEvent): any {
  const parsed = JSON.parse(String(event.Input));
  return Array.isArray(parsed) ? parsed[0] : parsed;
}

/**
 * The most callRecipient calls an instance ever had scheduled and not settled, in all and by origin number
 * (its window's origin table; simulated recipients count in all only).
 */
function unsettledPeak(history: HistoryEvent[]): { total: number; byOrigin: Map<number, number> } {
  const started = history.find((e) => e.EventType === EventType.ExecutionStarted)!;
  const input = inputOf(started);
  const share = input.window as { origins?: string } | undefined;
  const first = input.first ?? 0;
  const count = input.count ?? input.recipientCount;
  const origins = share?.origins ?? input.origins;
  const originOf = origins ? decodeOriginTable(origins, count) : undefined;
  const open = new Map<number, number>();
  const live = new Map<number, number>();
  const peak = { total: 0, byOrigin: new Map<number, number>() };
  for (const e of history) {
    if (e.EventType === EventType.TaskScheduled && e.Name === "callRecipient") {
      const origin = originOf?.[inputOf(e).index - first] ?? 0;
      open.set(e.EventId, origin);
      if (origin > 0) live.set(origin, (live.get(origin) ?? 0) + 1);
      peak.byOrigin.set(origin, Math.max(peak.byOrigin.get(origin) ?? 0, live.get(origin) ?? 0));
      peak.total = Math.max(peak.total, open.size);
    } else if ((e.EventType === EventType.TaskCompleted || e.EventType === EventType.TaskFailed) && open.has(Number(e.TaskScheduledId))) {
      const origin = open.get(Number(e.TaskScheduledId))!;
      open.delete(Number(e.TaskScheduledId));
      if (origin > 0) live.set(origin, live.get(origin)! - 1);
    }
  }
  peak.byOrigin.delete(0);
  return peak;
}

/** What a batch was lent (SHARE_EVENT), maxInFlight units. */
/** What a batch was lent (its `share` events, each loan once), in all or per origin. */
function lent(history: HistoryEvent[], field: "maxInFlight" | "perOrigin" = "maxInFlight"): number {
  const loans = new Map<unknown, number>();
  for (const e of history)
    if (e.EventType === EventType.EventRaised && e.Name === "share") {
      const loan = JSON.parse(String(e.Input));
      loans.set(loan.loan ?? e.EventId, loan[field] ?? 0);
    }
  return [...loans.values()].reduce((sum, n) => sum + n, 0);
}

/** The most the shares of a parent's running batches ever added up to (maxInFlight, perOrigin), from its history. */
function sharePeak(history: HistoryEvent[]): { maxInFlight: number; perOrigin: number; batches: number; atOnce: number } {
  const running = new Map<number, { maxInFlight?: number; perOrigin?: number }>();
  const peak = { maxInFlight: 0, perOrigin: 0, batches: 0, atOnce: 0 };
  const sum = (field: "maxInFlight" | "perOrigin") => [...running.values()].reduce((a, w) => a + (w[field] ?? 0), 0);
  for (const e of history) {
    if (e.EventType === EventType.SubOrchestrationInstanceCreated) {
      running.set(e.EventId, inputOf(e).window ?? {});
      peak.batches++;
    } else if (e.EventType === EventType.SubOrchestrationInstanceCompleted || e.EventType === EventType.SubOrchestrationInstanceFailed) {
      running.delete(Number(e.TaskScheduledId));
    }
    peak.maxInFlight = Math.max(peak.maxInFlight, sum("maxInFlight"));
    peak.perOrigin = Math.max(peak.perOrigin, sum("perOrigin"));
    peak.atOnce = Math.max(peak.atOnce, running.size);
  }
  return peak;
}

/** Each recipient's call appears once per attempt in the actions each instance sent the host. */
function expectScheduledOnce(h: OrchestrationHost, instanceIds: string[], attempts: number) {
  const calls = instanceIds.flatMap((id) => h.flatActions(id).filter((a) => a.functionName === "callRecipient"));
  expect(calls).toHaveLength(attempts);
}

/**
 * Releases held attempts one at a time, oldest first, until the gather has finished; with `stepMs`, moves
 * the clock by that much whenever nothing is held and a timer (a retry wait) is due within it.
 */
async function drain(h: OrchestrationHost, stepMs = 0): Promise<void> {
  for (;;) {
    const status = (await h.status()).runtimeStatus;
    if (status !== "Running" && status !== "Pending") return;
    if (h.heldIds().length > 0) h.releaseHeld(1);
    else if (stepMs > 0 && h.clock.dueTimes().some((t) => t - h.clock.now() <= stepMs)) h.clock.advance(stepMs);
    await sleep(3);
  }
}

/** Waits until the held attempts are exactly `expected` (in any order) and stay so a moment. */
async function heldAre(h: OrchestrationHost, expected: string[]): Promise<void> {
  const want = [...expected].sort().join();
  await h.until(() => [...h.heldIds()].sort().join() === want, `held = ${want}`);
  await sleep(30);
  expect([...h.heldIds()].sort()).toEqual([...expected].sort());
}

describe("one gather", () => {
  test("maxInFlight 2 over 6: two at a time, each settle refills the next in list order; never more, in history or in calls", async () => {
    const h = host(hold);
    await h.start(gatherInput({ recipients: sims("a", "b", "c", "d", "e", "f"), concurrency: { maxInFlight: 2 } }));
    await heldAre(h, ["a", "b"]);
    h.release("b");
    await heldAre(h, ["a", "c"]);
    h.release("a");
    await heldAre(h, ["c", "d"]);
    h.release("c");
    h.release("d");
    await heldAre(h, ["e", "f"]);
    h.releaseHeld();
    const result = await h.result();
    expect(result).toMatchObject({ outcome: "complete", closedBy: "all-responded", counts: { succeeded: 6 } });
    expect(ids(h).sort()).toEqual(["a", "b", "c", "d", "e", "f"]); // the order: heldAre above
    expect(unsettledPeak(h.history()).total).toBe(2);
    expect(h.peakTotal).toBe(2);
    expectScheduledOnce(h, ["g1"], 6);
    expect(h.problems()).toEqual([]);
  });

  test("perOrigin 2 over three origins: a recipient whose origin is full waits, later ones of other origins go first", async () => {
    const h = host(hold);
    await h.start(
      gatherInput({
        recipients: urls("A1", "A2", "A3", "B1", "B2", "C1", "C2", "A4"),
        concurrency: { maxInFlight: 4, perOrigin: 2 },
      }),
    );
    await heldAre(h, ["A1", "A2", "B1", "B2"]); // A3 waits: A is full
    h.release("B1");
    await heldAre(h, ["A1", "A2", "B2", "C1"]); // A still full: C1 goes first
    h.release("A1");
    await heldAre(h, ["A2", "B2", "C1", "A3"]); // A has room: A3 before C2
    h.release("C1");
    await heldAre(h, ["A2", "B2", "A3", "C2"]); // A full again: C2 before A4
    h.release("A2");
    await heldAre(h, ["B2", "A3", "C2", "A4"]);
    h.releaseHeld();
    expect((await h.result()).counts.succeeded).toBe(8);
    const peak = unsettledPeak(h.history());
    expect(peak.total).toBe(4);
    expect([...peak.byOrigin.values()].every((n) => n <= 2)).toBe(true);
    expect(Math.max(...h.peak.values())).toBe(2);
    expectScheduledOnce(h, ["g1"], 8);
  });

  test("perOrigin alone: simulated recipients have no origin and are not held back", async () => {
    const h = host(hold);
    await h.start(gatherInput({ recipients: [...urls("A1", "A2", "A3"), ...sims("s1", "s2")], concurrency: { perOrigin: 1 } }));
    await heldAre(h, ["A1", "s1", "s2"]);
    h.release("A1");
    await heldAre(h, ["s1", "s2", "A2"]);
    h.releaseHeld();
    await drain(h);
    expect((await h.result()).counts.succeeded).toBe(5);
  });

  test("a retry whose timer fired takes the next free slot before recipients not started yet; its wait holds no slot", async () => {
    const h = host((id, attempt) => (id === "a" && attempt === 1 ? { error: "HTTP 503" } : "hold"));
    await h.start(
      gatherInput({
        recipients: sims("a", "b", "c", "d"),
        completion: { mode: "all", agree: false, timeoutMs: 60_000 },
        retry: retry(2, 1000),
        concurrency: { maxInFlight: 2 },
      }),
    );
    await heldAre(h, ["b", "c"]); // a failed: its slot went to c while a waits on its timer
    await h.advance(1000, 2); // the retry's timer fires; both slots are taken, a#2 waits
    await sleep(30);
    expect(ids(h)).toEqual(["a", "b", "c"]);
    h.release("b");
    await heldAre(h, ["c", "a"]); // a#2, not d
    h.releaseHeld();
    await drain(h);
    const result = await h.result();
    expect(ids(h).sort()).toEqual(["a", "a#2", "b", "c", "d"]);
    expect(ids(h).indexOf("a#2")).toBeLessThan(ids(h).indexOf("d"));
    expect(statuses(result)).toMatchObject({ a: ["succeeded", 2], d: ["succeeded", 1] });
    expect(unsettledPeak(h.history()).total).toBe(2);
    expectScheduledOnce(h, ["g1"], 5);
    expect(h.problems()).toEqual([]);
  });

  test("deadline: the recipients still waiting for a slot are never called and end timedOut", async () => {
    const h = host(hold);
    await h.start(
      gatherInput({
        recipients: sims("a", "b", "c", "d", "e"),
        completion: { mode: "all", agree: false, timeoutMs: 5000 },
        concurrency: { maxInFlight: 2 },
      }),
    );
    await heldAre(h, ["a", "b"]);
    await h.advance(5000);
    await h.until(async () => (await h.phase()) !== "gathering", "the gather to close");
    h.releaseHeld();
    const result = await h.result();
    expect(result).toMatchObject({ outcome: "failed", closedBy: "deadline", counts: { timedOut: 5 } });
    expect(ids(h)).toEqual(["a", "b"]);
    expectScheduledOnce(h, ["g1"], 2);
  });

  test("first: closes at the first answer; none of the calls waiting for a slot is made, they end abandoned", async () => {
    const h = host((id) => (id === "b" ? { value: "yes" } : "hold"));
    await h.start(
      gatherInput({
        recipients: sims("a", "b", "c", "d", "e"),
        completion: { mode: "first", agree: false, timeoutMs: 60_000 },
        concurrency: { maxInFlight: 2 },
      }),
    );
    await h.until(async () => (await h.phase()) !== "gathering", "the gather to close");
    h.releaseHeld();
    const result = await h.result();
    expect(result).toMatchObject({ outcome: "complete", closedBy: "first-response" });
    // a was in flight at the close: its attempt counts (it may have reached its recipient); c, d, e were never called.
    expect(statuses(result)).toEqual({
      a: ["abandoned", 1],
      b: ["succeeded", 1],
      c: ["abandoned", undefined],
      d: ["abandoned", undefined],
      e: ["abandoned", undefined],
    });
    expect(ids(h).sort()).toEqual(["a", "b"]);
    expectScheduledOnce(h, ["g1"], 2);
  });

  test("quorum: once reached, nothing more is called", async () => {
    const h = host((id) => (id === "a" || id === "c" ? { value: 1 } : "hold"));
    await h.start(
      gatherInput({
        recipients: sims("a", "b", "c", "d", "e", "f"),
        completion: { mode: "quorum", quorum: 2, agree: false },
        concurrency: { maxInFlight: 2 },
      }),
    );
    await h.until(async () => (await h.phase()) !== "gathering", "the gather to close");
    h.releaseHeld();
    const result = await h.result();
    expect(result).toMatchObject({ closedBy: "quorum-reached", counts: { succeeded: 2, abandoned: 4 } });
    expect(ids(h).sort()).toEqual(["a", "b", "c"]); // a answered at once: c took its slot; c's answer met the quorum
    expectScheduledOnce(h, ["g1"], 3);
  });

  test("a host restart mid-window: the new host replays the window, runs the lost calls again and never exceeds it", async () => {
    const h = host(hold);
    await h.start(gatherInput({ recipients: sims("a", "b", "c", "d", "e"), concurrency: { maxInFlight: 2 } }));
    await heldAre(h, ["a", "b"]);
    h.release("a");
    await heldAre(h, ["b", "c"]);
    await h.restart(); // b and c were running: lost with the host, run again by the new one
    await heldAre(h, ["b", "c"]);
    h.release("c");
    await heldAre(h, ["b", "d"]);
    h.releaseHeld();
    await drain(h);
    expect((await h.result()).counts.succeeded).toBe(5);
    expect(ids(h).sort()).toEqual(["a", "b", "b", "c", "c", "d", "e"]);
    expect(unsettledPeak(h.history()).total).toBe(2);
    expect(h.peakTotal).toBeLessThanOrEqual(2);
    expectScheduledOnce(h, ["g1"], 5);
    expect(h.problems()).toEqual([]);
  });
});

describe("across batches", () => {
  const batchIds = (n: number) => Array.from({ length: n }, (_, i) => `g1~batch-${i}`);

  test("the running batches' shares add up to maxInFlight at most; each batch stays within its share; each attempt once", async () => {
    const h = host(hold);
    const recipients = sims(...letters(20));
    await h.start(gatherInput({ recipients, fanoutBatchSize: 4, concurrency: { maxInFlight: 5 } }));
    await drain(h);
    const result = await h.result();
    expect(result.counts.succeeded).toBe(20);
    const parent = sharePeak(h.history());
    expect(parent.batches).toBe(5);
    expect(parent.maxInFlight).toBeLessThanOrEqual(5);
    expect(parent.atOnce).toBeGreaterThan(1);
    for (const id of batchIds(5)) {
      const batch = h.history(id);
      const share = inputOf(batch.find((e) => e.EventType === EventType.ExecutionStarted)!).window;
      // Its own share, and what its parent lent it once no batch was left to start (the parent's sum counts loans too).
      expect(unsettledPeak(batch).total).toBeLessThanOrEqual(share.maxInFlight + lent(batch));
    }
    expect(h.peakTotal).toBeLessThanOrEqual(5);
    expect(h.peakTotal).toBeGreaterThanOrEqual(4);
    expectScheduledOnce(h, batchIds(5), 20);
    expect(h.problems()).toEqual([]);
  });

  test("once no batch is left to start, the share of batches that end is lent to a running one with calls waiting", async () => {
    // Batches of 5 under maxInFlight 3: three slots of 1. r0 (batch 0's first) answers only when released; batches 1
    // and 2 end at once. Without loans r1..r4 wait behind r0; with them batch 0 gets the two freed units and calls them.
    for (const lendShares of [false, true]) {
      const h = host((id) => (id === "r0" ? "hold" : { value: id }));
      const recipients = sims(...letters(15));
      await h.start(
        gatherInput({
          recipients,
          fanoutBatchSize: 5,
          concurrency: { maxInFlight: 3 },
          batchSlots: 3,
          lendShares,
        }),
      );
      await h.until(
        async () => ((await h.status()).customStatus as { succeeded?: number } | null)?.succeeded === 10,
        "batches 1 and 2 merged",
      );
      const batch0 = async () => ((await h.status("g1~batch-0")).customStatus as { succeeded?: number; waiting?: number } | null) ?? {};
      if (lendShares) {
        await h.until(async () => (await batch0()).succeeded === 4, "r1..r4 answered while r0 is held");
        expect(h.loans).toBeGreaterThanOrEqual(1);
      } else {
        await sleep(100);
        expect((await batch0()).succeeded).toBe(0);
        expect(h.loans).toBe(0);
      }
      expect(h.heldIds()).toEqual(["r0"]);
      h.releaseHeld();
      const result = await h.result();
      expect(result.counts.succeeded).toBe(15);
      // Never more than the window at once, loans included.
      expect(h.peakTotal).toBeLessThanOrEqual(3);
      expectScheduledOnce(h, batchIds(3), 15);
      expect(h.problems()).toEqual([]);
      await h.stop();
    }
  });

  test("a loan raised twice (its activity run again) is taken once: never more than the window at once", async () => {
    // Batch 0's five recipients all hold; batches 1 and 2 end at once and lend their two units to batch 0 (share 1).
    const h = host((id) => (["r0", "r1", "r2", "r3", "r4"].includes(id) ? "hold" : { value: id }));
    h.raiseLoansTwice = true;
    await h.start(gatherInput({ recipients: sims(...letters(15)), fanoutBatchSize: 5, concurrency: { maxInFlight: 3 }, batchSlots: 3 }));
    await h.until(() => h.heldIds().length === 3, "batch 0 holds 3 calls: its share and the loan");
    const shares = () => h.history("g1~batch-0").filter((e) => e.EventType === EventType.EventRaised && e.Name === "share");
    const loans = () => new Set(shares().map((e) => JSON.parse(String(e.Input)).loan));
    // Each loan comes twice (one or two lendings: batches 1 and 2 may end in one episode or two): wait for the
    // second copies to be taken, then give a call they wrongly scheduled the time to start.
    await h.until(() => shares().length === 2 * loans().size, "every loan raised twice");
    await sleep(100);
    expect(shares()).toHaveLength(2 * loans().size);
    expect(h.heldIds()).toHaveLength(3);
    await drain(h);
    expect((await h.result()).counts.succeeded).toBe(15);
    expect(h.peakTotal).toBeLessThanOrEqual(3);
    expect(h.problems()).toEqual([]);
  });

  test("a host crash after a lending raised its loans: the lending runs again with its stored plan, and no batch takes a loan twice", async () => {
    // Batches 0 and 2 hold every call; batch 1 answers at once and its unit is lent (to batch 0: a tie goes to the
    // lower batch). The lending raises, then the host crashes before the lending completes.
    const h = host((id) => (["r5", "r6", "r7", "r8", "r9"].includes(id) ? { value: id } : "hold"));
    h.lendingGate = new Promise<void>(() => undefined); // on this host the lending never completes
    await h.start(gatherInput({ recipients: sims(...letters(15)), fanoutBatchSize: 5, concurrency: { maxInFlight: 3 }, batchSlots: 3 }));
    await h.until(() => h.heldIds().length === 3, "batch 0 holds its share and the loan, batch 2 its share");
    await h.restart();
    h.lendingGate = Promise.resolve();
    // After the restart every held call is called again: batch 0 within its share and the one loan, batch 2 its share.
    await h.until(() => h.heldIds().length === 3, "the calls run again after the restart");
    await sleep(150);
    expect(h.heldIds()).toHaveLength(3);
    expect(h.loans).toBeGreaterThanOrEqual(2); // the lending ran on both hosts
    await drain(h);
    expect((await h.result()).counts.succeeded).toBe(15);
    expect(h.problems()).toEqual([]);
  });

  test("perOrigin over three origins and batches: per origin and in all within the limits; retries included", async () => {
    // 24 URL recipients, origins A B C interleaved; every third recipient fails its first attempt.
    const names = letters(24).map((_, i) => `${"ABC"[i % 3]}${i}`);
    const h = host((id, attempt) => (Number(id.slice(1)) % 3 === 0 && attempt === 1 ? { error: "HTTP 503" } : "hold"));
    await h.start(
      gatherInput({
        recipients: urls(...names),
        fanoutBatchSize: 6,
        completion: { mode: "all", agree: false, timeoutMs: 60_000 },
        retry: retry(2, 10),
        concurrency: { maxInFlight: 6, perOrigin: 3 },
      }),
    );
    await drain(h, 10); // held calls one by one, retry timers as they come due
    const result = await h.result();
    expect(result.counts.succeeded).toBe(24);
    expect(result.responses!.filter((r) => r.attempts === 2)).toHaveLength(8);
    const parent = sharePeak(h.history());
    expect(parent.maxInFlight).toBeLessThanOrEqual(6);
    expect(parent.perOrigin).toBeLessThanOrEqual(3);
    for (const id of batchIds(4)) {
      const batch = h.history(id);
      const share = inputOf(batch.find((e) => e.EventType === EventType.ExecutionStarted)!).window;
      const peak = unsettledPeak(batch);
      // Its own share, and what its parent lent it once no batch was left to start (a loan widens both).
      expect(peak.total).toBeLessThanOrEqual(share.maxInFlight + lent(batch));
      for (const n of peak.byOrigin.values()) expect(n).toBeLessThanOrEqual(share.perOrigin + lent(batch, "perOrigin"));
    }
    expect(h.peakTotal).toBeLessThanOrEqual(6);
    for (const n of h.peak.values()) expect(n).toBeLessThanOrEqual(3);
    expectScheduledOnce(h, batchIds(4), 32);
    expect(h.problems()).toEqual([]);
  });

  test("deadline: batches not started by then never start; their recipients end timedOut", async () => {
    const h = host(hold);
    await h.start(
      gatherInput({
        recipients: sims(...letters(12)),
        fanoutBatchSize: 3,
        completion: { mode: "all", agree: false, timeoutMs: 5000 },
        concurrency: { maxInFlight: 2 },
      }),
    );
    await h.until(() => h.heldIds().length === 2, "two calls");
    await h.advance(5000);
    // A batch closed at its deadline ends once its calls in flight do (they are the workers' to end).
    h.releaseHeld();
    const result = await h.result();
    expect(result).toMatchObject({ closedBy: "deadline", counts: { timedOut: 12 } });
    expect(h.calls).toHaveLength(2);
    expect(sharePeak(h.history()).batches).toBeLessThanOrEqual(2);
  });

  test("first: once the parent decides, no further batch starts and no waiting call is made", async () => {
    // Two slots of 1: batch 0 calls r0, which fails, then r1, which answers; batch 1 calls r3, held.
    const h = host((id) => (id === "r0" ? { error: "HTTP 500" } : id === "r1" ? { value: "yes" } : "hold"));
    await h.start(
      gatherInput({
        recipients: sims(...letters(12)),
        fanoutBatchSize: 3,
        completion: { mode: "first", agree: false, timeoutMs: 60_000 },
        concurrency: { maxInFlight: 2 },
      }),
    );
    await h.until(async () => (await h.phase()) !== "gathering", "the gather to close");
    // Nothing is released: r3 ends as its call reads the gather's status (closing.ts), abandoned, not failed.
    const result = await h.result();
    expect(result).toMatchObject({ closedBy: "first-response", counts: { succeeded: 1, failed: 1, abandoned: 10 } });
    expect(ids(h).sort()).toEqual(["r0", "r1", "r3"]);
    expect(sharePeak(h.history()).batches).toBe(2);
    expect(h.problems()).toEqual([]);
  });

  test("what the window adds to history: the origin table and each batch's share, a few bytes a recipient", async () => {
    const n = 200;
    const names = letters(n).map((_, i) => `${"ABCDE"[i % 5]}${i}`);
    const run = async (concurrency?: { maxInFlight: number; perOrigin: number }) => {
      const h = host((id) => ({ value: { id } }));
      await h.start(gatherInput({ recipients: urls(...names), fanoutBatchSize: 50, ...(concurrency ? { concurrency } : {}) }));
      await h.result();
      const instances = ["g1", ...batchIds(4)];
      const bytes = instances.reduce((sum, id) => sum + Buffer.byteLength(JSON.stringify(h.history(id)), "utf8"), 0);
      // The window's own fields in every history: the parent's input, each batch's input (in the parent's
      // SubOrchestrationInstanceCreated and the batch's ExecutionStarted).
      const windowBytes = instances.reduce(
        (sum, id) =>
          sum +
          h
            .history(id)
            .filter((e) => [EventType.ExecutionStarted, EventType.SubOrchestrationInstanceCreated].includes(e.EventType as 0 | 7))
            .reduce((s, e) => {
              const input = inputOf(e);
              const fields = { concurrency: input.concurrency, origins: input.origins, batchSlots: input.batchSlots, window: input.window };
              return s + Buffer.byteLength(JSON.stringify(fields), "utf8") - 2;
            }, 0),
        0,
      );
      return { bytes, windowBytes };
    };
    const plain = await run();
    const windowed = await run({ maxInFlight: 20, perOrigin: 4 });
    expect(plain.windowBytes).toBe(0);
    // 1 character a recipient in the parent's input, and again in each batch's input (twice: created and
    // started), plus the limits (about 80 bytes an input).
    expect(windowed.windowBytes).toBeLessThanOrEqual(3 * n + 9 * 80);
    expect(windowed.bytes / n).toBeLessThan(3 * 1024);
    console.log(
      `window history bytes: ${(windowed.windowBytes / n).toFixed(2)} B a recipient (origin table and shares); ` +
        `whole histories ${Math.round(windowed.bytes / n)} B a recipient with the window, ${Math.round(plain.bytes / n)} B without`,
    );
  });
});

describe("combinations users make", () => {
  test("a window under a deadline with retries, batches and a failure tolerance: closes by tolerance, never past the window, calls no one after", async () => {
    // 24 recipients in batches of 6; every recipient of origin B fails every attempt; A and C answer when released.
    const names = letters(24).map((_, i) => `${"ABC"[i % 3]}${i}`);
    const h = host((id) => (id.startsWith("B") ? { error: "HTTP 503" } : "hold"));
    await h.start(
      gatherInput({
        recipients: urls(...names),
        fanoutBatchSize: 6,
        completion: { mode: "all", agree: false, timeoutMs: 60_000 },
        retry: retry(2, 10),
        concurrency: { maxInFlight: 4, perOrigin: 2 },
        tolerance: { maxFailures: 2 },
      }),
    );
    await drain(h, 10);
    const result = await h.result();
    expect(result).toMatchObject({ outcome: "failed", closedBy: "failure-tolerance-exceeded" });
    expect(result.counts.failed).toBeGreaterThan(2);
    // Nobody was called after the close: the recipients never called end abandoned, and fewer than all were called.
    const called = new Set(h.calls.map((c) => c.recipientId));
    expect(called.size).toBeLessThan(24);
    for (const r of result.responses!) if (!called.has(r.recipientId)) expect(r.status).toBe("abandoned");
    expect(h.peakTotal).toBeLessThanOrEqual(4);
    for (const n of h.peak.values()) expect(n).toBeLessThanOrEqual(2);
    const parent = sharePeak(h.history());
    expect(parent.maxInFlight).toBeLessThanOrEqual(4);
    expect(h.problems()).toEqual([]);
  });
});
