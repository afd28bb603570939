/**
 * Answers that outlive a DELETE. Calls still in flight when a gather is terminated and deleted store their
 * answers afterwards, under a run folder nobody will read or delete again (until the retention rule).
 * DELETE sweeps the folder twice (deleteScatterGather); a writer then checks, once per answer group, that
 * its run's request is still stored, and deletes its group when it is not. A group written before the second
 * sweep's listing is swept by it; one written after it sees the request gone (the first sweep removed it).
 */
import { gatherKeys, type PayloadStore } from "../payload";
import type { RunRef } from "./types";

const checks = new Map<string, Promise<boolean>>();

/** Whether the group was an orphan (and is now deleted). One check per group, shared by its answers. */
export function sweepIfRunDeleted(store: PayloadStore, run: RunRef, group: string): Promise<boolean> {
  const keys = gatherKeys(run.instanceId, run.runId);
  const groupKey = keys.answerGroup(group);
  let check = checks.get(groupKey);
  if (!check) {
    check = (async () => {
      if (await store.stat(keys.request)) return false;
      await store.deleteByPrefix(groupKey);
      return true;
    })().finally(() => setTimeout(() => checks.delete(groupKey), 60_000).unref());
    checks.set(groupKey, check);
  }
  return check;
}
