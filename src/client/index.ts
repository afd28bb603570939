/**
 * A typed, fetch-based client of the Scatter-Gather HTTP API (API.md, GET /api/openapi.json).
 * Its types come from the zod schemas the OpenAPI document is generated from (src/openapi/schemas.ts),
 * imported as types only: at run time this module needs nothing but `fetch`.
 *
 *   const client = new ScatterGatherClient({ baseUrl: "http://localhost:7071", key: "<function key>" });
 *   const { id } = await client.start({ request: {}, recipients: [{ id: "a", simulate: { value: 1 } }] });
 *   const done = await client.waitFor(id, { onProgress: (s) => console.log(s.progress) });
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

export interface ClientOptions {
  /** The function app, e.g. http://localhost:7071 (no /api). */
  baseUrl: string;
  /** A function or host key, sent as `x-functions-key`. */
  key?: string;
  fetch?: typeof fetch;
  /** Per request; default 30 s. */
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

export class ScatterGatherClient {
  readonly baseUrl: string;
  private readonly key?: string;
  private readonly fetchImpl: typeof fetch;
  private readonly timeoutMs: number;

  constructor(options: ClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
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
    const url = `${this.baseUrl}${path}`;
    const headers: Record<string, string> = { accept: "application/json" };
    if (this.key) headers["x-functions-key"] = this.key;
    if (body !== undefined) headers["content-type"] = "application/json";
    const res = await this.fetchImpl(url, {
      method,
      headers,
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = text;
    }
    if (!res.ok) throw new ApiError(res.status, parsed, method, url);
    return parsed as T;
  }
}

function search(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value !== undefined && value !== "") q.set(name, String(value));
  const s = q.toString();
  return s ? `?${s}` : "";
}
