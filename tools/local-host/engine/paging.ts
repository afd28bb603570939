/**
 * Instance queries as the host answers them: filters (created time range, runtime statuses, id prefix), order by
 * (createdTime, instanceId), pages of `top` with an opaque continuation token (the last key of the page).
 */
import type { InstanceData } from "./store";
import { InstanceStateError, type InstanceQuery } from "./types";

interface PageKey {
  c: number;
  i: string;
}

/** The instances matching a query's filters, in paging order. */
export function matchInstances(instances: Iterable<InstanceData>, q: InstanceQuery): InstanceData[] {
  const from = q.createdTimeFrom?.getTime();
  const to = q.createdTimeTo?.getTime();
  const statuses = q.runtimeStatus && q.runtimeStatus.length > 0 ? new Set(q.runtimeStatus) : undefined;
  const out: InstanceData[] = [];
  for (const inst of instances) {
    if (from !== undefined && inst.createdTime < from) continue;
    if (to !== undefined && inst.createdTime > to) continue;
    if (statuses && !statuses.has(inst.status)) continue;
    if (q.instanceIdPrefix && !inst.instanceId.startsWith(q.instanceIdPrefix)) continue;
    out.push(inst);
  }
  out.sort((a, b) => compareKey(a, { c: b.createdTime, i: b.instanceId }));
  return out;
}

/** One page of `matches` after the query's continuation token; a token when more remain. */
export function pageOf(matches: InstanceData[], q: InstanceQuery): { page: InstanceData[]; continuationToken?: string } {
  let start = 0;
  if (q.continuationToken) {
    const after = decodeToken(q.continuationToken);
    start = matches.findIndex((m) => compareKey(m, after) > 0);
    if (start === -1) start = matches.length;
  }
  const top = q.top && q.top > 0 ? q.top : matches.length;
  const page = matches.slice(start, start + top);
  const more = start + top < matches.length;
  return { page, continuationToken: more && page.length > 0 ? encodeToken(page[page.length - 1]) : undefined };
}

function compareKey(inst: InstanceData, key: PageKey): number {
  if (inst.createdTime !== key.c) return inst.createdTime - key.c;
  return inst.instanceId < key.i ? -1 : inst.instanceId > key.i ? 1 : 0;
}

function encodeToken(inst: InstanceData): string {
  return Buffer.from(JSON.stringify({ c: inst.createdTime, i: inst.instanceId })).toString("base64");
}

function decodeToken(token: string): PageKey {
  try {
    const k = JSON.parse(Buffer.from(token, "base64").toString("utf8")) as PageKey;
    if (typeof k.c === "number" && typeof k.i === "string") return k;
  } catch {
    // fall through
  }
  throw new InstanceStateError("Invalid continuation token.");
}
