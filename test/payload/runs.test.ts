/** Deleting the runs of an instance id up to one run (src/payload/runs.ts). */
import { gatherKeys, MemoryPayloadStore, newRunId } from "../../src/payload";
import { deleteRunsUpTo } from "../../src/payload/runs";

test("a DELETE racing a restart removes the purged run and the earlier ones, never a run started after it", async () => {
  const store = new MemoryPayloadStore();
  const [r0, r1, r2] = [0, 1, 2].map((i) => newRunId(new Date(Date.UTC(2026, 11, 6, 10, 0, i))));
  for (const runId of [r0, r1, r2]) {
    const keys = gatherKeys("x", runId);
    await store.putJson(keys.request, { runId });
    await store.putText(keys.answerGroup("g1"), '{"index":0}\n');
  }
  await store.putJson(gatherKeys("x2", r0).request, {}); // another id sharing the prefix "x"
  expect(await deleteRunsUpTo(store, "x", r1)).toBe(4);
  const left: string[] = [];
  for await (const ref of store.list("")) left.push(ref.key);
  expect(left.sort()).toEqual([gatherKeys("x", r2).answerGroup("g1"), gatherKeys("x", r2).request, gatherKeys("x2", r0).request].sort());
});
