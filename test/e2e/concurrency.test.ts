/**
 * concurrency { maxInFlight, perOrigin } over HTTP (docs/api.md "Fan-out control"), against real loopback
 * recipient servers that count the requests they are answering at once, in all and per server (each port its
 * own origin): the most they ever see stays within the window, with batches (a host of its own with
 * FANOUT_BATCH_SIZE 50), retries and a deadline; a gather closed by its deadline or by `first` makes none of
 * the calls still waiting; bad values are 400s with field paths.
 */
import {
  pollUntilDone,
  recipientServer,
  startGather,
  startOk,
  uniqueId,
  useTarget,
  type AnyJson,
  type RecipientServer,
  type Reply,
} from "./harness";

jest.setTimeout(60_000);

const target = useTarget({ FANOUT_BATCH_SIZE: "50" });

/** Loopback servers (one origin each) that count the calls they are answering at once, and when calls arrive. */
/** A reply after `delayMs`, and after `until` settles when given. */
type CountedReply = Reply & { delayMs: number; until?: () => Promise<unknown> };

async function countingServers(n: number, reply: (body: AnyJson, attempt: number) => CountedReply) {
  const live = new Array<number>(n).fill(0);
  const peak = new Array<number>(n).fill(0);
  const arrivals: number[] = [];
  const attempts = new Map<string, number>();
  let liveTotal = 0;
  let peakTotal = 0;
  const servers: RecipientServer[] = [];
  for (let s = 0; s < n; s++) {
    servers.push(
      await recipientServer(async (call) => {
        arrivals.push(Date.now());
        const attempt = (attempts.get(call.body.recipientId) ?? 0) + 1;
        attempts.set(call.body.recipientId, attempt);
        live[s]++;
        liveTotal++;
        peak[s] = Math.max(peak[s], live[s]);
        peakTotal = Math.max(peakTotal, liveTotal);
        const { delayMs, until, ...answer } = reply(call.body, attempt);
        await new Promise((resolve) => setTimeout(resolve, delayMs));
        await until?.();
        live[s]--;
        liveTotal--;
        return answer;
      }),
    );
  }
  return {
    servers,
    arrivals,
    get calls() {
      return arrivals.length;
    },
    peak: () => ({ total: peakTotal, perOrigin: [...peak] }),
  };
}

/** Until the condition holds, or for a minute at most (the test has failed by then). */
async function waitFor(condition: () => boolean): Promise<void> {
  for (const t0 = Date.now(); !condition() && Date.now() - t0 < 60_000;) await new Promise((resolve) => setTimeout(resolve, 20));
}

const urlRecipients = (n: number, servers: RecipientServer[], prefix = "r") =>
  Array.from({ length: n }, (_, i) => ({ id: `${prefix}${i}`, url: `${servers[i % servers.length].url}/work`, timeoutMs: 10_000 }));

test("maxInFlight 12, perOrigin 5 over three origins, with batches and retries: never more at once, in all or per origin", async () => {
  // Every tenth recipient answers its first attempt 503 and is retried.
  const fleet = await countingServers(3, (body, attempt) =>
    Number(body.recipientId.slice(1)) % 10 === 0 && attempt === 1
      ? { status: 503, json: { busy: true }, delayMs: 40 }
      : { json: { price: Number(body.recipientId.slice(1)) }, delayMs: 40 },
  );
  const n = 240; // five batches of 50
  const id = uniqueId("window");
  await startOk(target, {
    id,
    request: { job: "window" },
    recipients: urlRecipients(n, fleet.servers),
    completion: { mode: "all", timeoutMs: 60_000 },
    retry: { maxAttempts: 2, firstRetryIntervalMs: 100 },
    aggregate: { kind: "summary", field: "price" },
    concurrency: { maxInFlight: 12, perOrigin: 5 },
  });
  const status = await pollUntilDone(target, id, 55_000, 100);
  expect(status.runtimeStatus).toBe("Completed");
  expect(status.result.counts).toEqual({ total: n, succeeded: n, failed: 0, timedOut: 0, abandoned: 0 });
  expect(status.result.responses.filter((r: AnyJson) => r.attempts === 2)).toHaveLength(n / 10);
  expect(fleet.calls).toBe(n + n / 10);
  const peak = fleet.peak();
  expect(peak.total).toBeLessThanOrEqual(12);
  for (const perOrigin of peak.perOrigin) expect(perOrigin).toBeLessThanOrEqual(5);
  // The window was used, not just respected: several calls at once on every origin.
  for (const perOrigin of peak.perOrigin) expect(perOrigin).toBeGreaterThanOrEqual(2);
  console.log(`window 12 / per origin 5 over 3 origins: peaks seen ${peak.total} in all, ${peak.perOrigin.join(" / ")} per origin`);
});

test("maxInFlight alone: simulated recipients take slots too", async () => {
  const fleet = await countingServers(1, () => ({ json: { ok: true }, delayMs: 500 }));
  const recipients = [
    ...Array.from({ length: 4 }, (_, i) => ({ id: `sim${i}`, simulate: { latencyMs: 1000, value: i } })),
    ...urlRecipients(10, fleet.servers),
  ];
  const id = uniqueId("window-sim");
  await startOk(target, { id, request: null, recipients, concurrency: { maxInFlight: 6 } });
  const status = await pollUntilDone(target, id, 30_000, 100);
  expect(status.result.counts.succeeded).toBe(14);
  // The four simulated ones hold four of the six slots for 1 s: until then two URL calls (of 500 ms) run, then six.
  expect(fleet.arrivals[2] - fleet.arrivals[0]).toBeGreaterThanOrEqual(250);
  expect(fleet.peak().total).toBe(6);
});

test("a slow recipient holds back its batch no longer than batches are left to start: the share of ended batches is lent", async () => {
  // Three batches of 50 under maxInFlight 3 (a slot of 1 each); r0, batch 0's first, answers only once the 149 others
  // have been called. Once batches 1 and 2 have ended, their share goes to batch 0, whose other 49 are called while r0
  // still runs; without the loans they would wait for r0, and r0 for them, until r0's own timeout.
  const fleet: Awaited<ReturnType<typeof countingServers>> = await countingServers(1, (body) =>
    body.recipientId === "r0"
      ? { json: { ok: true }, delayMs: 0, until: () => waitFor(() => fleet.calls >= 150) }
      : { json: { ok: true }, delayMs: 20 },
  );
  const id = uniqueId("window-loans");
  await startOk(target, {
    id,
    request: null,
    recipients: urlRecipients(150, fleet.servers).map((r) => (r.id === "r0" ? { ...r, timeoutMs: 30_000 } : r)),
    completion: { mode: "all", timeoutMs: 60_000 },
    concurrency: { maxInFlight: 3 },
  });
  const status = await pollUntilDone(target, id, 60_000, 200);
  expect(status.result).toMatchObject({ outcome: "complete", closedBy: "all-responded", counts: { succeeded: 150 } });
  expect(status.result.responses.find((r: AnyJson) => r.recipientId === "r0").attempts).toBe(1);
  expect(fleet.peak().total).toBeLessThanOrEqual(3);
  expect(fleet.peak().total).toBeGreaterThanOrEqual(2);
});

test("under a deadline: the calls still waiting for a slot are never made, they end timedOut", async () => {
  const fleet = await countingServers(2, () => ({ json: { ok: true }, delayMs: 100 }));
  const n = 200; // four batches of 50; at 10 at a time and 100 ms a call, 2 s of work
  const id = uniqueId("window-deadline");
  await startOk(target, {
    id,
    request: null,
    recipients: urlRecipients(n, fleet.servers),
    completion: { mode: "all", timeoutMs: 800 },
    concurrency: { maxInFlight: 10 },
  });
  const status = await pollUntilDone(target, id, 30_000, 100);
  const r = status.result;
  expect(r).toMatchObject({ outcome: "partial", closedBy: "deadline" });
  expect(r.counts.timedOut).toBeGreaterThan(0);
  expect(r.counts.succeeded + r.counts.timedOut).toBe(n);
  expect(fleet.calls).toBeLessThan(n);
  expect(fleet.peak().total).toBeLessThanOrEqual(10);
  // No call started after the deadline (the slack: a call scheduled just before it reaches its server a moment later).
  const deadline = Date.parse(r.startedAt) + 800;
  expect(Math.max(...fleet.arrivals) - deadline).toBeLessThan(1000);
});

test("first: closes at the first answer; the recipients still waiting for a slot are never called", async () => {
  const fleet = await countingServers(1, () => ({ json: { ok: true }, delayMs: 200 }));
  const id = uniqueId("window-first");
  await startOk(target, {
    id,
    request: null,
    recipients: urlRecipients(30, fleet.servers),
    completion: { mode: "first", timeoutMs: 10_000 },
    concurrency: { maxInFlight: 3 },
  });
  const status = await pollUntilDone(target, id, 20_000, 100);
  expect(status.result).toMatchObject({ outcome: "complete", closedBy: "first-response" });
  expect(status.result.counts.abandoned).toBeGreaterThanOrEqual(27);
  expect(fleet.calls).toBe(3);
});

test("bad values: 400 with field paths, nothing started", async () => {
  const recipients = [{ id: "a", simulate: { value: 1 } }];
  const cases: [unknown, { path: string; message: string }[]][] = [
    [{ maxInFlight: 0 }, [{ path: "concurrency.maxInFlight", message: "must be at least 1" }]],
    [{ maxInFlight: 100_000 }, [{ path: "concurrency.maxInFlight", message: "must be at most 10000 (MAX_RECIPIENTS)" }]],
    [{ maxInFlight: 2, perOrigin: 3 }, [{ path: "concurrency.perOrigin", message: "must be at most concurrency.maxInFlight (2)" }]],
    [{ perOrigin: "many" }, [{ path: "concurrency.perOrigin", message: "must be a number" }]],
    [{}, [{ path: "concurrency", message: "give maxInFlight, perOrigin or both" }]],
    [{ maxInFlight: 1, burst: 2 }, [{ path: "concurrency.burst", message: "is not a known field" }]],
  ];
  for (const [concurrency, details] of cases) {
    const res = await startGather(target, { request: null, recipients, concurrency });
    expect([res.status, res.body.error.code, res.body.error.details]).toEqual([400, "invalid_request", details]);
  }
  const auction = await startGather(target, {
    request: null,
    auction: { expected: 1 },
    completion: { timeoutMs: 1000 },
    concurrency: { maxInFlight: 1 },
  });
  expect(auction.status).toBe(400);
  expect(auction.body.error.details).toEqual([{ path: "concurrency", message: "does not apply in auction mode (nobody is called)" }]);
});
