/**
 * GET /api/scatter-gather: gathers, newest first, `top` at a time, through the Durable HTTP API's instance query
 * (`GET …/instances`, paged with the `x-ms-continuation-token` header) on the durable client's own endpoint. The
 * query has no order of its own, so listGathers reads back in time window by window (below); the list's token is
 * its own, the last gather it handed out.
 */
import type { DurableClient } from "durable-functions";
import { FunctionNames } from "../durable/names";
import { isBatchId } from "../gather/instanceIds";
import { progressOf } from "../http/progress";

export interface ListQuery {
  top: number;
  continuationToken?: string;
  createdFrom?: Date;
  createdTo?: Date;
  runtimeStatus?: string[];
}

const STATUSES = ["Pending", "Running", "Completed", "ContinuedAsNew", "Failed", "Canceled", "Terminated", "Suspended"];

export function parseListQuery(get: (name: string) => string | null): ListQuery | { error: string; path: string } {
  const rawTop = get("top");
  let top = 20;
  if (rawTop !== null && rawTop !== "") {
    if (!/^\d+$/.test(rawTop) || Number(rawTop) < 1 || Number(rawTop) > 100)
      return { error: "top must be a whole number between 1 and 100", path: "top" };
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
    if (Number.isNaN(date.getTime())) return { error: `${name} must be an ISO date-time`, path: name };
    query[key] = date;
  }
  const statuses = get("runtimeStatus");
  if (statuses) {
    const list = statuses
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean);
    const bad = list.find((s) => !STATUSES.includes(s));
    if (bad) return { error: `runtimeStatus: unknown status ${bad} (one of ${STATUSES.join(", ")})`, path: "runtimeStatus" };
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
    progress: progressOf(status.customStatus ?? null, { runtimeStatus: status.runtimeStatus }),
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

/** The first window of the newest-first search reaches this far back; each next one 4× as far. */
const FIRST_WINDOW_MS = 10 * 60_000;
/** Past this, the search takes everything older in one last query. */
const WIDEST_WINDOW_MS = 400 * 86_400_000;
/** Instances a backend page holds, and the most one list call reads (gathers, their batches, other orchestrations). */
const PAGE_SIZE = 1000;
const MAX_INSTANCES_READ = 50_000;
/** Pages one list call reads at most: a backend may hand out empty pages with a token (its scan budget spent). */
const MAX_PAGES_READ = 200;

/** Where a page of the list ended: its last gather's created time (ms, whole seconds as statuses give it) and id. */
interface Cursor {
  t: number;
  id: string;
}

const CURSOR_PREFIX = "g1.";

/**
 * The newest gathers first (created time, then id, both descending), `top` of them after the caller's token.
 * The Durable instance query has no order of its own (by instance id or created time, as the backend keeps them),
 * so the list reads back in time, window by window (10 minutes, then 4× as far each time, then everything older),
 * until a window leaves it `top` gathers: every one older than that window is older than all of them. The token is
 * the list's own: the last gather handed out; the next page is what is older.
 */
export async function listGathers(
  client: DurableClient,
  rpcBaseUrl: string | undefined,
  query: ListQuery,
  fetchImpl: typeof fetch = fetch,
  now: number = Date.now(),
) {
  const cursor = query.continuationToken === undefined ? undefined : decodeCursor(query.continuationToken);
  const floor = query.createdFrom?.getTime();
  // Statuses give whole seconds: the cursor's second is read again, and its gathers after it in order left out.
  let upper = Math.min(query.createdTo?.getTime() ?? Infinity, cursor ? cursor.t + 999 : Infinity);
  // The windows' lower edges: `span` back from the previous edge (from now, or the upper bound, at first).
  let edge = Number.isFinite(upper) ? upper : now;
  const found = new Map<string, DurableStatusPayload & { t: number }>();
  let read = 0;
  const pages = { read: 0 };
  let span = FIRST_WINDOW_MS;
  for (;;) {
    const last = (floor !== undefined && edge - span <= floor) || span > WIDEST_WINDOW_MS;
    // Whole seconds: statuses show created times in seconds, so a window holds all of its lowest second's gathers.
    const from = last ? floor : Math.floor((edge - span) / 1000) * 1000;
    const window = {
      ...query,
      createdFrom: from === undefined ? undefined : new Date(from),
      createdTo: Number.isFinite(upper) ? new Date(upper) : undefined,
    };
    for await (const status of windowInstances(instancesQueryUrl(client, rpcBaseUrl, { ...window, top: PAGE_SIZE }), fetchImpl, pages)) {
      if (++read > MAX_INSTANCES_READ)
        throw new ListError(
          502,
          `over ${MAX_INSTANCES_READ} instances to read to order the list: narrow it with createdFrom and createdTo`,
        );
      const t = Date.parse(status.createdTime);
      if (isGather(status) && (!cursor || t < cursor.t || (t === cursor.t && status.instanceId < cursor.id)))
        found.set(status.instanceId, { ...status, t });
    }
    if (last || found.size >= query.top) {
      const newest = [...found.values()].sort((a, b) => b.t - a.t || (a.instanceId < b.instanceId ? 1 : -1));
      const items = newest.slice(0, query.top);
      const end = items[items.length - 1];
      const more = newest.length > query.top || (!last && items.length === query.top);
      return { items: items.map(summarize), continuationToken: more && end ? encodeCursor({ t: end.t, id: end.instanceId }) : null };
    }
    edge = from!;
    upper = edge + 999; // the edge's second again: the backend compares in milliseconds, statuses show seconds
    span *= 4;
  }
}

/** Every instance of one window, page by page, counting the pages into `pages`. */
async function* windowInstances(url: string, fetchImpl: typeof fetch, pages: { read: number }): AsyncGenerator<DurableStatusPayload> {
  let token: string | undefined;
  do {
    if (++pages.read > MAX_PAGES_READ)
      throw new ListError(
        502,
        `over ${MAX_PAGES_READ} pages of the instance query to order the list: narrow it with createdFrom and createdTo`,
      );
    const page = await instancesPage<DurableStatusPayload>(url, token, fetchImpl, 30_000);
    if (page.status !== 200) throw new ListError(502, `the Durable instance query answered ${page.status}: ${page.body}`);
    yield* page.items;
    token = page.continuationToken ?? undefined;
  } while (token);
}

function encodeCursor(cursor: Cursor): string {
  return CURSOR_PREFIX + Buffer.from(JSON.stringify(cursor), "utf8").toString("base64url");
}

function decodeCursor(token: string): Cursor {
  try {
    if (token.startsWith(CURSOR_PREFIX)) {
      const cursor = JSON.parse(Buffer.from(token.slice(CURSOR_PREFIX.length), "base64url").toString("utf8")) as Partial<Cursor>;
      if (typeof cursor.t === "number" && Number.isFinite(cursor.t) && typeof cursor.id === "string") return { t: cursor.t, id: cursor.id };
    }
  } catch {
    // not ours
  }
  throw new ListError(400, "continuationToken is not one this list handed out");
}
