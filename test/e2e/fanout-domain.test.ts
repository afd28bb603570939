/**
 * Fan-out control over HTTP against loopback recipient servers: per-recipient `input` (URL recipients receive
 * their own, simulated ones answer it), `Retry-After` on 429/503 (the server measures the gap between
 * attempts), and `tolerance` (the gather closes once too many recipients failed, and no call follows).
 */
import {
  gatherUrl,
  pollUntil,
  pollUntilDone,
  postJson,
  recipientServer,
  runGather,
  sleep,
  startOk,
  useTarget,
  type AnyJson,
} from "./harness";

const target = useTarget();
jest.setTimeout(30_000);

function byId(result: AnyJson): Record<string, AnyJson> {
  return Object.fromEntries(result.responses.map((r: AnyJson) => [r.recipientId, r]));
}

describe("recipients[i].input", () => {
  test("each URL recipient receives its own input (absent when not given, null when given as null)", async () => {
    const srv = await recipientServer((call) => ({ json: { got: call.body.input ?? "nothing", from: call.body.recipientId } }));
    const status = await runGather(target, {
      request: { job: "thumbnails" },
      recipients: [
        { id: "img-1", url: `${srv.url}/thumb`, input: { blob: "in/1.png" } },
        { id: "img-2", url: `${srv.url}/thumb`, input: { blob: "in/2.png", sizes: [64, 128] } },
        { id: "img-3", url: `${srv.url}/thumb`, input: null },
        { id: "img-4", url: `${srv.url}/thumb` },
      ],
    });
    expect(status.result).toMatchObject({ outcome: "complete", closedBy: "all-responded" });
    const received = Object.fromEntries(srv.calls.map((c) => [c.body.recipientId, c.body]));
    expect(received).toEqual({
      "img-1": { requestId: status.id, recipientId: "img-1", request: { job: "thumbnails" }, input: { blob: "in/1.png" } },
      "img-2": {
        requestId: status.id,
        recipientId: "img-2",
        request: { job: "thumbnails" },
        input: { blob: "in/2.png", sizes: [64, 128] },
      },
      "img-3": { requestId: status.id, recipientId: "img-3", request: { job: "thumbnails" }, input: null },
      "img-4": { requestId: status.id, recipientId: "img-4", request: { job: "thumbnails" } },
    });
    expect(byId(status.result)["img-2"].value).toEqual({ got: { blob: "in/2.png", sizes: [64, 128] }, from: "img-2" });
  });

  test('simulated recipients with valueFrom "input" answer their inputs, and the aggregate works on them', async () => {
    const items = [3, 5, 8, 13];
    const recipients = items.map((n, i) => ({ id: `item-${i}`, simulate: { latencyMs: 10 * i, valueFrom: "input" }, input: { n } }));
    const summary = await runGather(target, { request: null, recipients, aggregate: { kind: "summary", field: "n" } });
    expect(summary.result).toMatchObject({ outcome: "complete", counts: { succeeded: 4 } });
    expect(summary.result.aggregate).toMatchObject({ kind: "summary", field: "n", count: 4, sum: 29, min: 3, max: 13 });
    expect(summary.result.responses.map((r: AnyJson) => r.value)).toEqual(items.map((n) => ({ n })));

    const best = await runGather(target, { request: null, recipients, aggregate: { kind: "best", field: "n", order: "max" } });
    expect(best.result.aggregate).toMatchObject({ kind: "best", recipientId: "item-3", value: { n: 13 } });
  });

  test("inputs count toward MAX_REQUEST_BYTES and the nesting rule, with their paths", async () => {
    const big = "x".repeat(300_000);
    const huge = await postJson(gatherUrl(target), {
      request: null,
      recipients: [0, 1, 2, 3].map((i) => ({ id: `r${i}`, simulate: { valueFrom: "input" }, input: big })),
    });
    expect(huge.status).toBe(413);
    const nest = (levels: number) => JSON.parse("[".repeat(levels) + "]".repeat(levels));
    const deep = await postJson(gatherUrl(target), {
      request: null,
      recipients: [
        { id: "a", simulate: {} },
        { id: "b", simulate: {}, input: nest(62) },
      ],
    });
    expect(deep.status).toBe(400);
    expect(deep.body.error.details).toEqual([
      { path: `recipients[1].input${"[0]".repeat(61)}`, message: "is nested deeper than 64 levels" },
    ]);
    const both = await postJson(gatherUrl(target), {
      request: null,
      recipients: [{ id: "a", simulate: { value: 1, valueFrom: "input" } }],
    });
    expect(both.status).toBe(400);
    expect(both.body.error.details).toEqual([
      { path: "recipients[0].simulate.valueFrom", message: "give either simulate.value or simulate.valueFrom, not both" },
    ]);
  });
});

describe("Retry-After", () => {
  /** A server answering `first` to the first call and 200 after, noting when each call arrived. */
  async function busyOnce(first: (receivedAt: number) => { status: number; headers: Record<string, string> }) {
    const arrivals: number[] = [];
    const srv = await recipientServer((_call, n) => {
      arrivals.push(Date.now());
      return n === 1 ? { ...first(arrivals[0]), json: { busy: true } } : { json: { ok: n } };
    });
    return { srv, arrivals };
  }

  test("429 with Retry-After: 2 delays the next attempt by at least 2 s (the backoff alone is 100 ms)", async () => {
    const { srv, arrivals } = await busyOnce(() => ({ status: 429, headers: { "retry-after": "2" } }));
    const status = await runGather(target, {
      request: {},
      recipients: [{ id: "busy", url: `${srv.url}/q` }],
      retry: { maxAttempts: 3, firstRetryIntervalMs: 100 },
      completion: { timeoutMs: 20_000 },
    });
    expect(status.result.responses[0]).toMatchObject({ recipientId: "busy", status: "succeeded", attempts: 2, value: { ok: 2 } });
    expect(arrivals).toHaveLength(2);
    expect(arrivals[1] - arrivals[0]).toBeGreaterThanOrEqual(2000);
  });

  test("503 with an HTTP-date: the next attempt comes at or after that date", async () => {
    let retryAt = 0;
    const { srv, arrivals } = await busyOnce((receivedAt) => {
      // Whole seconds, as HTTP-dates are: at least 2 s ahead.
      retryAt = Math.ceil((receivedAt + 2000) / 1000) * 1000;
      return { status: 503, headers: { "retry-after": new Date(retryAt).toUTCString() } };
    });
    const status = await runGather(target, {
      request: {},
      recipients: [{ id: "busy", url: `${srv.url}/q` }],
      retry: { maxAttempts: 2, firstRetryIntervalMs: 100 },
      completion: { timeoutMs: 20_000 },
    });
    expect(status.result.responses[0]).toMatchObject({ status: "succeeded", attempts: 2 });
    expect(arrivals[1]).toBeGreaterThanOrEqual(retryAt);
  });

  test("a Retry-After past the deadline fails the recipient at once, its error naming the status", async () => {
    const srv = await recipientServer(() => ({ status: 429, headers: { "retry-after": "30" }, json: { busy: true } }));
    const t0 = Date.now();
    const status = await runGather(target, {
      request: {},
      recipients: [{ id: "busy", url: `${srv.url}/q` }],
      retry: { maxAttempts: 3, firstRetryIntervalMs: 100 },
      completion: { timeoutMs: 10_000 },
    });
    expect(status.result).toMatchObject({ outcome: "failed", closedBy: "all-failed" });
    expect(status.result.responses[0]).toMatchObject({
      status: "failed",
      attempts: 1,
      error: "HTTP 429 (Retry-After 30 s is past the deadline)",
    });
    expect(srv.count).toBe(1);
    expect(Date.now() - t0).toBeLessThan(8000);
  });
});

describe("tolerance", () => {
  test("closes early once the failures exceed it: failed, the rest abandoned, and the server sees no call after the close", async () => {
    const arrivals: { id: string; at: number }[] = [];
    const srv = await recipientServer(async (call) => {
      const id: string = call.body.recipientId;
      arrivals.push({ id, at: Date.now() });
      // "waiting-*" fail at once with a retry left: at the close each waits on a 3 s retry timer (a call not yet
      // started). "slow-*" are in flight at the close. The "bad-*" answer only once every first call is in, so
      // the order does not depend on how fast the host dispatches: they fail for good (their Retry-After is past
      // the deadline), the second failure exceeds maxFailures 1 and the gather closes.
      if (id.startsWith("waiting")) return { status: 503, json: {} };
      if (id.startsWith("slow")) return { status: 503, delayMs: 1500, json: {} };
      await srv.waitForCalls(6);
      return { status: 429, headers: { "retry-after": "3600" }, delayMs: 200, json: {} };
    });
    const recipients = ["bad-1", "bad-2", "waiting-1", "waiting-2", "slow-1", "slow-2"].map((id) => ({ id, url: `${srv.url}/${id}` }));
    const { id } = await startOk(target, {
      request: {},
      recipients,
      retry: { maxAttempts: 3, firstRetryIntervalMs: 3000 },
      completion: { timeoutMs: 20_000 },
      tolerance: { maxFailures: 1 },
    });
    const result = (await pollUntilDone(target, id)).result;
    expect(result).toMatchObject({ outcome: "failed", closedBy: "failure-tolerance-exceeded" });
    expect(result.counts).toEqual({ total: 6, succeeded: 0, failed: 2, timedOut: 0, abandoned: 4 });
    expect(byId(result)["bad-1"]).toMatchObject({
      status: "failed",
      attempts: 1,
      error: "HTTP 429 (Retry-After 3600 s is past the deadline)",
    });
    for (const other of ["waiting-1", "waiting-2", "slow-1", "slow-2"]) expect(byId(result)[other].status).toBe("abandoned");
    // Long enough for the retries (3 s after the waiting ones failed) and the slow answers to have come, had the gather gone on.
    const closedAt = Date.parse(result.closedAt);
    await sleep(Math.max(0, arrivals[0].at + 4000 - Date.now()));
    expect(arrivals.filter((a) => a.at > closedAt)).toEqual([]);
    expect(arrivals.map((a) => a.id).sort()).toEqual(recipients.map((r) => r.id).sort());
  });

  test("maxFailurePercent of all the recipients; 400 with field paths for bad values", async () => {
    const sims = Array.from({ length: 10 }, (_, i) => ({
      id: `s${i}`,
      simulate: { latencyMs: i < 2 ? 0 : 3000, failureRate: i < 2 ? 1 : 0 },
    }));
    const { id } = await startOk(target, { request: null, recipients: sims, tolerance: { maxFailurePercent: 10 } });
    const closed = await pollUntil(target, id, (b) => b.progress?.phase !== "gathering" && b.progress !== null, 10_000, 50);
    expect(closed.progress).toMatchObject({ failed: 2 });
    const done = await pollUntilDone(target, id);
    expect(done.result).toMatchObject({ outcome: "failed", closedBy: "failure-tolerance-exceeded", counts: { failed: 2, abandoned: 8 } });

    const bad = await postJson(gatherUrl(target), {
      request: null,
      recipients: sims.slice(0, 3),
      tolerance: { maxFailures: 4, maxFailurePercent: 101 },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details).toEqual([{ path: "tolerance.maxFailurePercent", message: "must be between 0 and 100" }]);
    const over = await postJson(gatherUrl(target), { request: null, recipients: sims.slice(0, 3), tolerance: { maxFailures: 4 } });
    expect(over.body.error.details).toEqual([{ path: "tolerance.maxFailures", message: "must be at most 3 (the number of recipients)" }]);
  });
});
