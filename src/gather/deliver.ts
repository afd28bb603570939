/**
 * Delivering the request to one recipient (what callRecipient does): an HTTP call with a per-attempt
 * timeout, a capped streamed body, no redirects and the allowlist checked again; or a simulation.
 * Every failure is a RecipientError with a short reason; the caller decides about retries.
 */
import { UrlAllowlist } from "./allowlist";
import { readAtMost } from "./streams";
import { findJsonProblem, MAX_JSON_DEPTH } from "./json";
import { FORBIDDEN_HEADER_NAMES } from "./schema";
import type { Json, Recipient, SimulatedRecipient, UrlRecipient } from "./types";

/** One attempt to deliver the gather's request to one recipient. */
export interface Delivery {
  requestId: string;
  recipient: Recipient;
  request: Json;
}

export class RecipientError extends Error {
  override readonly name = "RecipientError";
}

export interface DeliveryOptions {
  maxResponseBytes: number;
  allowlist: UrlAllowlist;
  /** For simulations; injectable so tests can be exact. */
  random?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Aborted when the gather closed meanwhile (see closing.ts): the call ends at once. */
  cancel?: AbortSignal;
}

const CANCELLED = "cancelled: the gather closed before this call finished";

const defaultSleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => (clearTimeout(timer), reject(new RecipientError(CANCELLED))), { once: true });
  });

export async function deliver(input: Delivery, options: DeliveryOptions): Promise<{ value: Json; durationMs: number }> {
  if (options.cancel?.aborted) throw new RecipientError(CANCELLED);
  const started = performance.now();
  const { recipient } = input;
  const value = "simulate" in recipient ? await simulate(recipient, options) : await callUrl(recipient, input, options);
  return { value, durationMs: Math.round(performance.now() - started) };
}

async function simulate(recipient: SimulatedRecipient, options: DeliveryOptions): Promise<Json> {
  const { latencyMs, failureRate, value } = recipient.simulate;
  if (latencyMs > 0) await (options.sleep ?? defaultSleep)(latencyMs, options.cancel);
  if (failureRate > 0 && (options.random ?? Math.random)() < failureRate) {
    throw new RecipientError(`simulated failure (failureRate ${failureRate})`);
  }
  return value;
}

function callUrl(recipient: UrlRecipient, input: Delivery, options: DeliveryOptions): Promise<Json> {
  const body = { requestId: input.requestId, recipientId: recipient.id, request: input.request };
  return sendJson(recipient, body, options, true);
}

/** An auction notification: delivered once, any 2xx counts, the answer's body is not used. */
export async function notify(url: string, body: Json, options: DeliveryOptions & { timeoutMs?: number }): Promise<void> {
  await sendJson({ url, method: "POST", timeoutMs: options.timeoutMs ?? 10_000 }, body, options, false);
}

async function sendJson(
  target: Pick<UrlRecipient, "url" | "method" | "headers" | "timeoutMs">,
  body: unknown,
  options: DeliveryOptions,
  expectJson: boolean,
): Promise<Json> {
  // Checked again here: the allowlist may have changed since the request was accepted.
  if (!options.allowlist.allows(target.url)) {
    throw new RecipientError(`URL origin is not in RECIPIENT_URL_ALLOWLIST`);
  }
  const timeout = AbortSignal.timeout(target.timeoutMs);
  const signal = options.cancel ? AbortSignal.any([timeout, options.cancel]) : timeout;
  try {
    const response = await fetch(target.url, {
      method: target.method,
      headers: requestHeaders(target.headers),
      body: JSON.stringify(body),
      redirect: "manual",
      signal,
    });
    if (response.status >= 300 && response.status < 400) {
      await response.body?.cancel();
      throw new RecipientError(`HTTP ${response.status} redirect not followed`);
    }
    if (response.status < 200 || response.status >= 300) {
      await response.body?.cancel();
      throw new RecipientError(`HTTP ${response.status}`);
    }
    if (!expectJson) {
      await response.body?.cancel();
      return null;
    }
    const text = await readCapped(response, options.maxResponseBytes);
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
    return value;
  } catch (error) {
    if (error instanceof RecipientError) throw error;
    if (options.cancel?.aborted) throw new RecipientError(CANCELLED);
    if (timeout.aborted) throw new RecipientError(`timed out after ${target.timeoutMs} ms`);
    throw new RecipientError(describeNetworkError(error));
  }
}

/**
 * The recipient's own headers, then ours: Content-Type and Accept are always JSON (set, not merged
 * with a recipient's own of any case). Framing and hop-by-hop names are refused at validation and
 * dropped here too, for requests accepted before that rule.
 */
export function requestHeaders(own: Record<string, string> | undefined): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(own ?? {})) {
    if (!FORBIDDEN_HEADER_NAMES.has(name.toLowerCase())) headers.append(name, value);
  }
  headers.set("content-type", "application/json");
  headers.set("accept", "application/json");
  return headers;
}

async function readCapped(response: Response, maxBytes: number): Promise<string> {
  const declared = Number(response.headers.get("content-length"));
  if (Number.isFinite(declared) && declared > maxBytes) {
    await response.body?.cancel();
    throw new RecipientError(`response body larger than ${maxBytes} bytes`);
  }
  const bytes = await readAtMost(response.body, maxBytes);
  if (!bytes) throw new RecipientError(`response body larger than ${maxBytes} bytes`);
  try {
    // fatal: bytes that are not UTF-8 fail the attempt instead of becoming U+FFFD in the value.
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new RecipientError("response body is not valid UTF-8");
  }
}

function describeNetworkError(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } })?.cause;
  switch (cause?.code) {
    case "ECONNREFUSED":
      return "connection refused";
    case "ECONNRESET":
    case "UND_ERR_SOCKET":
      return "connection reset";
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return "host not found";
  }
  return cause?.message ?? (error instanceof Error ? error.message : String(error));
}
