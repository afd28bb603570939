/** Answers stored after a DELETE removed their run (src/gather/orphans.ts). */
import { sweepIfRunDeleted } from "../../src/gather/orphans";
import { gatherKeys, MemoryPayloadStore } from "../../src/payload";

test("a group written after its run was deleted is deleted too; a live run's group stays", async () => {
  const store = new MemoryPayloadStore();
  const live = { instanceId: "g", runId: "r2" };
  const gone = { instanceId: "g", runId: "r1" };
  await store.putJson(gatherKeys("g", "r2").request, 1);
  await store.putText(gatherKeys("g", "r2").answerGroup("a1"), "{}\n");
  await store.putText(gatherKeys("g", "r1").answerGroup("b1"), "{}\n"); // r1's request was deleted already
  expect(await sweepIfRunDeleted(store, live, "a1")).toBe(false);
  expect(await sweepIfRunDeleted(store, gone, "b1")).toBe(true);
  expect(await store.stat(gatherKeys("g", "r2").answerGroup("a1"))).toBeDefined();
  expect(await store.stat(gatherKeys("g", "r1").answerGroup("b1"))).toBeUndefined();
});
