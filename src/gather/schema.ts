/**
 * The POST /api/scatter-gather body: its schema (zod) and the cross-field rules of docs/api.md, producing
 * either a typed GatherRequest or every problem with its path (`recipients[2].url`).
 */
import { z } from "zod";
import { UrlAllowlist } from "./allowlist";
import { findJsonProblem } from "./json";
import type { Limits } from "./limits";
import type { AuctionAnswer, GatherRequest, Json } from "./types";

export interface ErrorDetail {
  path: string;
  message: string;
}

export type Validation<T> = { ok: true; value: T } | { ok: false; details: ErrorDetail[] };

export const ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;
/**
 * Instance ids: the recipient-id alphabet, at most 100 characters (the Durable backends' limit), and not
 * only dots: `.` and `..` are path segments URL resolution would collapse in the management URLs.
 */
export const INSTANCE_ID_PATTERN = /^(?!\.+$)[A-Za-z0-9._:-]{1,100}$/;
const INSTANCE_ID_RULE = "must be 1-100 characters of A-Z a-z 0-9 . _ : -, not only dots";

/** Whether a route's `{id}` can name an instance at all (anything else is a 404, never a lookup). */
export function isInstanceId(id: unknown): id is string {
  return typeof id === "string" && INSTANCE_ID_PATTERN.test(id);
}
/** An HTTP header name: a token (RFC 9110 §5.1). */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** A header value must not end the header line or the header block early. */
const HEADER_VALUE_FORBIDDEN = /[\r\n\0]/;
/**
 * Names a recipient may not set: hop-by-hop and message-framing headers, which would let the request
 * smuggle a second message or break the connection. Content-Type and Accept are ours (JSON) anyway.
 */
export const FORBIDDEN_HEADER_NAMES: ReadonlySet<string> = new Set([
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
const MAX_LATENCY_MS = 600_000;
const MAX_DEADLINE_MS = 604_800_000;
const MAX_ATTEMPT_TIMEOUT_MS = 600_000;
/** retry.maxAttempts ceiling; the per-gather budget (MAX_ATTEMPTS_PER_GATHER) applies on top. */
export const MAX_ATTEMPTS = 10;

const jsonValue = z.unknown().refine((v) => v !== undefined, { error: "is required (any JSON value, null included)" });
const optionalJson = z.unknown().optional();
const int = (min: number, max: number) =>
  z
    .number({ error: "must be a number" })
    .int({ error: "must be a whole number" })
    .min(min, { error: `must be at least ${min}` })
    .max(max, { error: `must be at most ${max}` });
const httpUrl = z.string({ error: "must be a string" }).refine(
  (v) => {
    try {
      const u = new URL(v);
      return u.protocol === "http:" || u.protocol === "https:";
    } catch {
      return false;
    }
  },
  { error: "must be an absolute http or https URL" },
);
const recipientId = z.string({ error: "must be a string" }).regex(ID_PATTERN, { error: "must be 1-128 characters of A-Z a-z 0-9 . _ : -" });

const recipientSchema = z.strictObject({
  id: recipientId,
  url: httpUrl.optional(),
  method: z.enum(["POST", "PUT"], { error: 'must be "POST" or "PUT"' }).optional(),
  headers: z.record(z.string(), z.string({ error: "header values must be strings" }), { error: "must be an object of string values" }).optional(),
  timeoutMs: int(1, MAX_ATTEMPT_TIMEOUT_MS).optional(),
  simulate: z
    .strictObject({
      latencyMs: int(0, MAX_LATENCY_MS).optional(),
      failureRate: z.number({ error: "must be a number" }).min(0, { error: "must be between 0 and 1" }).max(1, { error: "must be between 0 and 1" }).optional(),
      value: optionalJson,
    }, { error: "must be an object" })
    .optional(),
}, { error: "must be an object" });

const completionSchema = z.strictObject({
  mode: z.enum(["all", "first", "quorum"], { error: 'must be "all", "first" or "quorum"' }).optional(),
  quorum: int(1, Number.MAX_SAFE_INTEGER).optional(),
  agree: z.boolean({ error: "must be true or false" }).optional(),
  timeoutMs: int(1, MAX_DEADLINE_MS).optional(),
}, { error: "must be an object" });

const aggregateSchema = z.strictObject({
  kind: z.enum(["collect", "best", "summary", "vote"], { error: 'must be "collect", "best", "summary" or "vote"' }).optional(),
  field: z.string({ error: "must be a string" }).regex(/^[^.]+(\.[^.]+)*$/, { error: "must be a dot path like quote.price" }).optional(),
  order: z.enum(["min", "max"], { error: 'must be "min" or "max"' }).optional(),
}, { error: "must be an object" });

const retrySchema = z.strictObject({
  maxAttempts: int(1, MAX_ATTEMPTS),
  firstRetryIntervalMs: int(1, MAX_DEADLINE_MS).optional(),
  backoffCoefficient: z.number({ error: "must be a number" }).min(1, { error: "must be at least 1" }).max(100, { error: "must be at most 100" }).optional(),
  maxRetryIntervalMs: int(1, MAX_DEADLINE_MS).optional(),
}, { error: "must be an object" });

const auctionSchema = z.strictObject({
  notify: z.array(httpUrl, { error: "must be an array of URLs" }).max(100, { error: "must have at most 100 URLs" }).optional(),
  expected: int(1, Number.MAX_SAFE_INTEGER).optional(),
}, { error: "must be an object" });

const bodySchema = z.strictObject({
  id: z.string({ error: "must be a string" }).regex(INSTANCE_ID_PATTERN, { error: INSTANCE_ID_RULE }).optional(),
  request: jsonValue,
  recipients: z.array(recipientSchema, { error: "must be an array" }).optional(),
  completion: completionSchema.optional(),
  aggregate: aggregateSchema.optional(),
  retry: retrySchema.optional(),
  auction: auctionSchema.optional(),
}, { error: "the body must be a JSON object" });

/** `recipients[2].url` from zod's ["recipients", 2, "url"]. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = "";
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else out += out === "" ? String(part) : `.${String(part)}`;
  }
  return out;
}

function zodDetails(error: z.ZodError): ErrorDetail[] {
  return error.issues.map((issue) => {
    if (issue.code === "unrecognized_keys") {
      const base = formatPath(issue.path);
      return issue.keys.length === 1
        ? { path: base ? `${base}.${issue.keys[0]}` : issue.keys[0], message: "is not a known field" }
        : { path: base, message: `unknown fields: ${issue.keys.join(", ")}` };
    }
    return { path: formatPath(issue.path), message: issue.message };
  });
}

function checkHeaders(at: string, headers: Record<string, string>, problem: (path: string, message: string) => void): void {
  const seen = new Set<string>();
  for (const [name, value] of Object.entries(headers)) {
    const path = `${at}.${name}`;
    const lower = name.toLowerCase();
    if (!HEADER_NAME.test(name)) problem(path, "is not a valid HTTP header name (letters, digits and !#$%&'*+-.^_`|~ only)");
    else if (FORBIDDEN_HEADER_NAMES.has(lower)) problem(path, "is a hop-by-hop or framing header and cannot be set");
    else if (seen.has(lower)) problem(path, "repeats a header name (names are case-insensitive)");
    if (HEADER_VALUE_FORBIDDEN.test(value)) problem(path, "the value must not contain CR, LF or NUL");
    seen.add(lower);
  }
}

/** Validates a parsed JSON body against docs/api.md, with the limits and allowlist in force. */
export function validateGatherRequest(body: unknown, limits: Limits): Validation<GatherRequest> {
  const shape = findJsonProblem(body);
  if (shape) return { ok: false, details: [{ path: shape.path, message: shape.message }] };
  const parsed = bodySchema.safeParse(body);
  if (!parsed.success) return { ok: false, details: zodDetails(parsed.error) };
  const raw = parsed.data;
  const details: ErrorDetail[] = [];
  const problem = (path: string, message: string) => details.push({ path, message });
  const allowlist = new UrlAllowlist(limits.recipientUrlAllowlist);
  const checkUrl = (path: string, url: string) => {
    if (!allowlist.allows(url)) problem(path, `origin is not in RECIPIENT_URL_ALLOWLIST ${allowlist.describe()}`);
  };

  if (raw.recipients && raw.auction) problem("auction", "give either recipients or auction, not both");
  if (!raw.recipients && !raw.auction) problem("recipients", "is required (or auction)");

  const recipients: GatherRequest["recipients"] = [];
  if (raw.recipients) {
    if (raw.recipients.length === 0) problem("recipients", "must have at least one recipient");
    if (raw.recipients.length > limits.maxRecipients) problem("recipients", `must have at most ${limits.maxRecipients} recipients (MAX_RECIPIENTS)`);
    const seen = new Set<string>();
    raw.recipients.forEach((r, i) => {
      const at = `recipients[${i}]`;
      if (seen.has(r.id)) problem(`${at}.id`, `duplicate recipient id "${r.id}"`);
      seen.add(r.id);
      if ((r.url === undefined) === (r.simulate === undefined)) {
        problem(at, "must have exactly one of url or simulate");
        return;
      }
      if (r.url !== undefined) {
        checkUrl(`${at}.url`, r.url);
        if (r.headers) checkHeaders(`${at}.headers`, r.headers, problem);
        recipients.push({ id: r.id, url: r.url, method: r.method ?? "POST", ...(r.headers ? { headers: r.headers } : {}), timeoutMs: r.timeoutMs ?? 10_000 });
      } else {
        for (const key of ["method", "headers", "timeoutMs"] as const) {
          if (r[key] !== undefined) problem(`${at}.${key}`, "applies to URL recipients only");
        }
        const s = r.simulate!;
        recipients.push({ id: r.id, simulate: { latencyMs: s.latencyMs ?? 0, failureRate: s.failureRate ?? 0, value: (s.value ?? null) as Json } });
      }
    });
  }

  const completion = raw.completion ?? {};
  const mode = completion.mode ?? "all";
  const population = raw.recipients?.length ?? raw.auction?.expected;
  if (mode === "quorum") {
    if (completion.quorum === undefined) problem("completion.quorum", 'is required with mode "quorum"');
    else if (population !== undefined && completion.quorum > population) {
      problem("completion.quorum", `must be at most ${population} (the number of ${raw.recipients ? "recipients" : "expected answers"})`);
    } else if (population === undefined && completion.quorum > limits.maxRecipients) {
      problem("completion.quorum", `must be at most ${limits.maxRecipients}`);
    }
  } else {
    if (completion.quorum !== undefined) problem("completion.quorum", 'applies to mode "quorum" only');
    if (completion.agree !== undefined) problem("completion.agree", 'applies to mode "quorum" only');
  }

  const aggregate = raw.aggregate ?? {};
  const kind = aggregate.kind ?? "collect";
  if ((kind === "best" || kind === "summary") && aggregate.field === undefined) problem("aggregate.field", `is required for kind "${kind}"`);
  if (kind === "collect" && aggregate.field !== undefined) problem("aggregate.field", 'does not apply to kind "collect"');
  if (kind !== "best" && aggregate.order !== undefined) problem("aggregate.order", 'applies to kind "best" only');

  if (raw.recipients) {
    // Every attempt is one outbound call (or one simulated answer): bound what one request can cause.
    const attempts = raw.retry?.maxAttempts ?? 1;
    const planned = raw.recipients.length * attempts;
    if (planned > limits.maxAttemptsPerGather) {
      problem(
        raw.retry ? "retry.maxAttempts" : "recipients",
        `${raw.recipients.length} recipients × ${attempts} attempts = ${planned} attempts, more than MAX_ATTEMPTS_PER_GATHER (${limits.maxAttemptsPerGather}) allows`,
      );
    }
  }

  if (raw.auction) {
    if (completion.timeoutMs === undefined) problem("completion.timeoutMs", "is required in auction mode");
    if (raw.retry) problem("retry", "does not apply in auction mode");
    if (raw.auction.expected !== undefined && raw.auction.expected > limits.maxRecipients) {
      problem("auction.expected", `must be at most ${limits.maxRecipients} (MAX_RECIPIENTS)`);
    }
    raw.auction.notify?.forEach((url, i) => checkUrl(`auction.notify[${i}]`, url));
  }

  if (details.length > 0) return { ok: false, details };
  return {
    ok: true,
    value: {
      ...(raw.id !== undefined ? { id: raw.id } : {}),
      request: raw.request as Json,
      ...(raw.recipients ? { recipients } : {}),
      ...(raw.auction ? { auction: { notify: raw.auction.notify ?? [], ...(raw.auction.expected !== undefined ? { expected: raw.auction.expected } : {}) } } : {}),
      completion: {
        mode,
        ...(completion.quorum !== undefined ? { quorum: completion.quorum } : {}),
        agree: completion.agree ?? false,
        ...(completion.timeoutMs !== undefined ? { timeoutMs: completion.timeoutMs } : {}),
      },
      aggregate: { kind, ...(aggregate.field !== undefined ? { field: aggregate.field } : {}), order: aggregate.order ?? "min" },
      ...(raw.retry
        ? {
            retry: {
              maxAttempts: raw.retry.maxAttempts,
              firstRetryIntervalMs: raw.retry.firstRetryIntervalMs ?? 1000,
              backoffCoefficient: raw.retry.backoffCoefficient ?? 1,
              ...(raw.retry.maxRetryIntervalMs !== undefined ? { maxRetryIntervalMs: raw.retry.maxRetryIntervalMs } : {}),
            },
          }
        : {}),
    },
  };
}

const answerSchema = z.strictObject({
  responder: recipientId,
  value: jsonValue,
}, { error: "the body must be a JSON object" });

/** An auction answer: `{ "responder": "name", "value": <JSON> }`. */
export function validateAuctionAnswer(body: unknown): Validation<AuctionAnswer> {
  // Also for answers raised through sendEventPostUri, which bypass submitResponse.
  const shape = findJsonProblem(body);
  if (shape) return { ok: false, details: [{ path: shape.path, message: shape.message }] };
  const parsed = answerSchema.safeParse(body);
  if (!parsed.success) return { ok: false, details: zodDetails(parsed.error) };
  return { ok: true, value: { responder: parsed.data.responder, value: parsed.data.value as Json } };
}

/** The zod schemas themselves, for the OpenAPI document (src/openapi): generated, so it cannot drift. */
export { bodySchema as gatherRequestSchema, answerSchema as auctionAnswerSchema };
