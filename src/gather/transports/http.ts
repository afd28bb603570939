/**
 * URL recipients (`{ id, url, method?, headers?, timeoutMs? }`): the request POSTed (or PUT) as JSON with
 * a per-attempt timeout, a capped streamed body, no redirects and the allowlist checked again.
 * Also sendJson, which auction notifications (deliver.ts notify) share.
 */
import { z } from "zod";
import { request, type Dispatcher } from "undici";
import { withRetryAfter } from "../failures";
import { findJsonProblem, MAX_JSON_DEPTH } from "../json";
import { parseRetryAfter } from "../retryAfter";
import { readAtMost } from "../streams";
import { httpUrl, int } from "../fields";
import type { Json } from "../spec";
import {
  CANCELLED,
  defineTransport,
  httpStatusOf,
  RecipientError,
  type DeliveryOptions,
  type ReceivedAnswer,
  type RecipientBase,
} from "./transport";

export interface HttpRecipient extends RecipientBase {
  url: string;
  method: "POST" | "PUT";
  headers?: Record<string, string>;
  /** Per attempt. */
  timeoutMs: number;
  /** "callback": the call only delivers (any 2xx acknowledges); the answer comes later to the delivery's respondUrl. */
  reply?: "callback";
}

const MAX_ATTEMPT_TIMEOUT_MS = 600_000;
const DEFAULT_TIMEOUT_MS = 10_000;
/** An HTTP header name: a token (RFC 9110 §5.1). */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/**
 * A header value: visible ASCII, space and tab only. CR, LF and NUL would end the header line or block early;
 * other controls and non-ASCII text are refused by the HTTP client (undici: "invalid header"), so a start
 * that took them would then fail every call.
 */
const HEADER_VALUE = /^[\t\x20-\x7e]*$/;
/**
 * Names a recipient may not set: hop-by-hop and message-framing headers, which would let the request
 * smuggle a second message or break the connection. Content-Type and Accept are ours (JSON) anyway.
 */
const FORBIDDEN_HEADER_NAMES: ReadonlySet<string> = new Set([
  "connection",
  "content-length",
  "expect",
  "host",
  "keep-alive",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

export const httpTransport = defineTransport({
  name: "http",
  marker: "url",
  label: "URL",
  fields: {
    url: httpUrl.optional(),
    method: z.enum(["POST", "PUT"], { error: 'must be "POST" or "PUT"' }).optional(),
    headers: z
      .record(z.string(), z.string({ error: "header values must be strings" }), { error: "must be an object of string values" })
      .optional(),
    timeoutMs: int(1, MAX_ATTEMPT_TIMEOUT_MS).optional(),
    reply: z.enum(["callback"], { error: 'must be "callback" (the recipient answers later, to respondUrl)' }).optional(),
  },
  normalize(raw, at, context): HttpRecipient {
    const url = raw.url!;
    context.checkUrl(`${at}.url`, url);
    if (raw.headers) checkHeaders(`${at}.headers`, raw.headers, context.problem);
    return {
      id: raw.id,
      url,
      method: raw.method ?? "POST",
      ...(raw.headers ? { headers: raw.headers } : {}),
      timeoutMs: raw.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      ...(raw.reply ? { reply: raw.reply } : {}),
    };
  },
  async deliver({ requestId, recipient, request, reply }, options) {
    // `input` only when given: a recipient tells "no input" from an input of null.
    const input = recipient.input !== undefined ? { input: recipient.input } : {};
    const body = { requestId, recipientId: recipient.id, request, ...input };
    if (recipient.reply !== "callback") return sendJson(recipient, JSON.stringify(body), options, true);
    if (!reply) throw new Error(`callback recipient "${recipient.id}" delivered without a reply channel`);
    // Any 2xx acknowledges; the answer comes to respondUrl (its body, if any, is not read).
    await sendJson(recipient, JSON.stringify({ ...body, respondUrl: reply.respondUrl }), options, false);
    return { value: null, acknowledged: true };
  },
  repliesLater(recipient) {
    return recipient.reply === "callback";
  },
  dependency(recipient, { error }) {
    const url = safeUrl(recipient.url);
    const method = (recipient.method ?? "POST").toUpperCase();
    const status = httpStatusOf(error);
    return {
      name: `${method} ${url?.pathname ?? ""}`,
      type: "HTTP",
      // Origin only: no query string or credentials in telemetry.
      target: url?.origin ?? "",
      data: url ? `${url.origin}${url.pathname}` : "",
      resultCode: status !== undefined ? String(status) : 0,
      // http.method makes the exporter classify the span as an HTTP dependency.
      properties: { "http.method": method },
    };
  },
  origin(recipient) {
    return safeUrl(recipient.url)?.origin;
  },
});

function checkHeaders(at: string, headers: Record<string, string>, problem: (path: string, message: string) => void): void {
  const seen = new Set<string>();
  for (const [name, value] of Object.entries(headers)) {
    const path = `${at}.${name}`;
    const lower = name.toLowerCase();
    if (!HEADER_NAME.test(name)) problem(path, "is not a valid HTTP header name (letters, digits and !#$%&'*+-.^_`|~ only)");
    else if (FORBIDDEN_HEADER_NAMES.has(lower)) problem(path, "is a hop-by-hop or framing header and cannot be set");
    else if (seen.has(lower)) problem(path, "repeats a header name (names are case-insensitive)");
    if (!HEADER_VALUE.test(value))
      problem(path, "the value must be visible ASCII, space or tab (no CR, LF, NUL or other controls, nothing above U+007E)");
    seen.add(lower);
  }
}

/**
 * Sends `bodyJson` (a body already serialized, so that a caller who signs it signs the bytes sent); with
 * `expectJson`, a 2xx answer's JSON body is the value, else any 2xx is null.
 * undici's request(), not fetch(): a quarter of fetch's CPU per call (no WHATWG streams), which is
 * what a fan-out to thousands of URLs spends its time on. It follows no redirect.
 */
export async function sendJson(
  target: Pick<HttpRecipient, "url" | "method" | "headers" | "timeoutMs"> & { contentType?: string },
  bodyJson: string,
  options: DeliveryOptions,
  expectJson: boolean,
): Promise<ReceivedAnswer> {
  // Checked again here: the allowlist may have changed since the request was accepted.
  if (!options.allowlist.allows(target.url)) {
    throw new RecipientError(`URL origin is not in RECIPIENT_URL_ALLOWLIST`);
  }
  // One controller, a plain timer and a listener, all released at the end: AbortSignal.timeout/any
  // track their signals with weak references, which every garbage collection of a busy fan-out walks.
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, target.timeoutMs);
  const cancel = () => controller.abort();
  if (options.cancel?.aborted) controller.abort();
  else options.cancel?.addEventListener("abort", cancel, { once: true });
  const signal = controller.signal;
  try {
    // The signal covers the whole exchange: an answer whose body stalls times out too.
    const response = await request(target.url, {
      method: target.method,
      headers: requestHeaders(target.headers, target.contentType),
      body: bodyJson,
      signal,
    });
    const status = response.statusCode;
    if (status < 200 || status >= 300 || !expectJson) {
      // dump(), not destroy(): a body destroyed unread emits an error nobody listens to.
      await response.body.dump();
      if (status >= 300 && status < 400) throw new RecipientError(`HTTP ${status} redirect not followed`);
      if (status < 200 || status >= 300) throw new RecipientError(statusFailure(status, response.headers["retry-after"]));
      return { value: null, status };
    }
    const { text, bytes } = await readCapped(response, options.maxResponseBytes);
    let value: Json;
    try {
      value = JSON.parse(text) as Json;
    } catch {
      throw new RecipientError("response body is not JSON");
    }
    // What could not be passed on faithfully is a failed attempt, not a silently changed value.
    const problem = findJsonProblem(value);
    if (problem?.kind === "too-deep") throw new RecipientError(`response body nested deeper than ${MAX_JSON_DEPTH} levels`);
    if (problem?.kind === "non-finite") throw new RecipientError("response body has a number out of range");
    // The bytes as received are valid JSON for exactly this value, less a UTF-8 byte order mark (the
    // decoder skipped it, JSON does not allow it); kept when they are one line.
    const json = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? bytes.subarray(3) : bytes;
    return json.includes(LF) || json.includes(CR) ? { value } : { value, json };
  } catch (error) {
    if (error instanceof RecipientError) throw error;
    if (options.cancel?.aborted) throw new RecipientError(CANCELLED);
    if (timedOut) throw new RecipientError(`timed out after ${target.timeoutMs} ms`);
    throw new RecipientError(describeNetworkError(error));
  } finally {
    clearTimeout(timer);
    options.cancel?.removeEventListener("abort", cancel);
  }
}

/** `HTTP 503`; for 429 and 503 with a usable Retry-After, the wait it asks for too (the orchestrator honours it). */
function statusFailure(status: number, retryAfter: string | string[] | undefined): string {
  const wait = status === 429 || status === 503 ? parseRetryAfter(retryAfter, Date.now()) : undefined;
  return wait === undefined ? `HTTP ${status}` : withRetryAfter(`HTTP ${status}`, wait);
}

/**
 * The recipient's own headers, then ours: Content-Type (JSON, or the caller's JSON type such as CloudEvents')
 * and Accept are always JSON (set, not merged
 * with a recipient's own of any case). Framing and hop-by-hop names are refused at validation and
 * dropped here too, for requests accepted before that rule.
 */
function requestHeaders(own: Record<string, string> | undefined, contentType = "application/json"): Record<string, string> {
  const headers: Record<string, string> = Object.create(null);
  for (const [name, value] of Object.entries(own ?? {})) {
    const lower = name.toLowerCase();
    if (!FORBIDDEN_HEADER_NAMES.has(lower) && lower !== "content-type" && lower !== "accept") headers[lower] = value;
  }
  headers["content-type"] = contentType;
  headers.accept = "application/json";
  return headers;
}

const LF = 0x0a;
const CR = 0x0d;

/** The body (bytes and UTF-8 text), refused past `maxBytes` (declared or streamed) without reading further. */
async function readCapped(response: Dispatcher.ResponseData, maxBytes: number): Promise<{ text: string; bytes: Uint8Array }> {
  const tooLarge = () => new RecipientError(`response body larger than ${maxBytes} bytes`);
  const declared = Number(response.headers["content-length"]);
  if (Number.isFinite(declared) && declared > maxBytes) {
    await response.body.dump(); // larger than its read limit: closed without reading
    throw tooLarge();
  }
  const bytes = await readAtMost(response.body as AsyncIterable<Uint8Array>, maxBytes);
  if (!bytes) throw tooLarge();
  try {
    // fatal: bytes that are not UTF-8 fail the attempt instead of becoming U+FFFD in the value.
    return { text: UTF8.decode(bytes), bytes };
  } catch {
    throw new RecipientError("response body is not valid UTF-8");
  }
}

const UTF8 = new TextDecoder("utf-8", { fatal: true });

/** A short reason for a failed exchange (undici's errors carry the socket's code, or wrap it as cause). */
function describeNetworkError(error: unknown): string {
  const failure = error as { code?: string; cause?: { code?: string; message?: string } };
  switch (failure?.code ?? failure?.cause?.code) {
    case "ECONNREFUSED":
      return "connection refused";
    case "ECONNRESET":
    case "UND_ERR_SOCKET":
      return "connection reset";
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return "host not found";
  }
  return failure?.cause?.message ?? (error instanceof Error ? error.message : String(error));
}

function safeUrl(value: string): URL | undefined {
  try {
    return new URL(value);
  } catch {
    return undefined;
  }
}
