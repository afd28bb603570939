/**
 * Live progress at every size: a large gather's status follows its answers (its batches' counts), not the
 * batches' ends, and never goes back when the gather closes early; and the status shows the policy the gather
 * runs under.
 */
import { keyedFetch, ownsHost, sleep, startOk, uniqueId, withHost, type AnyJson } from "./harness";

jest.setTimeout(120_000);

(ownsHost ? test : test.skip)(
  "1,000 simulated recipients in batches of 100 answering over 10 s: succeeded, in the status and in the list, is never 2 s behind the answers, never decreases",
  async () => {
    await withHost({ env: { FANOUT_BATCH_SIZE: "100" } }, async (host) => {
      const site = { baseUrl: host.url };
      const id = uniqueId("live");
      // One answer every 10 ms, but each batch's last recipient answers at 11 s: no batch ends before then, so the
      // parent's own counts stay at 0 while the status route (and the list) must follow the answers.
      const latencyOf = (i: number) => (i % 100 === 99 ? 11_000 : (i * 10) % 10_000);
      const recipients = Array.from({ length: 1000 }, (_, i) => ({ id: `r${i}`, simulate: { latencyMs: latencyOf(i), value: i } }));
      await startOk(site, { id, request: 1, recipients, completion: { timeoutMs: 60_000 } });
      // at: when both were asked for; listedAt: when the list's answer had come (its count stood by then).
      const samples: { at: number; listedAt: number; listed: number; succeeded: number; inList: number }[] = [];
      let status: AnyJson;
      for (;;) {
        const at = Date.now();
        const [statusRes, listRes, gathersRes] = await Promise.all([
          keyedFetch(`${host.url}/api/scatter-gather/${id}`),
          keyedFetch(`${host.url}/api/scatter-gather/${id}/responses?status=succeeded&limit=1`),
          keyedFetch(`${host.url}/api/scatter-gather?top=5`),
        ]);
        status = await statusRes.json();
        const listed = ((await listRes.json()) as AnyJson).total as number;
        const row = ((await gathersRes.json()) as AnyJson).items.find((item: AnyJson) => item.id === id);
        samples.push({
          at,
          listedAt: Date.now(),
          listed,
          succeeded: status.progress?.succeeded ?? 0,
          inList: row?.progress?.succeeded ?? 0,
        });
        if (status.runtimeStatus !== "Running") break;
        await sleep(500);
      }
      expect(status.runtimeStatus).toBe("Completed");
      expect(status.policy).toMatchObject({ completion: { mode: "all", timeoutMs: 60_000 }, aggregate: { kind: "collect" } });
      // Never decreases, in the gather's status or in its row of the list.
      for (let i = 1; i < samples.length; i++) {
        expect(samples[i].succeeded).toBeGreaterThanOrEqual(samples[i - 1].succeeded);
        expect(samples[i].inList).toBeGreaterThanOrEqual(samples[i - 1].inList);
      }
      // Never more than 2 s behind: at each sample, the status has reached what the responses route listed 2 s before.
      for (const sample of samples) {
        const earlier = samples.filter((s) => s.listedAt <= sample.at - 2000).pop();
        if (earlier)
          expect({ at: sample.at - samples[0].at, succeeded: sample.succeeded, inList: sample.inList }).toEqual({
            at: sample.at - samples[0].at,
            succeeded: Math.max(sample.succeeded, earlier.listed),
            inList: Math.max(sample.inList, earlier.listed),
          });
      }
      // It did move between batches' ends: some sample shows a count that is not a multiple of the batch size.
      expect(samples.some((s) => s.succeeded % 100 !== 0)).toBe(true);
    });
  },
);

(ownsHost ? test : test.skip)(
  "a large gather that closes early keeps what its open batches had: succeeded never decreases, only pending recipients are abandoned",
  async () => {
    await withHost({ env: { FANOUT_BATCH_SIZE: "100" } }, async (host) => {
      const id = uniqueId("early");
      // Batches 0 and 1 end at ~2 s and ~2.5 s and reach the quorum; batch 2 has 90 answers by then, 10 never come.
      const latencyOf = (i: number) => (i < 100 ? 1500 : i < 200 ? 2000 : i < 290 ? 200 : 60_000) + (i % 10) * 50;
      const recipients = Array.from({ length: 300 }, (_, i) => ({ id: `r${i}`, simulate: { latencyMs: latencyOf(i), value: i } }));
      await startOk({ baseUrl: host.url }, { id, request: 1, recipients, completion: { mode: "quorum", quorum: 150, timeoutMs: 90_000 } });
      const seen: number[] = [];
      let status: AnyJson;
      for (;;) {
        status = (await (await keyedFetch(`${host.url}/api/scatter-gather/${id}`)).json()) as AnyJson;
        seen.push(status.result?.counts.succeeded ?? status.progress?.succeeded ?? 0);
        if (status.runtimeStatus !== "Running" && status.runtimeStatus !== "Pending") break;
        await sleep(100);
      }
      // Reached as batches 0 and 1 end, or earlier at the parent's census of the running batches (every 2 s): either
      // way with batch 2 still open, and its 90 answers kept.
      const { counts } = status.result;
      expect(status.result).toMatchObject({ closedBy: "quorum-reached", counts: { total: 300, failed: 0, timedOut: 0 } });
      expect(counts.succeeded).toBeGreaterThanOrEqual(150);
      expect(counts.succeeded + counts.abandoned).toBe(300);
      for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThanOrEqual(seen[i - 1]);
      // The batch closed while 10 calls of 60 s were in flight: their process ended them, so the result waited for none.
      expect(Date.parse(status.result.closedAt) - Date.parse(status.result.startedAt)).toBeLessThan(30_000);
      const page = (await (await keyedFetch(`${host.url}/api/scatter-gather/${id}/responses?offset=200&limit=100`)).json()) as AnyJson;
      expect(page.items.map((r: AnyJson) => r.status)).toEqual([...Array(90).fill("succeeded"), ...Array(10).fill("abandoned")]);
    });
  },
);
