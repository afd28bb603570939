/**
 * A large fan-out: 2,000 simulated recipients, above the default batch size (500), so the gather runs
 * through scatterGatherBatch sub-orchestrations and merges their results.
 */
import { listInstanceIds, pollUntilDone, startOk, uniqueId, useTarget, type AnyJson } from "./harness";

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

  // The batches were sub-orchestrations (8 of FANOUT_BATCH_SIZE's default 250).
  const batches = (await listInstanceIds(target, `&instanceIdPrefix=${encodeURIComponent(`${id}~batch-`)}`)).filter((x) =>
    x.startsWith(`${id}~batch-`),
  );
  expect(batches).toEqual([0, 1, 2, 3, 4, 5, 6, 7].map((i) => `${id}~batch-${i}`));
  // Wall clock, printed for the report (not asserted tightly: CI machines differ).
  expect(elapsed).toBeLessThan(80_000);
  console.log(`2,000 recipients: ${elapsed} ms wall, closedAt - startedAt ${Date.parse(r.closedAt) - Date.parse(r.startedAt)} ms`);
});
