/**
 * The runs of one instance id in the payload store (`<instanceId>/<runId>/…`, keys.ts). A finished id may be
 * started again at any moment, even while its earlier runs are being deleted, so a delete names the runs it
 * removes: every run up to the purged one (run ids sort by start time), never a run started after it.
 */
import { gatherKeys, instancePrefix } from "./keys";
import type { PayloadStore } from "./store";

/** Deletes the stored payloads of every run of `instanceId` up to `lastRunId`; returns how many blobs. */
export async function deleteRunsUpTo(store: PayloadStore, instanceId: string, lastRunId: string): Promise<number> {
  const prefix = instancePrefix(instanceId);
  const runs = new Set<string>();
  for await (const ref of store.list(prefix)) {
    const runId = ref.key.slice(prefix.length, ref.key.indexOf("/", prefix.length));
    if (runId && runId <= lastRunId) runs.add(runId);
  }
  let deleted = 0;
  for (const runId of runs) deleted += await store.deleteByPrefix(gatherKeys(instanceId, runId).prefix);
  return deleted;
}
