/**
 * A typed, fetch-based client of the Scatter-Gather HTTP API (API.md, GET /api/openapi.json).
 * Its types come from the zod schemas the OpenAPI document is generated from (src/openapi/schemas.ts),
 * imported as types only: at run time this module needs nothing but `fetch`.
 *
 *   const client = new ScatterGatherClient({ baseUrl: "http://localhost:7071", key: "<function key>" });
 *   const { id } = await client.start({ request: {}, recipients: [{ id: "a", simulate: { value: 1 } }] });
 *   const done = await client.waitFor(id, { onProgress: (s) => console.log(s.progress) });
 *
 * The key and the request body go only to the origin of `baseUrl`: a redirect to another origin is
 * refused, not followed; one to the same origin is followed at most MAX_REDIRECTS times.
 */
import type {
  ErrorBody,
  GatherList,
  GatherRequestBody,
  GatherStatus,
  ManagementUrls,
  RecipientResponse,
  ResponsesPage,
  SubmitAccepted,
  TerminateAccepted,
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

/** Same-origin redirects followed for one call before giving up. */
export const MAX_REDIRECTS = 5;

export interface ClientOptions {
  /** The function app, e.g. http://localhost:7071 (no /api). Its origin is the only one the key and bodies go to. */
  baseUrl: string;
  /** A function or host key, sent as `x-functions-key` (to the origin of baseUrl only). */
  key?: string;
  fetch?: typeof fetch;
  /** Per call, redirects included; default 30 s. */
  timeoutMs?: number;
}

/** A non-2xx answer: its status and the API's error body when there is one. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly method: string,
    readonly url: string,
  ) {
    const error = (body as Partial<ErrorBody> | undefined)?.error;
    super(`${method} ${new URL(url).pathname} answered ${status}${error?.message ? `: ${error.message}` : ""}`);
    this.name = "ApiError";
  }

  /** `{ path, message }` of a 400 invalid_request. */
  get details(): Array<{ path: string; message: string }> {
    return (this.body as Partial<ErrorBody> | undefined)?.error?.details ?? [];
  }

  get code(): string | undefined {
    return (this.body as Partial<ErrorBody> | undefined)?.error?.code;
  }
}

/** Why an answer was not used: a redirect refused or not followed. */
export type AnswerProblem = "redirect";

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
  /** Called with every status read, the last (terminal) one included. */
  onProgress?: (status: GatherStatus) => void | Promise<void>;
  signal?: AbortSignal;
}

/** The statuses of a redirect (fetch's "redirect status"). */
const REDIRECT_STATUSES: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);

interface Exchange {
  status: number;
  ok: boolean;
  method: string;
  /** The URL that gave this answer (after any same-origin redirect). */
  url: string;
  text: string;
}

export class ScatterGatherClient {
  readonly baseUrl: string;
  /** The origin of baseUrl: the only one the key and request bodies are sent to. */
  readonly origin: string;
  private readonly key?: string;
  private readonly fetchImpl: typeof fetch;
  private readonly timeoutMs: number;

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
  }

  /** POST /api/scatter-gather → the management URLs (202). A 409 (id running) is an ApiError with them in `body`. */
  start(body: GatherRequestBody | Record<string, unknown>): Promise<ManagementUrls> {
    return this.call("POST", "/api/scatter-gather", body);
  }

  /** GET /api/scatter-gather/{id}. */
  get(id: string): Promise<GatherStatus> {
    return this.call("GET", this.gatherPath(id));
  }

  /** GET /api/scatter-gather/{id}/responses, one page. */
  responses(id: string, query: ResponsesQuery = {}): Promise<ResponsesPage> {
    return this.call(
      "GET",
      `${this.gatherPath(id)}/responses${search({ offset: query.offset, limit: query.limit, status: query.status })}`,
    );
  }

  /** Every response (following the pages), optionally of one status. */
  async allResponses(id: string, query: Omit<ResponsesQuery, "offset"> = {}): Promise<ResponsesPage["items"]> {
    const items: ResponsesPage["items"] = [];
    let offset = 0;
    for (;;) {
      const page = await this.responses(id, { ...query, offset });
      items.push(...page.items);
      if (page.nextUri === null || page.items.length === 0) return items;
      offset = page.offset + page.items.length;
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
    );
  }

  /** POST /api/scatter-gather/{id}/terminate. */
  terminate(id: string, reason?: string): Promise<TerminateAccepted> {
    return this.call("POST", `${this.gatherPath(id)}/terminate${search({ reason })}`);
  }

  /** DELETE /api/scatter-gather/{id} (204). */
  async delete(id: string): Promise<void> {
    await this.call("DELETE", this.gatherPath(id));
  }

  /** POST /api/scatter-gather/{id}/responses: an auction answer. */
  submit(id: string, answer: { responder: string; value: unknown }): Promise<SubmitAccepted> {
    return this.call("POST", `${this.gatherPath(id)}/responses`, answer);
  }

  /** GET /api/openapi.json. */
  openapi(): Promise<Record<string, unknown>> {
    return this.call("GET", "/api/openapi.json");
  }

  /** Polls GET /api/scatter-gather/{id} until the gather is Completed, Failed, Terminated or Canceled. */
  async waitFor(id: string, options: WaitOptions = {}): Promise<GatherStatus> {
    const interval = options.intervalMs ?? 500;
    const until = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs;
    for (;;) {
      options.signal?.throwIfAborted();
      const status = await this.get(id);
      await options.onProgress?.(status);
      if (TERMINAL_STATUSES.has(status.runtimeStatus)) return status;
      if (Date.now() > until) throw new Error(`scatter-gather ${id} is still ${status.runtimeStatus} after ${options.timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, interval));
    }
  }

  private gatherPath(id: string): string {
    return `/api/scatter-gather/${encodeURIComponent(id)}`;
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const { ok, status, method: verb, url, text } = await this.exchange(method, path, body);
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = text;
    }
    if (!ok) throw new ApiError(status, parsed, verb, url);
    return parsed as T;
  }

  /**
   * Sends the request to the origin of baseUrl, never anywhere else: redirects are not followed by fetch
   * (`redirect: "manual"`); one to the same origin is followed here (at most MAX_REDIRECTS, with fetch's
   * method rules), one to another origin is an AnswerError, so neither the key nor the body leaves the
   * origin the client was given.
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
      const res = await this.fetchImpl(url, { method: verb, headers, body: payload, redirect: "manual", signal });
      if (!REDIRECT_STATUSES.has(res.status)) {
        const text = await res.text();
        return { status: res.status, ok: res.ok, method: verb, url, text };
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

function search(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value !== undefined && value !== "") q.set(name, String(value));
  const s = q.toString();
  return s ? `?${s}` : "";
}
