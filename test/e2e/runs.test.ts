/**
 * Runs of one instance id: a finished, terminated or deleted id may be started again at once, and nothing
 * keyed by the id (the "still gathering" check, the stored payloads, DELETE) may mix the runs up.
 */
import { azuriteConnectionString, createBlobPayloadStore, instancePrefix, readPayloadStoreConfig } from "../../src/payload";
import { keyedFetch, ownsHost, pollUntil, recipientServer, sleep, startOk, uniqueId, useTarget } from "./harness";

const target = useTarget();
jest.setTimeout(90_000);

/** The keys the suite host's payload store (its Azurite, named in its banner) holds for an instance id. */
async function storedKeysOf(id: string): Promise<string[]> {
  const port = /Azurite blob service http:\/\/127\.0\.0\.1:(\d+)\//.exec(target.host!.output())![1];
  const store = createBlobPayloadStore(readPayloadStoreConfig({ AzureWebJobsStorage: azuriteConnectionString(Number(port)) }));
  const keys: string[] = [];
  for await (const ref of store.list(instancePrefix(id))) keys.push(ref.key);
  return keys;
}

describe("runs of one id", () => {
  test("a restart right after a terminate: every recipient of the new run is called and succeeds", async () => {
    const id = uniqueId("rerun");
    const slow = Array.from({ length: 3000 }, (_, i) => ({ id: `s${i}`, simulate: { latencyMs: 2000, value: i } }));
    await startOk(target, { id, request: 1, recipients: slow });
    await pollUntil(target, id, (s) => s.runtimeStatus === "Running");
    await sleep(500);
    const terminated = await keyedFetch(`${target.baseUrl}/api/scatter-gather/${id}/terminate`, { method: "POST" });
    expect(terminated.status).toBe(202);
    await pollUntil(target, id, (s) => s.runtimeStatus === "Terminated");
    const fresh = Array.from({ length: 50 }, (_, i) => ({ id: `n${i}`, simulate: { latencyMs: 10, value: i } }));
    await startOk(target, { id, request: 2, recipients: fresh });
    const done = await pollUntil(target, id, (s) => s.runtimeStatus === "Completed", 30_000);
    expect(done.result.counts).toEqual({ total: 50, succeeded: 50, failed: 0, timedOut: 0, abandoned: 0 });
  });

  test("DELETE and a restart of the same id sent together: the new run keeps its data and completes", async () => {
    const id = uniqueId("race");
    const recipients = [{ id: "a", simulate: { latencyMs: 0, value: 1 } }];
    await startOk(target, { id, request: 1, recipients });
    await pollUntil(target, id, (s) => s.runtimeStatus === "Completed");
    for (let round = 0; round < 5; round++) {
      const [deleted, started] = await Promise.all([
        keyedFetch(`${target.baseUrl}/api/scatter-gather/${id}`, { method: "DELETE" }),
        keyedFetch(`${target.baseUrl}/api/scatter-gather`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ id, request: round, recipients }),
        }),
      ]);
      expect([204, 404, 409]).toContain(deleted.status);
      if (started.status === 409) continue; // the old run was still seen as running: nothing started
      expect(started.status).toBe(202);
      const done = await pollUntil(target, id, (s) => s.runtimeStatus !== "Running" && s.runtimeStatus !== "Pending", 20_000);
      expect([done.runtimeStatus, done.result?.counts?.succeeded]).toEqual(["Completed", 1]);
    }
  });

  (ownsHost ? test : test.skip)(
    "six redrives of one run sent together: one starts, the others are refused (409) and write nothing; DELETE leaves nothing",
    async () => {
      const id = uniqueId("redrives");
      const recipients = [
        { id: "ok", simulate: { latencyMs: 0, value: 1 } },
        { id: "down", simulate: { latencyMs: 300, failureRate: 1 } },
      ];
      await startOk(target, { id, request: 1, recipients });
      await pollUntil(target, id, (s) => s.runtimeStatus === "Completed");
      const answers = await Promise.all(
        Array.from({ length: 6 }, () => keyedFetch(`${target.baseUrl}/api/scatter-gather/${id}/redrive`, { method: "POST" })),
      );
      const statuses = answers.map((a) => a.status).sort();
      expect(statuses).toEqual([202, 409, 409, 409, 409, 409]);
      const refused = (await Promise.all(answers.filter((a) => a.status === 409).map((a) => a.json()))) as { error: { message: string } }[];
      for (const body of refused) expect(body.error.message).toMatch(/already redriven|still running/);
      const done = await pollUntil(target, id, (s) => s.runtimeStatus === "Completed" && s.result?.redrives !== undefined, 20_000);
      expect(done.result).toMatchObject({ redrives: 1, counts: { succeeded: 1, failed: 1 } });
      expect(done.result.responses.map((r: { attempts: number }) => r.attempts)).toEqual([1, 2]);
      // Two runs' folders: the first and the redrive's; the refused requests wrote none.
      expect(new Set((await storedKeysOf(id)).map((key) => key.split("/")[1])).size).toBe(2);
      expect((await keyedFetch(`${target.baseUrl}/api/scatter-gather/${id}`, { method: "DELETE" })).status).toBe(204);
      expect(await storedKeysOf(id)).toEqual([]);
    },
  );

  (ownsHost ? test : test.skip)(
    "terminate, then DELETE while slow answers still arrive: nothing of the gather is left behind",
    async () => {
      const slowServer = await recipientServer(() => ({ json: { late: true }, delayMs: 2500 }));
      const id = uniqueId("orphans");
      const recipients = Array.from({ length: 20 }, (_, i) => ({ id: `r${i}`, url: `${slowServer.url}/q`, timeoutMs: 10_000 }));
      await startOk(target, { id, request: 1, recipients });
      await slowServer.waitForCalls(20, 20_000);
      expect((await keyedFetch(`${target.baseUrl}/api/scatter-gather/${id}/terminate`, { method: "POST" })).status).toBe(202);
      await pollUntil(target, id, (s) => s.runtimeStatus === "Terminated");
      expect((await keyedFetch(`${target.baseUrl}/api/scatter-gather/${id}`, { method: "DELETE" })).status).toBe(204);
      await sleep(4000); // the answers arrive, and are stored, after the DELETE
      expect(await storedKeysOf(id)).toEqual([]);
    },
  );
});
