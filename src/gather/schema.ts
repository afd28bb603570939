/**
 * The POST /api/scatter-gather body: its schema (zod) and the cross-field rules of docs/api.md, producing
 * either a typed GatherRequest or every problem with its path (`recipients[2].url`).
 */
import { z } from "zod";
import { QueueAllowlist, UrlAllowlist } from "./allowlist";
import { httpUrl, int, jsonValue, recipientId } from "./fields";
import { INSTANCE_ID_PATTERN, INSTANCE_ID_RULE } from "./instanceIds";
import { findJsonProblem } from "./json";
import { DEFAULT_RETRY_DEADLINE_MS, MAX_GATHER_DEADLINE_MS, type Limits } from "./limits";
import { normalizeRecipient, recipientSchema, repliesLater, type Recipient } from "./transports";
import type { NormalizeContext } from "./transports/transport";
import type { AuctionAnswer, GatherRequest, Json } from "./types";

export interface ErrorDetail {
  path: string;
  message: string;
}

export type Validation<T> = { ok: true; value: T } | { ok: false; details: ErrorDetail[] };

const DEFAULT_FIRST_RETRY_INTERVAL_MS = 1000;
/** retry.maxAttempts ceiling; the per-gather budget (MAX_ATTEMPTS_PER_GATHER) applies on top. */
const MAX_ATTEMPTS = 10;

const completionSchema = z.strictObject(
  {
    mode: z.enum(["all", "first", "quorum"], { error: 'must be "all", "first" or "quorum"' }).optional(),
    quorum: int(1, Number.MAX_SAFE_INTEGER).optional(),
    agree: z.boolean({ error: "must be true or false" }).optional(),
    timeoutMs: int(1, MAX_GATHER_DEADLINE_MS).optional(),
  },
  { error: "must be an object" },
);

const aggregateSchema = z.strictObject(
  {
    kind: z.enum(["collect", "best", "summary", "vote"], { error: 'must be "collect", "best", "summary" or "vote"' }).optional(),
    field: z
      .string({ error: "must be a string" })
      .regex(/^[^.]+(\.[^.]+)*$/, { error: "must be a dot path like quote.price" })
      .optional(),
    order: z.enum(["min", "max"], { error: 'must be "min" or "max"' }).optional(),
  },
  { error: "must be an object" },
);

const retrySchema = z.strictObject(
  {
    maxAttempts: int(1, MAX_ATTEMPTS),
    firstRetryIntervalMs: int(1, MAX_GATHER_DEADLINE_MS).optional(),
    backoffCoefficient: z
      .number({ error: "must be a number" })
      .min(1, { error: "must be at least 1" })
      .max(100, { error: "must be at most 100" })
      .optional(),
    maxRetryIntervalMs: int(1, MAX_GATHER_DEADLINE_MS).optional(),
  },
  { error: "must be an object" },
);

const toleranceSchema = z.strictObject(
  {
    maxFailures: int(0, Number.MAX_SAFE_INTEGER).optional(),
    maxFailurePercent: z
      .number({ error: "must be a number" })
      .min(0, { error: "must be between 0 and 100" })
      .max(100, { error: "must be between 0 and 100" })
      .optional(),
  },
  { error: "must be an object" },
);

const concurrencySchema = z.strictObject(
  {
    maxInFlight: int(1, Number.MAX_SAFE_INTEGER).optional(),
    perOrigin: int(1, Number.MAX_SAFE_INTEGER).optional(),
  },
  { error: "must be an object" },
);

const auctionSchema = z.strictObject(
  {
    notify: z.array(httpUrl, { error: "must be an array of URLs" }).max(100, { error: "must have at most 100 URLs" }).optional(),
    expected: int(1, Number.MAX_SAFE_INTEGER).optional(),
  },
  { error: "must be an object" },
);

const bodySchema = z.strictObject(
  {
    id: z.string({ error: "must be a string" }).regex(INSTANCE_ID_PATTERN, { error: INSTANCE_ID_RULE }).optional(),
    request: jsonValue,
    recipients: z.array(recipientSchema, { error: "must be an array" }).optional(),
    completion: completionSchema.optional(),
    aggregate: aggregateSchema.optional(),
    retry: retrySchema.optional(),
    auction: auctionSchema.optional(),
    onClose: z.strictObject({ url: httpUrl }, { error: "must be an object" }).optional(),
    tolerance: toleranceSchema.optional(),
    concurrency: concurrencySchema.optional(),
  },
  { error: "the body must be a JSON object" },
);

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

/** Validates a parsed JSON body against docs/api.md, with the limits and allowlist in force. */
type RawBody = z.infer<typeof bodySchema>;
/** Records one problem at a path; every check below reports through it. */
type Report = (path: string, message: string) => void;

export function validateGatherRequest(body: unknown, limits: Limits): Validation<GatherRequest> {
  const shape = findJsonProblem(body);
  if (shape) return { ok: false, details: [{ path: shape.path, message: shape.message }] };
  const parsed = bodySchema.safeParse(body);
  if (!parsed.success) return { ok: false, details: zodDetails(parsed.error) };
  const raw = parsed.data;
  const details: ErrorDetail[] = [];
  const problem: Report = (path, message) => details.push({ path, message });
  const allowlist = new UrlAllowlist(limits.recipientUrlAllowlist);
  const checkUrl = (path: string, url: string) => {
    if (!allowlist.allows(url)) problem(path, `origin is not in RECIPIENT_URL_ALLOWLIST ${allowlist.describe()}`);
  };
  const queues = new QueueAllowlist(limits.recipientQueueAllowlist);
  const checkQueue = (path: string, name: string) => {
    if (!queues.allows(name)) problem(path, `queue "${name}" is not in RECIPIENT_QUEUE_ALLOWLIST ${queues.describe()}`);
  };

  if (raw.recipients && raw.auction) problem("auction", "give either recipients or auction, not both");
  if (!raw.recipients && !raw.auction) problem("recipients", "is required (or auction)");
  const recipients = raw.recipients ? checkRecipients(raw.recipients, limits, problem, { checkUrl, checkQueue }) : undefined;
  checkCompletion(raw, limits, problem);
  checkAggregate(raw, problem);
  checkAttemptBudget(raw, limits, problem);
  checkRetryTiming(raw, problem);
  if (raw.tolerance) checkTolerance(raw, problem);
  if (raw.auction) checkAuction(raw, limits, problem, checkUrl);
  if (raw.onClose) checkUrl("onClose.url", raw.onClose.url);
  checkConcurrency(raw, limits, problem);
  if (recipients) checkReplies(raw, recipients, problem);
  if (details.length > 0) return { ok: false, details };
  return { ok: true, value: normalizedRequest(raw, recipients) };
}

function checkRecipients(
  raw: NonNullable<RawBody["recipients"]>,
  limits: Limits,
  problem: Report,
  checks: Omit<NormalizeContext, "problem">,
): Recipient[] {
  if (raw.length === 0) problem("recipients", "must have at least one recipient");
  if (raw.length > limits.maxRecipients) problem("recipients", `must have at most ${limits.maxRecipients} recipients (MAX_RECIPIENTS)`);
  const recipients: Recipient[] = [];
  const seen = new Set<string>();
  raw.forEach((r, i) => {
    const at = `recipients[${i}]`;
    if (seen.has(r.id)) problem(`${at}.id`, `duplicate recipient id "${r.id}"`);
    seen.add(r.id);
    const recipient = normalizeRecipient(r, at, { problem, ...checks });
    if (recipient) recipients.push(recipient);
  });
  return recipients;
}

function checkCompletion(raw: RawBody, limits: Limits, problem: Report): void {
  const completion = raw.completion ?? {};
  const population = raw.recipients?.length ?? raw.auction?.expected;
  if ((completion.mode ?? "all") !== "quorum") {
    if (completion.quorum !== undefined) problem("completion.quorum", 'applies to mode "quorum" only');
    if (completion.agree !== undefined) problem("completion.agree", 'applies to mode "quorum" only');
  } else if (completion.quorum === undefined) {
    problem("completion.quorum", 'is required with mode "quorum"');
  } else if (population !== undefined && completion.quorum > population) {
    problem("completion.quorum", `must be at most ${population} (the number of ${raw.recipients ? "recipients" : "expected answers"})`);
  } else if (population === undefined && completion.quorum > limits.maxRecipients) {
    problem("completion.quorum", `must be at most ${limits.maxRecipients}`);
  }
}

function checkAggregate(raw: RawBody, problem: Report): void {
  const aggregate = raw.aggregate ?? {};
  const kind = aggregate.kind ?? "collect";
  if ((kind === "best" || kind === "summary") && aggregate.field === undefined)
    problem("aggregate.field", `is required for kind "${kind}"`);
  if (kind === "collect" && aggregate.field !== undefined) problem("aggregate.field", 'does not apply to kind "collect"');
  if (kind !== "best" && aggregate.order !== undefined) problem("aggregate.order", 'applies to kind "best" only');
}

/** Every attempt is one outbound call (or one simulated answer): bound what one request can cause. */
function checkAttemptBudget(raw: RawBody, limits: Limits, problem: Report): void {
  if (!raw.recipients) return;
  const attempts = raw.retry?.maxAttempts ?? 1;
  const planned = raw.recipients.length * attempts;
  if (planned > limits.maxAttemptsPerGather) {
    problem(
      raw.retry ? "retry.maxAttempts" : "recipients",
      `${raw.recipients.length} recipients × ${attempts} attempts = ${planned} attempts, more than MAX_ATTEMPTS_PER_GATHER (${limits.maxAttemptsPerGather}) allows`,
    );
  }
}

/** The gather's deadline: the request's, or with `retry` the default one (retries must end somewhere). */
function deadlineOf(raw: RawBody): number | undefined {
  return raw.completion?.timeoutMs ?? (raw.retry ? DEFAULT_RETRY_DEADLINE_MS : undefined);
}

/** A retry wait that could only end after the deadline would never count: refuse settings that make none fit. */
function checkRetryTiming(raw: RawBody, problem: Report): void {
  const deadline = deadlineOf(raw);
  if (!raw.retry || deadline === undefined) return;
  const first = raw.retry.firstRetryIntervalMs ?? DEFAULT_FIRST_RETRY_INTERVAL_MS;
  if (first >= deadline) {
    const given = raw.retry.firstRetryIntervalMs === undefined ? ` (the default, ${first})` : "";
    problem(
      "retry.firstRetryIntervalMs",
      `must be less than the deadline, completion.timeoutMs (${deadline})${given}: no retry could start before the gather closes`,
    );
  }
}

/** A recipient that answers later is waited for until the deadline: there must be one, given by the request. */
function checkReplies(raw: RawBody, recipients: readonly Recipient[], problem: Report): void {
  const first = recipients.findIndex(repliesLater);
  if (first >= 0 && raw.completion?.timeoutMs === undefined)
    problem(
      "completion.timeoutMs",
      `is required when a recipient answers later (recipients[${first}] "${recipients[first].id}" replies to respondUrl or the reply queue): it is waited for until the deadline`,
    );
}

/** Either bound or both; maxFailures counts recipients, so it cannot be more than there are. */
function checkTolerance(raw: RawBody, problem: Report): void {
  const tolerance = raw.tolerance!;
  if (raw.auction) problem("tolerance", "does not apply in auction mode");
  if (tolerance.maxFailures === undefined && tolerance.maxFailurePercent === undefined) {
    problem("tolerance", "give maxFailures, maxFailurePercent or both");
  }
  const recipients = raw.recipients?.length;
  if (recipients !== undefined && tolerance.maxFailures !== undefined && tolerance.maxFailures > recipients) {
    problem("tolerance.maxFailures", `must be at most ${recipients} (the number of recipients)`);
  }
}

function checkAuction(raw: RawBody, limits: Limits, problem: Report, checkUrl: (path: string, url: string) => void): void {
  const auction = raw.auction!;
  if (raw.completion?.timeoutMs === undefined) problem("completion.timeoutMs", "is required in auction mode");
  if (raw.retry) problem("retry", "does not apply in auction mode");
  if (auction.expected !== undefined && auction.expected > limits.maxRecipients) {
    problem("auction.expected", `must be at most ${limits.maxRecipients} (MAX_RECIPIENTS)`);
  }
  auction.notify?.forEach((url, i) => checkUrl(`auction.notify[${i}]`, url));
}

/** Fan-out control: maxInFlight 1..MAX_RECIPIENTS, perOrigin 1..maxInFlight (or alone); not for auctions. */
function checkConcurrency(raw: RawBody, limits: Limits, problem: Report): void {
  const concurrency = raw.concurrency;
  if (!concurrency) return;
  if (raw.auction) problem("concurrency", "does not apply in auction mode (nobody is called)");
  const { maxInFlight, perOrigin } = concurrency;
  if (maxInFlight === undefined && perOrigin === undefined) problem("concurrency", "give maxInFlight, perOrigin or both");
  if (maxInFlight !== undefined && maxInFlight > limits.maxRecipients)
    problem("concurrency.maxInFlight", `must be at most ${limits.maxRecipients} (MAX_RECIPIENTS)`);
  if (perOrigin !== undefined && maxInFlight !== undefined && perOrigin > maxInFlight)
    problem("concurrency.perOrigin", `must be at most concurrency.maxInFlight (${maxInFlight})`);
  else if (perOrigin !== undefined && perOrigin > limits.maxRecipients)
    problem("concurrency.perOrigin", `must be at most ${limits.maxRecipients} (MAX_RECIPIENTS)`);
}

/** The request with every default of docs/api.md filled in. */
function normalizedRequest(raw: RawBody, recipients: Recipient[] | undefined): GatherRequest {
  const completion = raw.completion ?? {};
  const aggregate = raw.aggregate ?? {};
  const { auction, retry, tolerance, concurrency } = raw;
  const deadline = deadlineOf(raw);
  return {
    ...(raw.id !== undefined ? { id: raw.id } : {}),
    request: raw.request as Json,
    ...(recipients ? { recipients } : {}),
    ...(auction
      ? { auction: { notify: auction.notify ?? [], ...(auction.expected !== undefined ? { expected: auction.expected } : {}) } }
      : {}),
    completion: {
      mode: completion.mode ?? "all",
      ...(completion.quorum !== undefined ? { quorum: completion.quorum } : {}),
      agree: completion.agree ?? false,
      ...(deadline !== undefined ? { timeoutMs: deadline } : {}),
    },
    aggregate: {
      kind: aggregate.kind ?? "collect",
      ...(aggregate.field !== undefined ? { field: aggregate.field } : {}),
      order: aggregate.order ?? "min",
    },
    ...(retry
      ? {
          retry: {
            maxAttempts: retry.maxAttempts,
            firstRetryIntervalMs: retry.firstRetryIntervalMs ?? DEFAULT_FIRST_RETRY_INTERVAL_MS,
            backoffCoefficient: retry.backoffCoefficient ?? 1,
            // Finite whatever the coefficient: no wait is longer than the gather's deadline.
            maxRetryIntervalMs: retry.maxRetryIntervalMs ?? deadline!,
          },
        }
      : {}),
    ...(raw.onClose ? { onClose: { url: raw.onClose.url } } : {}),
    ...(tolerance ? { tolerance: { ...tolerance } } : {}),
    ...(concurrency
      ? {
          concurrency: {
            ...(concurrency.maxInFlight !== undefined ? { maxInFlight: concurrency.maxInFlight } : {}),
            ...(concurrency.perOrigin !== undefined ? { perOrigin: concurrency.perOrigin } : {}),
          },
        }
      : {}),
  };
}

const answerSchema = z.strictObject(
  {
    responder: recipientId,
    value: jsonValue,
  },
  { error: "the body must be a JSON object" },
);

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
