/**
 * Paging of GET /api/scatter-gather/{id}/responses (docs/api.md): `?offset=0&limit=100&status=...`, entries
 * in list order, values read for the page's succeeded entries only.
 */
import { publicOutcome, type RecipientOutcome } from "./outcomes";
import type { StoredAnswer } from "./runPayloads";
import type { Json, ResponseStatus } from "./types";

export type EntryStatus = ResponseStatus | "pending";

export interface ResponseEntry extends Omit<RecipientOutcome, "status"> {
  /** Position in the recipient list (or arrival order): where the stored answer is found. */
  index: number;
  recipientId: string;
  status: EntryStatus;
}

export interface PageQuery {
  offset: number;
  limit: number;
  status?: EntryStatus;
}

export interface ResponsesPage {
  items: (Omit<ResponseEntry, "index" | "answer"> & { value?: Json })[];
  offset: number;
  limit: number;
  total: number;
  nextUri: string | null;
}

const STATUSES: readonly EntryStatus[] = ["succeeded", "failed", "timedOut", "abandoned", "pending"];
const MAX_PAGE = 1000;

export function parsePageQuery(query: {
  get(name: string): string | null;
}): { ok: true; value: PageQuery } | { ok: false; message: string } {
  const offset = wholeNumber(query.get("offset"), 0);
  const limit = wholeNumber(query.get("limit"), 100);
  const status = query.get("status") ?? undefined;
  if (offset === undefined || offset < 0) return { ok: false, message: "offset must be a whole number ≥ 0" };
  if (limit === undefined || limit < 1 || limit > MAX_PAGE)
    return { ok: false, message: `limit must be a whole number from 1 to ${MAX_PAGE}` };
  if (status !== undefined && !STATUSES.includes(status as EntryStatus))
    return { ok: false, message: `status must be one of ${STATUSES.join(", ")}` };
  return { ok: true, value: { offset, limit, ...(status ? { status: status as EntryStatus } : {}) } };
}

export async function responsesPage(
  entries: readonly ResponseEntry[],
  query: PageQuery,
  baseUri: string,
  read: (entry: ResponseEntry) => Promise<StoredAnswer | undefined>,
): Promise<ResponsesPage> {
  const matching = query.status ? entries.filter((e) => e.status === query.status) : entries;
  const slice = matching.slice(query.offset, query.offset + query.limit);
  const items = await Promise.all(
    slice.map(async (full) => {
      const { index: _index, ...entry } = publicOutcome(full);
      if (entry.status !== "succeeded") return entry;
      const answer = await read(full);
      return {
        ...entry,
        value: answer?.value ?? null,
        ...(entry.attempts === undefined && answer?.attempts !== undefined ? { attempts: answer.attempts } : {}),
        ...(entry.durationMs === undefined && answer?.durationMs !== undefined ? { durationMs: answer.durationMs } : {}),
      };
    }),
  );
  const next = query.offset + query.limit < matching.length;
  const nextUri = next
    ? `${baseUri}?${new URLSearchParams({ offset: String(query.offset + query.limit), limit: String(query.limit), ...(query.status ? { status: query.status } : {}) })}`
    : null;
  return { items, offset: query.offset, limit: query.limit, total: matching.length, nextUri };
}

function wholeNumber(raw: string | null, fallback: number): number | undefined {
  if (raw === null || raw === "") return fallback;
  return /^\d{1,9}$/.test(raw) ? Number(raw) : undefined;
}
