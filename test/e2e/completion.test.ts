/**
 * Completion modes, aggregations, the deadline and customStatus progress, over HTTP.
 * Simulated recipients (and one scripted loopback server for the progress test).
 */
import {
  msBetween,
  pollUntil,
  pollUntilDone,
  recipientServer,
  runGather,
  startOk,
  TERMINAL,
  uniqueId,
  useTarget,
  type AnyJson,
} from "./harness";

const target = useTarget();
jest.setTimeout(30_000);

const sim = (id: string, latencyMs: number, value: unknown, failureRate = 0) => ({ id, simulate: { latencyMs, failureRate, value } });

/**
 * Starts a gather and measures on the wall clock when it CLOSED: the orchestrator sets customStatus phase
 * "aggregating" as soon as the policy or the deadline closes the gather. (The instance itself only turns
 * Completed once every straggler's activity has finished too: DTFx completes an orchestration only when it
 * has no open task, so losers of a first/quorum/deadline race keep it Running until they end.)
 */
async function startAndTimeClose(body: unknown): Promise<{ closedAfterMs: number; status: AnyJson }> {
  const t0 = Date.now();
  const { id } = await startOk(target, body);
  await pollUntil(target, id, (b) => b.progress?.phase === "aggregating" || TERMINAL.has(b.runtimeStatus), 15_000, 25);
  const closedAfterMs = Date.now() - t0;
  return { closedAfterMs, status: await pollUntilDone(target, id, 20_000) };
}

function byId(result: AnyJson): Record<string, AnyJson> {
  return Object.fromEntries(result.responses.map((r: AnyJson) => [r.recipientId, r]));
}

describe("completion modes", () => {
  test("all: closes when every recipient answered or failed (all-responded, complete)", async () => {
    const status = await runGather(target, {
      request: { q: "all" },
      recipients: [sim("a", 50, { n: 1 }), sim("b", 150, { n: 2 }), sim("c", 0, null, 1)],
      completion: { mode: "all" },
    });
    expect(status.runtimeStatus).toBe("Completed");
    const r = status.result;
    expect(r).toMatchObject({ id: status.id, outcome: "complete", closedBy: "all-responded" });
    expect(r.counts).toEqual({ total: 3, succeeded: 2, failed: 1, timedOut: 0, abandoned: 0 });
    expect(r.responses.map((x: AnyJson) => [x.recipientId, x.status])).toEqual([
      ["a", "succeeded"],
      ["b", "succeeded"],
      ["c", "failed"],
    ]);
    expect(r.responses[0]).toMatchObject({ value: { n: 1 }, attempts: 1 });
    expect(r.responses[0].durationMs).toBeGreaterThanOrEqual(50);
    expect(r.responses[2].error).toMatch(/simulated failure/);
    expect(r.aggregate).toEqual({ kind: "collect", values: { a: { n: 1 }, b: { n: 2 } }, count: 2 });
  });

  test("all: every recipient failing closes as all-failed, outcome failed (the orchestration still completes)", async () => {
    const status = await runGather(target, {
      request: null,
      recipients: [sim("a", 0, 1, 1), sim("b", 20, 2, 1)],
    });
    expect(status.runtimeStatus).toBe("Completed");
    expect(status.result).toMatchObject({ outcome: "failed", closedBy: "all-failed" });
    expect(status.result.counts).toEqual({ total: 2, succeeded: 0, failed: 2, timedOut: 0, abandoned: 0 });
  });

  test("first: closes at the first successful answer; the others are abandoned", async () => {
    const { closedAfterMs, status } = await startAndTimeClose({
      request: { q: "first" },
      recipients: [sim("slow", 5000, "s"), sim("fails", 0, "x", 1), sim("fast", 100, "f"), sim("slower", 5500, "t")],
      completion: { mode: "first" },
    });
    // Closed before the slow ones would have answered (their status says so too): bounds by the stragglers, not by
    // how fast this machine is (a loaded CI machine took over 1.5 s once).
    expect(closedAfterMs).toBeLessThan(4500);
    const r = status.result;
    expect(r).toMatchObject({ outcome: "complete", closedBy: "first-response" });
    expect(r.counts).toEqual({ total: 4, succeeded: 1, failed: 1, timedOut: 0, abandoned: 2 });
    const by = byId(r);
    expect(by.fast).toMatchObject({ status: "succeeded", value: "f" });
    expect(by.fails.status).toBe("failed");
    expect(by.slow.status).toBe("abandoned");
    expect(by.slower.status).toBe("abandoned");
    expect(r.responses.map((x: AnyJson) => x.recipientId)).toEqual(["slow", "fails", "fast", "slower"]);
    expect(r.aggregate).toEqual({ kind: "collect", values: { fast: "f" }, count: 1 });
    expect(msBetween(r.startedAt, r.closedAt)).toBeLessThan(4500);
  });

  test("quorum: closes when `quorum` answers succeeded", async () => {
    const { closedAfterMs, status } = await startAndTimeClose({
      request: {},
      recipients: [sim("a", 50, 1), sim("b", 100, 2), sim("c", 5000, 3), sim("d", 0, 4, 1)],
      completion: { mode: "quorum", quorum: 2 },
    });
    expect(closedAfterMs).toBeLessThan(4500); // before c would have answered
    const r = status.result;
    expect(r).toMatchObject({ outcome: "complete", closedBy: "quorum-reached" });
    expect(r.counts).toEqual({ total: 4, succeeded: 2, failed: 1, timedOut: 0, abandoned: 1 });
    expect(byId(r).c.status).toBe("abandoned");
    expect(msBetween(r.startedAt, r.closedAt)).toBeLessThan(4500);
  });

  test("agreement quorum: closes when `quorum` answers carry deep-equal values (key order does not matter)", async () => {
    const { closedAfterMs, status } = await startAndTimeClose({
      request: {},
      recipients: [
        sim("x", 0, { verdict: "no", score: [1] }),
        sim("y", 100, { verdict: "yes", score: [1, 2], meta: { a: 1, b: 2 } }),
        sim("z", 200, { verdict: "maybe" }),
        sim("w", 400, { meta: { b: 2, a: 1 }, score: [1, 2], verdict: "yes" }),
        sim("v", 5000, { verdict: "yes", score: [1, 2], meta: { a: 1, b: 2 } }),
      ],
      completion: { mode: "quorum", quorum: 2, agree: true },
    });
    expect(closedAfterMs).toBeLessThan(4500); // before v would have answered
    const r = status.result;
    expect(r).toMatchObject({ outcome: "complete", closedBy: "quorum-reached" });
    expect(r.counts).toEqual({ total: 5, succeeded: 4, failed: 0, timedOut: 0, abandoned: 1 });
    expect(byId(r).v.status).toBe("abandoned");
    expect(byId(r).w).toMatchObject({ status: "succeeded", value: { verdict: "yes", score: [1, 2], meta: { a: 1, b: 2 } } });
    expect(msBetween(r.startedAt, r.closedAt)).toBeGreaterThanOrEqual(400);
    expect(msBetween(r.startedAt, r.closedAt)).toBeLessThan(4500);
  });

  test("quorum-unreachable: closes as soon as the quorum can no longer be met", async () => {
    const { closedAfterMs, status } = await startAndTimeClose({
      request: {},
      recipients: [sim("a", 0, 1, 1), sim("b", 50, 2, 1), sim("c", 5000, 3), sim("d", 100, 4)],
      completion: { mode: "quorum", quorum: 3 },
    });
    expect(closedAfterMs).toBeLessThan(4500); // before c would have answered
    const r = status.result;
    expect(status.runtimeStatus).toBe("Completed");
    expect(r).toMatchObject({ outcome: "failed", closedBy: "quorum-unreachable" });
    expect(r.counts.total).toBe(4);
    expect(r.counts.failed).toBe(2);
    expect(byId(r).c.status).toBe("abandoned");
    expect(r.counts.succeeded + r.counts.abandoned).toBe(2);
  });
});

describe("aggregations", () => {
  const quotes = [
    sim("acme", 10, { quote: { price: 40, ccy: "EUR" } }),
    sim("bolt", 60, { quote: { price: 35 } }),
    sim("cobra", 30, { quote: { price: 52.5 } }),
    sim("dud", 0, { quote: {} }),
    sim("down", 0, null, 1),
  ];

  test("collect: every successful value by recipient", async () => {
    const { result } = await runGather(target, { request: {}, recipients: quotes, aggregate: { kind: "collect" } });
    expect(result.aggregate).toEqual({
      kind: "collect",
      values: {
        acme: { quote: { price: 40, ccy: "EUR" } },
        bolt: { quote: { price: 35 } },
        cobra: { quote: { price: 52.5 } },
        dud: { quote: {} },
      },
      count: 4,
    });
  });

  test("best min with a dot path", async () => {
    const { result } = await runGather(target, {
      request: {},
      recipients: quotes,
      aggregate: { kind: "best", field: "quote.price", order: "min" },
    });
    expect(result.aggregate).toMatchObject({ kind: "best", recipientId: "bolt", value: { quote: { price: 35 } } });
  });

  test("best max with a dot path", async () => {
    const { result } = await runGather(target, {
      request: {},
      recipients: quotes,
      aggregate: { kind: "best", field: "quote.price", order: "max" },
    });
    expect(result.aggregate).toMatchObject({ kind: "best", recipientId: "cobra", value: { quote: { price: 52.5 } } });
  });

  test("best when nothing succeeded: recipientId and value null", async () => {
    const { result } = await runGather(target, {
      request: {},
      recipients: [sim("down", 0, null, 1)],
      aggregate: { kind: "best", field: "price" },
    });
    expect(result.aggregate).toMatchObject({ kind: "best", recipientId: null, value: null });
  });

  test("summary: count, sum, average, min, max of a numeric field", async () => {
    const { result } = await runGather(target, { request: {}, recipients: quotes, aggregate: { kind: "summary", field: "quote.price" } });
    expect(result.aggregate).toEqual({ kind: "summary", field: "quote.price", count: 3, sum: 127.5, average: 42.5, min: 35, max: 52.5 });
  });

  test("vote: the most frequent value and its count", async () => {
    const { result } = await runGather(target, {
      request: {},
      recipients: [
        sim("a", 0, { pick: "red" }),
        sim("b", 20, { pick: { hue: "blue", x: [1] } }),
        sim("c", 40, { pick: "red" }),
        sim("d", 60, { pick: { x: [1], hue: "blue" } }),
        sim("e", 80, { pick: { hue: "blue", x: [1] } }),
      ],
      aggregate: { kind: "vote", field: "pick" },
    });
    expect(result.aggregate).toMatchObject({ kind: "vote", value: { hue: "blue", x: [1] }, count: 3 });
  });
});

describe("deadline", () => {
  test("closes on time with partial results; pending recipients are timedOut", async () => {
    const timeoutMs = 1500;
    const { closedAfterMs: wall, status } = await startAndTimeClose({
      request: {},
      recipients: [sim("fast", 20, 1), sim("medium", 300, 2), sim("late", 5000, 3), sim("later", 5500, 4), sim("bad", 0, 5, 1)],
      completion: { mode: "all", timeoutMs },
    });
    const r = status.result;
    expect(r).toMatchObject({ outcome: "partial", closedBy: "deadline" });
    expect(r.counts).toEqual({ total: 5, succeeded: 2, failed: 1, timedOut: 2, abandoned: 0 });
    expect(byId(r).late.status).toBe("timedOut");
    expect(byId(r).later.status).toBe("timedOut");
    expect(byId(r).late.value).toBeUndefined();
    const closedAfter = msBetween(r.startedAt, r.closedAt);
    expect(closedAfter).toBeGreaterThanOrEqual(timeoutMs);
    // At the deadline, before the late ones would have answered (5 s): not later, however loaded the machine.
    expect(closedAfter).toBeLessThan(4500);
    expect(wall).toBeGreaterThanOrEqual(timeoutMs);
    expect(wall).toBeLessThan(4500);
    expect(r.aggregate).toEqual({ kind: "collect", values: { fast: 1, medium: 2 }, count: 2 });
  });

  test("nothing answered by the deadline: outcome failed, closedBy deadline", async () => {
    const { result } = await runGather(target, {
      request: {},
      recipients: [sim("late", 1500, 3)],
      completion: { timeoutMs: 500 },
    });
    expect(result).toMatchObject({ outcome: "failed", closedBy: "deadline" });
    expect(result.counts).toEqual({ total: 1, succeeded: 0, failed: 0, timedOut: 1, abandoned: 0 });
  });
});

describe("progress", () => {
  test("customStatus shows phase gathering with counts while a slow recipient is pending", async () => {
    const slow = await recipientServer();
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    slow.handle(async () => {
      await released;
      return { json: { late: true } };
    });
    const id = uniqueId("progress");
    const timeoutMs = 60_000;
    await startOk(target, {
      id,
      request: {},
      recipients: [sim("a", 0, 1), sim("b", 30, 2), sim("c", 0, 0, 1), { id: "slow", url: `${slow.url}/q`, timeoutMs: 20_000 }],
      completion: { timeoutMs },
    });
    const running = await pollUntil(target, id, (b) => b.progress?.succeeded === 2 && b.progress?.failed === 1, 10_000, 50);
    expect(running.runtimeStatus).toBe("Running");
    expect(running.result).toBeNull();
    expect(running.progress).toMatchObject({ phase: "gathering", total: 4, succeeded: 2, failed: 1, pending: 1 });
    expect(typeof running.progress.deadline).toBe("string");
    const deadlineIn = Date.parse(running.progress.deadline) - Date.parse(running.createdTime);
    expect(deadlineIn).toBeGreaterThan(timeoutMs - 3000);
    expect(deadlineIn).toBeLessThanOrEqual(timeoutMs + 1000);
    expect(JSON.stringify(running.progress).length).toBeLessThan(16 * 1024);
    expect(slow.count).toBe(1);

    release();
    const done = await pollUntilDone(target, id);
    expect(done.runtimeStatus).toBe("Completed");
    expect(done.result.counts).toEqual({ total: 4, succeeded: 3, failed: 1, timedOut: 0, abandoned: 0 });
    expect(byId(done.result).slow.value).toEqual({ late: true });
  });
});
