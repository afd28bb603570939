/**
 * Paging of GET /api/scatter-gather/{id}/responses (docs/api.md): `?offset=0&limit=100&status=...`, entries
 * in list order, values read for the page's succeeded entries only.
 *
 * A page is bounded twice: at most `limit` entries, and at most MAX_PAGE_BYTES of JSON. It ends before the
 * entry that would take it past the byte bound (a page always holds at least one entry, however large), and
 * `nextUri` carries on from there: `limit` is a maximum, `offset + items.length` where the next page starts.
 * Values are read in batches the entries' stored sizes say fit (answer refs know them), so a page of large
 * answers reads about what it returns, not `limit` answers.
 *
 * A succeeded entry whose answer cannot be read (its blob lost or shorter than its range) comes with no
 * `value` and an `error` naming the blob and the range: never `value: null`, and the rest of the page (and
 * every later page) stays readable.
 */
import { publicOutcome, type RecipientOutcome } from "./outcomes";
import type { AnswerRead } from "./runPayloads";
import type { Json, ResponseStatus } from "./types";

export type EntryStatus = ResponseStatus | "pending";

export interface ResponseEntry extends Omit<RecipientOutcome, "status"> {
  /** Position in the recipient list (or arrival order): where the stored answer is found. */
  index: number;
  recipientId: string;
  status: EntryStatus;
  /** A pending callback or queue recipient: its answer comes as a reply. */
  waitingFor?: "reply";
  /** A redriven recipient answered in the running redrive: its attempts in earlier runs (added to its stored ones). */
  earlierAttempts?: number;
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
/** The most bytes of JSON one page holds (unless its single entry is larger): 4 MiB. */
export const MAX_PAGE_BYTES = 4_194_304;
/**
 * Entries read at once whose size is unknown beforehand (auction answers: a blob each, no ref): bounds
 * what a page may read beyond what it returns.
 */
const UNSIZED_PER_BATCH = 32;

export interface PageOptions {
  /** The byte bound of a page (default MAX_PAGE_BYTES). */
  maxBytes?: number;
}

export function parsePageQuery(query: {
  get(name: string): string | null;
}): { ok: true; value: PageQuery } | { ok: false; path: string; message: string } {
  const offset = wholeNumber(query.get("offset"), 0);
  const limit = wholeNumber(query.get("limit"), 100);
  const status = query.get("status") ?? undefined;
  if (offset === undefined || offset < 0) return { ok: false, path: "offset", message: "offset must be a whole number ≥ 0" };
  if (limit === undefined || limit < 1 || limit > MAX_PAGE)
    return { ok: false, path: "limit", message: `limit must be a whole number from 1 to ${MAX_PAGE}` };
  if (status !== undefined && !STATUSES.includes(status as EntryStatus))
    return { ok: false, path: "status", message: `status must be one of ${STATUSES.join(", ")}` };
  return { ok: true, value: { offset, limit, ...(status ? { status: status as EntryStatus } : {}) } };
}

type PageItem = ResponsesPage["items"][number];

/**
 * One page. `read` gets the page's succeeded entries a batch at a time and answers each one's stored
 * answer, or why it cannot be read, in the same order (RunPayloads.readAnswers: one range read per
 * answer group, not one request per answer); undefined for an entry with no stored answer recorded.
 */
export async function responsesPage(
  entries: readonly ResponseEntry[],
  query: PageQuery,
  baseUri: string,
  read: (succeeded: readonly ResponseEntry[]) => Promise<(AnswerRead | undefined)[]>,
  options: PageOptions = {},
): Promise<ResponsesPage> {
  const maxBytes = options.maxBytes ?? MAX_PAGE_BYTES;
  const matching = query.status ? entries.filter((e) => e.status === query.status) : entries;
  const candidates = matching.slice(query.offset, query.offset + query.limit);
  const uriAt = (offset: number) =>
    offset < matching.length
      ? `${baseUri}?${new URLSearchParams({ offset: String(offset), limit: String(query.limit), ...(query.status ? { status: query.status } : {}) })}`
      : null;
  // The page's frame, with the longest nextUri it can have (its offset has the most digits).
  let bytes = jsonBytes({
    items: [],
    offset: query.offset,
    limit: query.limit,
    total: matching.length,
    nextUri: uriAt(Math.max(0, Math.min(query.offset + candidates.length, matching.length - 1))),
  });
  const items: PageItem[] = [];
  let next = 0;
  let full = false;
  while (next < candidates.length && !full) {
    // A batch: the entries whose estimated sizes fit what is left, and the first one that does not (read
    // with the others, so the page ends on exact sizes, not estimates, and without another request).
    const batch: ResponseEntry[] = [];
    let estimate = bytes;
    let unsized = 0;
    while (next + batch.length < candidates.length) {
      const entry = candidates[next + batch.length];
      batch.push(entry);
      const size = estimatedBytes(entry);
      if (size === undefined) unsized++;
      estimate += (size ?? 0) + 1;
      if (estimate > maxBytes || unsized >= UNSIZED_PER_BATCH) break;
    }
    const succeeded = batch.filter((e) => e.status === "succeeded");
    const reads = succeeded.length > 0 ? await read(succeeded) : [];
    const readOf = new Map(succeeded.map((e, i) => [e, reads[i]]));
    for (const entry of batch) {
      const item = pageItem(entry, readOf.get(entry));
      const size = jsonBytes(item) + (items.length > 0 ? 1 : 0);
      if (items.length > 0 && bytes + size > maxBytes) {
        full = true;
        break;
      }
      items.push(item);
      bytes += size;
    }
    next = items.length;
  }
  return { items, offset: query.offset, limit: query.limit, total: matching.length, nextUri: uriAt(query.offset + items.length) };
}

/** An entry as the page shows it: a succeeded one with its stored value, or an error naming what is lost. */
function pageItem(full: ResponseEntry, read: AnswerRead | undefined): PageItem {
  const { index: _index, earlierAttempts = 0, ...entry } = publicOutcome(full);
  if (entry.status !== "succeeded") return entry;
  if (!read) return { ...entry, error: "the answer cannot be read: no stored answer is recorded for it" };
  if (read.error) return { ...entry, error: read.error.message };
  const answer = read.answer;
  return {
    ...entry,
    value: answer.value,
    ...(entry.attempts === undefined && answer.attempts !== undefined ? { attempts: earlierAttempts + answer.attempts } : {}),
    ...(entry.durationMs === undefined && answer.durationMs !== undefined ? { durationMs: answer.durationMs } : {}),
  };
}

/**
 * About how many bytes an entry takes in the page: exactly its JSON unless it succeeded; for a succeeded
 * one, its stored line's size when the ref knows it (the line holds the value as received and the fields
 * the page shows, with `index` where the page has `status`); undefined when nothing tells (auction answers).
 */
function estimatedBytes(entry: ResponseEntry): number | undefined {
  if (entry.status !== "succeeded") {
    const { index: _index, ...shown } = publicOutcome(entry);
    return jsonBytes(shown);
  }
  return entry.answer ? entry.answer.length + STATUS_FIELD_BYTES : undefined;
}

/** `"status":"succeeded",`, which a page item has and a stored line does not. */
const STATUS_FIELD_BYTES = 21;

function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value), "utf8");
}

function wholeNumber(raw: string | null, fallback: number): number | undefined {
  if (raw === null || raw === "") return fallback;
  return /^\d{1,9}$/.test(raw) ? Number(raw) : undefined;
}
