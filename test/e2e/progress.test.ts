/**
 * Live progress at every size: a large gather's status follows its answers (its batches' counts), not the
 * batches' ends; and the status shows the policy the gather runs under.
 */
import { keyedFetch, ownsHost, sleep, startHostProcess, startOk, uniqueId, type AnyJson, type HostProcess } from "./harness";

jest.setTimeout(120_000);

(ownsHost ? test : test.skip)(
  "1,000 simulated recipients in batches of 100 answering over 10 s: succeeded is never 2 s behind the answers, never decreases",
  async () => {
    let host: HostProcess | undefined;
    try {
      host = await startHostProcess({ env: { FANOUT_BATCH_SIZE: "100" } });
      const site = { baseUrl: host.url };
      const id = uniqueId("live");
      const recipients = Array.from({ length: 1000 }, (_, i) => ({ id: `r${i}`, simulate: { latencyMs: (i * 10) % 10_000, value: i } }));
      await startOk(site, { id, request: 1, recipients, completion: { timeoutMs: 60_000 } });
      const samples: { at: number; listed: number; succeeded: number }[] = [];
      let status: AnyJson;
      for (;;) {
        const at = Date.now();
        const [statusRes, listRes] = await Promise.all([
          keyedFetch(`${host.url}/api/scatter-gather/${id}`),
          keyedFetch(`${host.url}/api/scatter-gather/${id}/responses?status=succeeded&limit=1`),
        ]);
        status = await statusRes.json();
        const listed = ((await listRes.json()) as AnyJson).total as number;
        samples.push({ at, listed, succeeded: status.progress?.succeeded ?? 0 });
        if (status.runtimeStatus !== "Running") break;
        await sleep(500);
      }
      expect(status.runtimeStatus).toBe("Completed");
      expect(status.policy).toMatchObject({ completion: { mode: "all", timeoutMs: 60_000 }, aggregate: { kind: "collect" } });
      // Never decreases.
      for (let i = 1; i < samples.length; i++) expect(samples[i].succeeded).toBeGreaterThanOrEqual(samples[i - 1].succeeded);
      // Never more than 2 s behind: at each sample, the status has reached what the responses route listed 2 s before.
      for (const sample of samples) {
        const earlier = samples.filter((s) => s.at <= sample.at - 2000).pop();
        if (earlier)
          expect({ at: sample.at - samples[0].at, succeeded: sample.succeeded }).toEqual({
            at: sample.at - samples[0].at,
            succeeded: Math.max(sample.succeeded, earlier.listed),
          });
      }
      // It did move between batches' ends: some sample shows a count that is not a multiple of the batch size.
      expect(samples.some((s) => s.succeeded % 100 !== 0)).toBe(true);
    } finally {
      await host?.stop();
    }
  },
);
