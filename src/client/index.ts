/**
 * A typed, fetch-based client of the Scatter-Gather HTTP API (API.md, GET /api/openapi.json).
 * Its types and the checks of every answer come from the zod schemas the OpenAPI document is generated
 * from (src/openapi/schemas.ts), so the document, the functions and the client share one definition.
 *
 *   const client = new ScatterGatherClient({ baseUrl: "http://localhost:7071", key: "<function key>" });
 *   const { id } = await client.start({ request: {}, recipients: [{ id: "a", simulate: { value: 1 } }] });
 *   const done = await client.waitFor(id, { onProgress: (s) => console.log(s.progress) });
 *
 * It does not trust its server: the key and the request body go only to the origin of `baseUrl` (a
 * redirect to another origin is refused, not followed; one to the same origin is followed at most
 * MAX_REDIRECTS times), an answer is read up to `maxAnswerBytes` (16 MiB by default) and no further, and
 * an answer that is not JSON or not the shape the API promises is an AnswerError naming what was wrong.
 */
import { z } from "zod";
import {
  gatherListSchema,
  gatherStatusSchema,
  managementUrlsSchema,
  responsesPageSchema,
  submitAcceptedSchema,
  terminateAcceptedSchema,
  type ErrorBody,
  type GatherList,
  type GatherRequestBody,
  type GatherStatus,
  type ManagementUrls,
  type RecipientResponse,
  type ResponsesPage,
  type SubmitAccepted,
  type TerminateAccepted,
} from "../openapi/schemas";

export type {
  Aggregate,
  Counts,
  ErrorBody,
  GatherList,
  GatherProgress,
  GatherRequestBody,
  GatherResult,
  GatherStatus,
  GatherSummary,
  ManagementUrls,
  RecipientResponse,
  ResponsesPage,
  RuntimeStatus,
  SubmitAccepted,
  TerminateAccepted,
} from "../openapi/schemas";

export const TERMINAL_STATUSES: ReadonlySet<string> = new Set(["Completed", "Failed", "Terminated", "Canceled"]);

/** The most the client reads of one answer unless told otherwise: 16 MiB. */
export const DEFAULT_MAX_ANSWER_BYTES = 16 * 1024 * 1024;
/** Same-origin redirects followed for one call before giving up. */
export const MAX_REDIRECTS = 5;

export interface ClientOptions {
  /** The function app, e.g. http://localhost:7071 (no /api). Its origin is the only one the key and bodies go to. */
  baseUrl: string;
  /** A function or host key, sent as `x-functions-key` (to the origin of baseUrl only). */
  key?: string;
  fetch?: typeof fetch;
  /** Per call, redirects and reading the answer included; default 30 s. */
  timeoutMs?: number;
  /** The most bytes read of one answer (after content decoding); default DEFAULT_MAX_ANSWER_BYTES. */
  maxAnswerBytes?: number;
}

/** A non-2xx answer: its status and the API's error body when there is one. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly method: string,
    readonly url: string,
  ) {
    const message = errorOf(body)?.message;
    super(`${method} ${new URL(url).pathname} answered ${status}${typeof message === "string" && message ? `: ${message}` : ""}`);
    this.name = "ApiError";
  }

  /** `{ path, message }` of a 400 invalid_request (only well-formed entries). */
  get details(): Array<{ path: string; message: string }> {
    const details = errorOf(this.body)?.details;
    if (!Array.isArray(details)) return [];
    return details.filter(
      (d): d is { path: string; message: string } =>
        typeof d === "object" && d !== null && typeof d.path === "string" && typeof d.message === "string",
    );
  }

  get code(): string | undefined {
    const code = errorOf(this.body)?.code;
    return typeof code === "string" ? code : undefined;
  }
}

/** `body.error` when the body is an object with an object `error`, as the API's error bodies are. */
function errorOf(body: unknown): Record<string, unknown> | undefined {
  if (typeof body !== "object" || body === null) return undefined;
  const error = (body as Partial<Record<keyof ErrorBody, unknown>>).error;
  return typeof error === "object" && error !== null ? (error as Record<string, unknown>) : undefined;
}

/** No answer at all: the connection refused or dropped, the name not found, or no answer in time. */
export class UnreachableError extends Error {
  constructor(message: string, options: { cause: unknown }) {
    super(message, options);
    this.name = "UnreachableError";
  }
}

/** Worth asking again: no answer, or an answer saying the app is busy or failing for now (429, 5xx). */
function isTransient(error: unknown): boolean {
  return error instanceof UnreachableError || (error instanceof ApiError && (error.status === 429 || error.status >= 500));
}

/** Why an answer was not used: a redirect refused or not followed, a body over the bound, not JSON, or not the promised shape. */
export type AnswerProblem = "redirect" | "too-large" | "not-json" | "shape";

/** An answer the client will not use (see AnswerProblem); the message says what was wrong. */
export class AnswerError extends Error {
  constructor(
    readonly problem: AnswerProblem,
    readonly status: number,
    readonly method: string,
    readonly url: string,
    detail: string,
  ) {
    super(`${method} ${new URL(url).pathname} answered ${status} ${detail}`);
    this.name = "AnswerError";
  }
}

export interface ResponsesQuery {
  offset?: number;
  limit?: number;
  status?: RecipientResponse["status"];
}

export interface ListQuery {
  top?: number;
  continuationToken?: string;
  createdFrom?: Date | string;
  createdTo?: Date | string;
  runtimeStatus?: string[];
}

export interface WaitOptions {
  /** Between polls; default 500 ms. */
  intervalMs?: number;
  /** Give up after this long (an Error); default: never. */
  timeoutMs?: number;
  /** How long status reads may fail in a row (no answer, 429, 5xx: read again, backing off) before the wait ends with the last error; default 60 s. */
  retryForMs?: number;
  /** Called with every status read, the last (terminal) one included. */
  onProgress?: (status: GatherStatus) => void | Promise<void>;
  signal?: AbortSignal;
}

/** The answers the client reads, by the name its errors give them, with the schema each must match. */
const ANSWERS = {
  ManagementUrls: managementUrlsSchema,
  GatherStatus: gatherStatusSchema,
  ResponsesPage: responsesPageSchema,
  GatherList: gatherListSchema,
  TerminateAccepted: terminateAcceptedSchema,
  SubmitAccepted: submitAcceptedSchema,
  OpenApiDocument: z.looseObject({ openapi: z.string(), paths: z.record(z.string(), z.unknown()) }),
} as const;
type AnswerName = keyof typeof ANSWERS;
type Answer<K extends AnswerName> = z.output<(typeof ANSWERS)[K]>;

/** The statuses of a redirect (fetch's "redirect status"). */
const REDIRECT_STATUSES: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);

interface Exchange {
  status: number;
  ok: boolean;
  method: string;
  /** The URL that gave this answer (after any same-origin redirect). */
  url: string;
  contentType: string | null;
  text: string;
}

export class ScatterGatherClient {
  readonly baseUrl: string;
  /** The origin of baseUrl: the only one the key and request bodies are sent to. */
  readonly origin: string;
  private readonly key?: string;
  private readonly fetchImpl: typeof fetch;
  private readonly timeoutMs: number;
  readonly maxAnswerBytes: number;

  constructor(options: ClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    let base: URL | undefined;
    try {
      base = new URL(this.baseUrl);
    } catch {
      base = undefined;
    }
    if (!base || (base.protocol !== "http:" && base.protocol !== "https:"))
      throw new Error(`the base URL must be an absolute http or https URL, not ${JSON.stringify(options.baseUrl)}`);
    this.origin = base.origin;
    this.key = options.key || undefined;
    this.fetchImpl = options.fetch ?? fetch;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.maxAnswerBytes = options.maxAnswerBytes ?? DEFAULT_MAX_ANSWER_BYTES;
    if (!Number.isSafeInteger(this.maxAnswerBytes) || this.maxAnswerBytes < 1)
      throw new Error("maxAnswerBytes must be a positive whole number");
  }

  /** POST /api/scatter-gather → the management URLs (202). A 409 (id running) is an ApiError with them in `body`. */
  start(body: GatherRequestBody | Record<string, unknown>): Promise<ManagementUrls> {
    return this.call("POST", "/api/scatter-gather", "ManagementUrls", body);
  }

  /** GET /api/scatter-gather/{id}. */
  get(id: string): Promise<GatherStatus> {
    return this.call("GET", this.gatherPath(id), "GatherStatus");
  }

  /** GET /api/scatter-gather/{id}/responses, one page (its `offset` must be the one asked for). */
  responses(id: string, query: ResponsesQuery = {}): Promise<ResponsesPage> {
    const offset = query.offset ?? 0;
    return this.call(
      "GET",
      `${this.gatherPath(id)}/responses${search({ offset: query.offset, limit: query.limit, status: query.status })}`,
      "ResponsesPage",
      undefined,
      (page) => (page.offset === offset ? undefined : `field offset: ${page.offset}, not the ${offset} asked for`),
    );
  }

  /** Every response (following the pages, up to the total the pages give), optionally of one status. */
  async allResponses(id: string, query: Omit<ResponsesQuery, "offset"> = {}): Promise<ResponsesPage["items"]> {
    // While the gather runs, a filtered list shifts under its pages (an entry that settles leaves it, and the later
    // ones move up): entries would be read twice or not at all. The whole list keeps its order, so it is read whole
    // and filtered here; once the gather has ended, the filter is the server's.
    if (query.status !== undefined && !TERMINAL_STATUSES.has((await this.get(id)).runtimeStatus)) {
      const { status, ...rest } = query;
      return (await this.allResponses(id, rest)).filter((item) => item.status === status);
    }
    const items: ResponsesPage["items"] = [];
    let offset = 0;
    for (;;) {
      const page = await this.responses(id, { ...query, offset });
      items.push(...page.items);
      offset = page.offset + page.items.length;
      if (page.nextUri === null || page.items.length === 0 || offset >= page.total) return items;
    }
  }

  /** GET /api/scatter-gather: one page of recent gathers. */
  list(query: ListQuery = {}): Promise<GatherList> {
    const date = (d?: Date | string) => (d instanceof Date ? d.toISOString() : d);
    return this.call(
      "GET",
      `/api/scatter-gather${search({
        top: query.top,
        continuationToken: query.continuationToken,
        createdFrom: date(query.createdFrom),
        createdTo: date(query.createdTo),
        runtimeStatus: query.runtimeStatus?.join(","),
      })}`,
      "GatherList",
    );
  }

  /** POST /api/scatter-gather/{id}/terminate. */
  terminate(id: string, reason?: string): Promise<TerminateAccepted> {
    return this.call("POST", `${this.gatherPath(id)}/terminate${search({ reason })}`, "TerminateAccepted");
  }

  /**
   * POST /api/scatter-gather/{id}/redrive → the management URLs (202): runs the recipients of a Completed gather
   * that ended with `statuses` (default: failed, timedOut, abandoned) again. A 409 (running, terminated, failed,
   * an auction) or a 400 (nothing to redrive) is an ApiError.
   */
  redrive(id: string, statuses?: readonly ("failed" | "timedOut" | "abandoned")[]): Promise<ManagementUrls> {
    return this.call("POST", `${this.gatherPath(id)}/redrive${search({ status: statuses?.join(",") })}`, "ManagementUrls");
  }

  /** DELETE /api/scatter-gather/{id} (204; any body is read within the bound and ignored). */
  async delete(id: string): Promise<void> {
    const answer = await this.exchange("DELETE", this.gatherPath(id));
    if (!answer.ok) throw new ApiError(answer.status, parseLoosely(answer.text), answer.method, answer.url);
  }

  /** POST /api/scatter-gather/{id}/responses: an auction answer. */
  submit(id: string, answer: { responder: string; value: unknown }): Promise<SubmitAccepted> {
    return this.call("POST", `${this.gatherPath(id)}/responses`, "SubmitAccepted", answer);
  }

  /** GET /api/openapi.json. */
  openapi(): Promise<Record<string, unknown>> {
    return this.call("GET", "/api/openapi.json", "OpenApiDocument");
  }

  /**
   * Polls GET /api/scatter-gather/{id} until the gather is Completed, Failed, Terminated or Canceled.
   * An answer that is not a status (see AnswerError) ends the wait with that error.
   */
  async waitFor(id: string, options: WaitOptions = {}): Promise<GatherStatus> {
    const interval = options.intervalMs ?? 500;
    const until = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs;
    const retryForMs = options.retryForMs ?? 60_000;
    let failingSince: number | undefined;
    for (let failures = 0; ;) {
      options.signal?.throwIfAborted();
      let status: GatherStatus;
      try {
        status = await this.get(id);
        failures = 0;
        failingSince = undefined;
      } catch (error) {
        // The gather goes on while its host restarts or the network blips: a status read that failed for a while
        // (no answer, 429 or 5xx) is read again, backing off; anything else, or failing past retryForMs, ends the wait.
        failingSince ??= Date.now();
        if (!isTransient(error) || Date.now() - failingSince >= retryForMs) throw error;
        await new Promise((resolve) => setTimeout(resolve, Math.min(5000, interval * 2 ** failures++)));
        continue;
      }
      await options.onProgress?.(status);
      if (TERMINAL_STATUSES.has(status.runtimeStatus)) return status;
      if (Date.now() > until) throw new Error(`scatter-gather ${id} is still ${status.runtimeStatus} after ${options.timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, interval));
    }
  }

  private gatherPath(id: string): string {
    return `/api/scatter-gather/${encodeURIComponent(id)}`;
  }

  /** One call whose 2xx answer must be JSON of the named shape (and pass `check`, a further problem or undefined). */
  private async call<K extends AnswerName>(
    method: string,
    path: string,
    answer: K,
    body?: unknown,
    check?: (value: Answer<K>) => string | undefined,
  ): Promise<Answer<K>> {
    const got = await this.exchange(method, path, body);
    if (!got.ok) throw new ApiError(got.status, parseLoosely(got.text), got.method, got.url);
    let parsed: unknown;
    try {
      parsed = JSON.parse(got.text);
    } catch {
      const what = got.text === "" ? "empty" : `${got.contentType ?? "no content-type"}, ${got.text.length} characters`;
      throw new AnswerError("not-json", got.status, got.method, got.url, `with a body that is not JSON (${what})`);
    }
    const result = (ANSWERS[answer] as unknown as z.ZodType<Answer<K>>).safeParse(parsed);
    const problem = result.success ? check?.(result.data) : describeIssues(result.error.issues, parsed);
    if (problem !== undefined || !result.success)
      throw new AnswerError("shape", got.status, got.method, got.url, `with a body that is not a ${answer}: ${problem}`);
    return result.data;
  }

  /**
   * Sends the request to the origin of baseUrl, never anywhere else: redirects are not followed by fetch
   * (`redirect: "manual"`); one to the same origin is followed here (at most MAX_REDIRECTS, with fetch's
   * method rules), one to another origin is an AnswerError, so neither the key nor the body leaves the
   * origin the client was given. The answer's body is read up to maxAnswerBytes and no further.
   */
  private async exchange(method: string, path: string, body?: unknown): Promise<Exchange> {
    const signal = AbortSignal.timeout(this.timeoutMs);
    let url = `${this.baseUrl}${path}`;
    let verb = method;
    let payload = body === undefined ? undefined : JSON.stringify(body);
    for (let redirects = 0; ; redirects++) {
      if (new URL(url).origin !== this.origin) throw new Error(`refusing to send a request to ${new URL(url).origin}: not ${this.origin}`);
      const headers: Record<string, string> = { accept: "application/json" };
      if (this.key) headers["x-functions-key"] = this.key;
      if (payload !== undefined) headers["content-type"] = "application/json";
      const res = await this.fetchImpl(url, { method: verb, headers, body: payload, redirect: "manual", signal }).catch(
        (error: unknown) => {
          throw new UnreachableError(`${verb} ${withoutKey(url)} failed: ${unreachable(error)}`, { cause: error });
        },
      );
      if (!REDIRECT_STATUSES.has(res.status)) {
        const text = await readAtMost(
          res,
          this.maxAnswerBytes,
          () => new AnswerError("too-large", res.status, verb, url, `with a body larger than ${bytesText(this.maxAnswerBytes)}`),
        );
        return { status: res.status, ok: res.ok, method: verb, url, contentType: res.headers.get("content-type"), text };
      }
      await res.body?.cancel().catch(() => undefined);
      const location = res.headers.get("location");
      let next: URL | undefined;
      try {
        next = location ? new URL(location, url) : undefined;
      } catch {
        next = undefined;
      }
      if (!next) throw new AnswerError("redirect", res.status, verb, url, "with a redirect without a usable Location: not followed");
      if (next.origin !== this.origin)
        throw new AnswerError(
          "redirect",
          res.status,
          verb,
          url,
          `redirecting to another origin, ${next.origin}: refused (the key and the request body go only to ${this.origin})`,
        );
      if (redirects >= MAX_REDIRECTS)
        throw new AnswerError("redirect", res.status, verb, url, `redirecting again after ${MAX_REDIRECTS} redirects: not followed`);
      // fetch's rules: 303 becomes a GET, and so does a POST answered 301 or 302; 307 and 308 keep both.
      if ((res.status === 303 && verb !== "HEAD") || ((res.status === 301 || res.status === 302) && verb === "POST")) {
        verb = "GET";
        payload = undefined;
      }
      url = next.href;
    }
  }
}

/** A URL as an error may show it: a key in its query (`code`, any spelling, as a redirect may carry) left out. */
function withoutKey(url: string): string {
  const shown = new URL(url);
  for (const name of [...shown.searchParams.keys()]) if (name.toLowerCase() === "code") shown.searchParams.delete(name);
  return shown.href;
}

/** Why a request got no answer, in a few words: the socket's code (ECONNREFUSED, ENOTFOUND, ...) or the error's own. */
function unreachable(error: unknown): string {
  const cause = (error as { cause?: { code?: unknown; message?: unknown } } | undefined)?.cause;
  if (typeof cause?.code === "string") return `${cause.code}${typeof cause.message === "string" ? ` (${cause.message})` : ""}`;
  if (typeof cause?.message === "string" && cause.message) return cause.message; // "bad port": a port fetch refuses
  if ((error as Error | undefined)?.name === "TimeoutError") return "no answer in time";
  return (error as Error | undefined)?.message ?? String(error);
}

/** The body as text, at most `max` bytes of it: past that the stream is cancelled and `tooLarge()` thrown. */
async function readAtMost(res: Response, max: number, tooLarge: () => Error): Promise<string> {
  const declared = res.headers.get("content-length");
  if (declared !== null && !res.headers.has("content-encoding") && Number(declared) > max) {
    await res.body?.cancel().catch(() => undefined);
    throw tooLarge();
  }
  if (!res.body) return "";
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let text = "";
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return text + decoder.decode();
    size += value.byteLength;
    if (size > max) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge();
    }
    text += decoder.decode(value, { stream: true });
  }
}

/** An error answer's body: JSON when it is, else the text (undefined when empty). */
function parseLoosely(text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** "16 MiB", "1 KiB", "1000 bytes". */
export function bytesText(n: number): string {
  if (n % (1024 * 1024) === 0) return `${n / (1024 * 1024)} MiB`;
  if (n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}

/** zod's issues as "missing field runtimeStatus; field progress.total: …", the first three and how many more. */
function describeIssues(issues: ReadonlyArray<{ path: PropertyKey[]; message: string }>, value: unknown): string {
  const shown = issues.slice(0, 3).map((issue) => {
    if (issue.path.length === 0) return issue.message;
    const where = issue.path
      .map((key, i) =>
        typeof key === "number"
          ? `[${key}]`
          : typeof key === "string" && /^[A-Za-z_$][\w$]*$/.test(key)
            ? `${i ? "." : ""}${key}`
            : `[${JSON.stringify(String(key))}]`,
      )
      .join("");
    return valueAt(value, issue.path) === undefined ? `missing field ${where}` : `field ${where}: ${issue.message}`;
  });
  return shown.join("; ") + (issues.length > shown.length ? `; and ${issues.length - shown.length} more` : "");
}

function valueAt(value: unknown, path: PropertyKey[]): unknown {
  let at = value;
  for (const key of path) {
    if (typeof at !== "object" || at === null || typeof key === "symbol") return undefined;
    at = Object.prototype.hasOwnProperty.call(at, key) ? (at as Record<string | number, unknown>)[key] : undefined;
  }
  return at;
}

function search(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value !== undefined && value !== "") q.set(name, String(value));
  const s = q.toString();
  return s ? `?${s}` : "";
}
