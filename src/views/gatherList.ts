/**
 * GET /api/scatter-gather: recent gathers, one page at a time, through the Durable HTTP API's instance
 * query (`GET …/instances?top=N` with the `x-ms-continuation-token` header) on the durable client's own
 * endpoint. The durable client's getStatusBy() would read every page before answering; here one page of
 * the backend is read per call and its continuation token handed to the caller.
 */
import type { DurableClient } from "durable-functions";
import { FunctionNames } from "../durable/names";
import { isBatchId } from "../gather/instanceIds";
import { isActive } from "../durable/client";
import { endedUnsettled, progressOf } from "../http/progress";

export interface ListQuery {
  top: number;
  continuationToken?: string;
  createdFrom?: Date;
  createdTo?: Date;
  runtimeStatus?: string[];
}

const STATUSES = ["Pending", "Running", "Completed", "ContinuedAsNew", "Failed", "Canceled", "Terminated", "Suspended"];

export function parseListQuery(get: (name: string) => string | null): ListQuery | { error: string } {
  const rawTop = get("top");
  let top = 20;
  if (rawTop !== null && rawTop !== "") {
    if (!/^\d+$/.test(rawTop) || Number(rawTop) < 1 || Number(rawTop) > 100)
      return { error: "top must be a whole number between 1 and 100" };
    top = Number(rawTop);
  }
  const query: ListQuery = { top };
  const token = get("continuationToken");
  if (token) query.continuationToken = token;
  for (const [name, key] of [
    ["createdFrom", "createdFrom"],
    ["createdTo", "createdTo"],
  ] as const) {
    const raw = get(name);
    if (!raw) continue;
    const date = new Date(raw);
    if (Number.isNaN(date.getTime())) return { error: `${name} must be an ISO date-time` };
    query[key] = date;
  }
  const statuses = get("runtimeStatus");
  if (statuses) {
    const list = statuses
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean);
    const bad = list.find((s) => !STATUSES.includes(s));
    if (bad) return { error: `runtimeStatus: unknown status ${bad} (one of ${STATUSES.join(", ")})` };
    query.runtimeStatus = list;
  }
  return query;
}

interface DurableStatusPayload {
  name?: string;
  instanceId: string;
  runtimeStatus: string;
  createdTime: string;
  lastUpdatedTime: string;
  customStatus?: unknown;
  output?: unknown;
}

/**
 * The instance query URL on the durable client's own endpoint (the extension's local RPC listener,
 * `rpcBaseUrl` of the binding: loopback, no key), as the client's getStatusBy() uses it. Never the public
 * webhook URL: that would leave the app over the internet with the system key, and fail behind access
 * restrictions or private endpoints. Only a host that hands out no rpcBaseUrl gets the webhook URL.
 */
export function instancesQueryUrl(client: DurableClient, rpcBaseUrl: string | undefined, query: ListQuery): string {
  let url: URL;
  if (rpcBaseUrl) {
    url = new URL("instances/", rpcBaseUrl);
  } else {
    const placeholder = "LIST-PLACEHOLDER";
    url = new URL(client.createHttpManagementPayload(placeholder).statusQueryGetUri);
    url.pathname = url.pathname.replace(new RegExp(`/instances/${placeholder}$`), "/instances");
  }
  url.searchParams.set("top", String(query.top));
  url.searchParams.set("showInput", "false");
  if (query.createdFrom) url.searchParams.set("createdTimeFrom", query.createdFrom.toISOString());
  if (query.createdTo) url.searchParams.set("createdTimeTo", query.createdTo.toISOString());
  if (query.runtimeStatus) url.searchParams.set("runtimeStatus", query.runtimeStatus.join(","));
  return url.href;
}

export function summarize(status: DurableStatusPayload) {
  const output = (status.runtimeStatus === "Completed" ? status.output : null) as {
    outcome?: string;
    closedBy?: string;
    counts?: unknown;
  } | null;
  return {
    id: status.instanceId,
    runtimeStatus: status.runtimeStatus,
    createdTime: status.createdTime,
    lastUpdatedTime: status.lastUpdatedTime,
    // As GET /api/scatter-gather/{id} shows it once it has ended (without its batches' counts: one query a row).
    progress: progressOf(status.customStatus ?? null, isActive(status), undefined, endedUnsettled(status.runtimeStatus)),
    outcome: output?.outcome ?? null,
    closedBy: output?.closedBy ?? null,
    counts: output?.counts ?? null,
  };
}

/** Gathers only: the orchestrator's instances, not its batches (gather/instanceIds.ts). */
export function isGather(status: DurableStatusPayload): boolean {
  return status.name === FunctionNames.orchestrator && !isBatchId(status.instanceId);
}

/** A list the backend would not give: a bad continuation token (400) or a backend failure (502). */
export class ListError extends Error {
  constructor(
    readonly status: 400 | 502,
    message: string,
  ) {
    super(message);
    this.name = "ListError";
  }
}

/**
 * One page of the Durable HTTP API's instance query at `url`, after `continuationToken`: the statuses and the
 * next page's token. A page may be empty and still carry a token (the backend stopped at its scan budget);
 * "null" is how a missing token was once serialized.
 */
export async function instancesPage<T>(
  url: string,
  continuationToken: string | undefined,
  fetchImpl: typeof fetch,
  timeoutMs: number,
): Promise<{ status: number; body: string; items: T[]; continuationToken: string | null }> {
  const res = await fetchImpl(url, {
    headers: continuationToken ? { "x-ms-continuation-token": continuationToken } : {},
    signal: AbortSignal.timeout(timeoutMs),
  });
  if (res.status !== 200) return { status: res.status, body: (await res.text()).slice(0, 500), items: [], continuationToken: null };
  const token = res.headers.get("x-ms-continuation-token");
  return { status: 200, body: "", items: (await res.json()) as T[], continuationToken: token && token !== "null" ? token : null };
}

export async function listGathers(
  client: DurableClient,
  rpcBaseUrl: string | undefined,
  query: ListQuery,
  fetchImpl: typeof fetch = fetch,
) {
  const page = await instancesPage<DurableStatusPayload>(
    instancesQueryUrl(client, rpcBaseUrl, query),
    query.continuationToken,
    fetchImpl,
    30_000,
  );
  if (page.status !== 200) {
    const detail = `the Durable instance query answered ${page.status}: ${page.body}`;
    // A token is opaque and the backend's own: one it cannot read is the caller's mistake, not the service's.
    throw new ListError(
      query.continuationToken ? 400 : 502,
      query.continuationToken ? "continuationToken is not one this list handed out" : detail,
    );
  }
  // A token that comes with an empty page is kept, or listing would stop early.
  return { items: page.items.filter(isGather).map(summarize), continuationToken: page.continuationToken };
}
