/**
 * Large fan-outs: 2,000 simulated recipients, above the default batch size (250), so the gather runs
 * through scatterGatherBatch sub-orchestrations and merges their results; batches still running at the
 * deadline (their answers count, their calls end); and the largest gather the limits
 * allow (15,000 recipients, an id of the longest accepted length) started twice, on a host that refuses ids
 * over 100 characters and sub-orchestrations whose id exists and still runs, as the backends do.
 */
import { listInstanceIds, ownsHost, pollUntilDone, startOk, uniqueId, useTarget, withHost, type AnyJson, type Target } from "./harness";

const target = useTarget();
jest.setTimeout(90_000);

test("2,000 simulated recipients with small latencies complete with counts.total 2000", async () => {
  const N = 2000;
  const id = uniqueId("scale");
  const recipients = Array.from({ length: N }, (_, i) => ({
    id: `r${i}`,
    simulate: { latencyMs: (i * 7) % 40, value: { i, price: 1000 - (i % 997) } },
  }));
  const t0 = Date.now();
  await startOk(target, { id, request: { big: true }, recipients, aggregate: { kind: "summary", field: "price" } });
  const status = await pollUntilDone(target, id, 80_000, 250);
  const elapsed = Date.now() - t0;

  expect(status.runtimeStatus).toBe("Completed");
  const r = status.result;
  expect(r).toMatchObject({ id, outcome: "complete", closedBy: "all-responded" });
  expect(r.counts).toEqual({ total: N, succeeded: N, failed: 0, timedOut: 0, abandoned: 0 });
  expect(r.responses).toHaveLength(N);
  // One entry per recipient, in recipient-list order, each with its own value.
  r.responses.forEach((resp: AnyJson, i: number) => {
    expect(resp.recipientId).toBe(`r${i}`);
    expect(resp.status).toBe("succeeded");
    expect(resp.value.i).toBe(i);
  });
  const prices = recipients.map((x) => x.simulate.value.price);
  expect(r.aggregate).toMatchObject({
    kind: "summary",
    count: N,
    sum: prices.reduce((a, b) => a + b, 0),
    min: Math.min(...prices),
    max: Math.max(...prices),
  });
  expect(status.progress).toMatchObject({ total: N, succeeded: N, failed: 0, pending: 0 });

  // The batches were sub-orchestrations (8 of FANOUT_BATCH_SIZE's default 250), ids tagged with the run.
  const batches = await batchIdsOf(target, id);
  expect(batches).toHaveLength(8);
  const tag = /^.*~batch-([0-9a-f]{8})-\d+$/.exec(batches[0])![1];
  expect(batches.sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7].map((i) => `${id}~batch-${tag}-${i}`).sort());
  // Wall clock, printed for the report (not asserted tightly: CI machines differ).
  expect(elapsed).toBeLessThan(80_000);
  console.log(`2,000 recipients: ${elapsed} ms wall, closedAt - startedAt ${Date.parse(r.closedAt) - Date.parse(r.startedAt)} ms`);
});

test("batches still running at the deadline: their answers count, their calls end, and a quorum larger than a batch met in them stands", async () => {
  // 500 recipients: 2 batches of 250, each gathering all its recipients (a quorum of 300 does not fit in one).
  // All but the last of each batch answer within 0.4 s; those two would take 60 s.
  const N = 500;
  const id = uniqueId("deadline");
  const recipients = Array.from({ length: N }, (_, i) => ({
    id: `r${i}`,
    simulate: { latencyMs: i % 250 === 249 ? 60_000 : 100 + (i % 7) * 50, value: { i } },
  }));
  await startOk(target, { id, request: {}, recipients, completion: { mode: "quorum", quorum: 300, timeoutMs: 2000 } });
  const status = await pollUntilDone(target, id, 80_000, 250);
  const r = status.result;
  expect(r).toMatchObject({ outcome: "complete", closedBy: "quorum-reached" });
  // Every answer given by the deadline counts (all 498 on an idle machine; a loaded one may time a few more out).
  expect(r.counts).toMatchObject({ total: N, failed: 0, abandoned: 0 });
  expect(r.counts.succeeded + r.counts.timedOut).toBe(N);
  expect(r.counts.succeeded).toBeGreaterThanOrEqual(300);
  const byId = new Map<string, AnyJson>(r.responses.map((x: AnyJson) => [x.recipientId, x]));
  expect([byId.get("r249")?.status, byId.get("r499")?.status]).toEqual(["timedOut", "timedOut"]);
  // The two 60 s calls were ended at the deadline: the result waited for neither.
  expect(Date.parse(r.closedAt) - Date.parse(r.startedAt)).toBeLessThan(30_000);
});

test("first over batches, more calls than the host runs at once: the calls end as they read the statuses, so the gather closes at once", async () => {
  // 1,500 recipients in 6 batches of 250; the first of each answers in 0.3 s, the others would take 10 s. The host
  // runs 500 calls at once (maxConcurrentActivityFunctions) in the order their batches scheduled them, so 1,000 wait
  // in its queue, ahead of any activity the gather schedules after deciding: the running calls end as they read
  // their batch's or gather's status (closing.ts), the waiting ones are refused as they start. It took 20 s (two
  // rounds of slow calls) when an activity had to end them.
  const id = uniqueId("first-batches");
  const fast = (i: number) => i % 250 === 0;
  const recipients = Array.from({ length: 1500 }, (_, i) => ({ id: `r${i}`, simulate: { latencyMs: fast(i) ? 300 : 10_000, value: i } }));
  await startOk(target, { id, request: {}, recipients, completion: { mode: "first" } });
  const r = (await pollUntilDone(target, id, 60_000, 100)).result;
  expect(r).toMatchObject({ closedBy: "first-response", counts: { failed: 0, timedOut: 0 } });
  // Only fast recipients answered (a batch that runs decides on its own first answer): no slow call was waited out.
  const answered = r.responses.filter((x: AnyJson) => x.status === "succeeded").map((x: AnyJson) => Number(x.recipientId.slice(1)));
  expect(answered.length).toBeGreaterThanOrEqual(1);
  expect(answered.filter((i: number) => !fast(i))).toEqual([]);
  expect(r.counts.abandoned).toBe(1500 - answered.length);
  expect(Date.parse(r.closedAt) - Date.parse(r.startedAt)).toBeLessThan(10_000); // before any slow call would have answered
});

async function batchIdsOf(site: Target, id: string): Promise<string[]> {
  const prefix = `${id.length > 79 ? id.slice(0, 67) : id}~`;
  return (await listInstanceIds(site, `&instanceIdPrefix=${encodeURIComponent(prefix)}`)).filter(
    (x) => x.startsWith(prefix) && x.includes("~batch-"),
  );
}

(ownsHost ? test : test.skip)(
  "15,000 recipients under an id of 100 characters, then the same id again: both complete",
  async () => {
    await withHost({ env: { MAX_RECIPIENTS: "15000" } }, async (host) => {
      const site = { baseUrl: host.url };
      const id = `${uniqueId("longest")}-`.padEnd(100, "x");
      const N = 15_000;
      const recipients = Array.from({ length: N }, (_, i) => ({ id: `r${i}`, simulate: { latencyMs: i % 20, value: i % 7 } }));
      for (let run = 0; run < 2; run++) {
        await startOk(site, { id, request: { run }, recipients });
        const status = await pollUntilDone(site, id, 120_000, 500);
        expect(status.runtimeStatus).toBe("Completed");
        expect(status.result.counts).toEqual({ total: N, succeeded: N, failed: 0, timedOut: 0, abandoned: 0 });
      }
      // 60 batches a run, each run its own ids, every id within the backends' 100 characters.
      const batches = await batchIdsOf(site, id);
      expect(batches).toHaveLength(120);
      for (const batchId of batches) expect(batchId.length).toBeLessThanOrEqual(100);
      expect(new Set(batches.map((b) => b.replace(/-\d+$/, ""))).size).toBe(2);
    });
  },
  300_000,
);
