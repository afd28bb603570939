/**
 * The shapes of the HTTP API (API.md) as zod schemas, in one place: the request bodies come from
 * src/gather/schema.ts (the schemas the functions validate with), the answers are written here.
 * src/openapi/document.ts turns them into the OpenAPI document, and the typed client (src/client)
 * takes its types from them, so the document, the client and the functions share one definition.
 *
 * Answer objects are loose (extra properties allowed): API.md lets the project add fields, never drop
 * or rename them, so clients must tolerate new ones.
 */
import { z } from "zod";
import { recipientReplySchema } from "../gather/replies";
import { auctionAnswerSchema, gatherRequestSchema } from "../gather/schema";

export { auctionAnswerSchema, gatherRequestSchema };

const dateTime = () => z.string().meta({ format: "date-time" });
const absoluteUrl = () => z.string().meta({ format: "uri" });
const count = () => z.number().int().min(0);
const anyJson = () => z.unknown().meta({ description: "any JSON value" });

export const errorDetailSchema = z.looseObject({
  path: z.string().meta({ description: "where in the body, e.g. recipients[2].url (empty for the body itself)" }),
  message: z.string(),
});

export const errorBodySchema = z.looseObject({
  error: z.looseObject({
    code: z.enum([
      "invalid_request",
      "unauthorized",
      "payload_too_large",
      "unsupported_media_type",
      "conflict",
      "not_found",
      "gone",
      "backend_error",
      "misconfigured",
    ]),
    message: z.string(),
    details: z.array(errorDetailSchema).optional(),
  }),
});

/** The host's URLs with placeholders (`{eventName}`, `reason={text}`): URI templates. */
const urlTemplate = (description: string) => z.string().meta({ format: "uri-template", description });

const managementUrlFields = {
  statusQueryGetUri: absoluteUrl(),
  sendEventPostUri: urlTemplate("with the {eventName} placeholder; the auction event is `response`"),
  terminatePostUri: urlTemplate("with the reason={text} placeholder"),
  purgeHistoryDeleteUri: absoluteUrl(),
  suspendPostUri: urlTemplate("with the reason={text} placeholder"),
  resumePostUri: urlTemplate("with the reason={text} placeholder"),
  rewindPostUri: urlTemplate("with the reason={text} placeholder"),
};

/** The 202 body of POST /api/scatter-gather (createCheckStatusResponse's). */
export const managementUrlsSchema = z.looseObject({ id: z.string(), ...managementUrlFields });

/** 409 on POST /api/scatter-gather: the error plus the running instance's management URLs. */
export const conflictBodySchema = z.looseObject({ ...errorBodySchema.shape, id: z.string(), ...managementUrlFields });

export const responseStatusSchema = z.enum(["succeeded", "failed", "timedOut", "abandoned"]);

export const recipientResponseSchema = z.looseObject({
  recipientId: z.string(),
  status: z
    .enum([...responseStatusSchema.options, "pending"])
    .meta({ description: "`pending` only while the gather runs (responses route)" }),
  value: anyJson().optional(),
  error: z.string().optional(),
  attempts: count().optional(),
  durationMs: z.number().min(0).optional(),
  waitingFor: z
    .literal("reply")
    .optional()
    .meta({ description: "while the gather runs: a pending callback or queue recipient, whose answer comes as a reply" }),
});

export const countsSchema = z.looseObject({ total: count(), succeeded: count(), failed: count(), timedOut: count(), abandoned: count() });

export const aggregateSchema = z.discriminatedUnion("kind", [
  z.looseObject({ kind: z.literal("collect"), values: z.record(z.string(), anyJson()).optional(), count: count().optional() }),
  z.looseObject({
    kind: z.literal("best"),
    field: z.string().optional(),
    order: z.enum(["min", "max"]).optional(),
    recipientId: z.string().nullable(),
    value: anyJson(),
  }),
  z.looseObject({
    kind: z.literal("summary"),
    field: z.string(),
    count: count(),
    sum: z.number(),
    average: z.number().nullable(),
    min: z.number().nullable(),
    max: z.number().nullable(),
  }),
  z.looseObject({ kind: z.literal("vote"), field: z.string().optional(), value: anyJson(), count: count() }),
]);

export const outcomeSchema = z.enum(["complete", "partial", "failed"]);
export const closedBySchema = z.enum([
  "all-responded",
  "first-response",
  "quorum-reached",
  "deadline",
  "quorum-unreachable",
  "all-failed",
  "failure-tolerance-exceeded",
]);

/** The orchestration output: `result` of GET /api/scatter-gather/{id}. */
export const gatherResultSchema = z.looseObject({
  id: z.string(),
  outcome: outcomeSchema,
  closedBy: closedBySchema,
  startedAt: dateTime(),
  closedAt: dateTime(),
  counts: countsSchema,
  responses: z
    .array(recipientResponseSchema)
    .optional()
    .meta({ description: "inline while small (RESULT_INLINE_BYTES); otherwise read from responsesUri" }),
  responsesUri: absoluteUrl().optional(),
  aggregate: aggregateSchema,
  redrives: count()
    .optional()
    .meta({ description: "how many times the gather was redriven (absent: never); counts, responses and aggregate cover every run" }),
  notification: z
    .object({
      delivered: z.boolean(),
      attempts: count(),
      lastStatus: z
        .number()
        .int()
        .nullable()
        .meta({ description: "the last answer's HTTP status; null when none came (refused, timed out)" }),
    })
    .optional()
    .meta({ description: "with onClose: how the close event's delivery went (its last run's, after a redrive)" }),
});

/** customStatus while the gather runs (`progress`). */
export const gatherProgressSchema = z.looseObject({
  phase: z.enum(["gathering", "aggregating", "done"]),
  total: count(),
  succeeded: count(),
  failed: count(),
  timedOut: count().optional().meta({ description: "present once there are any (at the close, or kept by a redrive)" }),
  abandoned: count()
    .optional()
    .meta({ description: "present once there are any; a gather that ended without its result counts its unsettled recipients here" }),
  pending: count(),
  deadline: dateTime().nullable(),
  awaitingReply: count()
    .optional()
    .meta({ description: "of `pending`: callback and queue recipients whose delivery was acknowledged, waiting for their reply" }),
});

export const runtimeStatusSchema = z.enum([
  "Pending",
  "Running",
  "Completed",
  "ContinuedAsNew",
  "Failed",
  "Canceled",
  "Terminated",
  "Suspended",
]);

/** GET /api/scatter-gather/{id}. */
export const gatherStatusSchema = z.looseObject({
  id: z.string(),
  runtimeStatus: runtimeStatusSchema,
  createdTime: dateTime(),
  lastUpdatedTime: dateTime(),
  policy: z.looseObject({ completion: anyJson(), aggregate: anyJson() }).nullable().optional().meta({
    description:
      "the policy the gather runs under: completion, aggregate, and retry, concurrency, tolerance, onClose, auction ({ expected, notify: count }) when given; never the request or the recipients",
  }),
  progress: gatherProgressSchema.nullable(),
  result: gatherResultSchema.nullable(),
  error: anyJson().optional().meta({ description: "the orchestration's failure, when runtimeStatus is Failed" }),
});

/** GET /api/scatter-gather/{id}/responses. */
export const responsesPageSchema = z.looseObject({
  items: z.array(recipientResponseSchema),
  offset: count(),
  limit: z.number().int().min(1).max(1000),
  total: count(),
  nextUri: absoluteUrl().nullable(),
});

/** One entry of GET /api/scatter-gather. */
export const gatherSummarySchema = z.looseObject({
  id: z.string(),
  runtimeStatus: runtimeStatusSchema,
  createdTime: dateTime(),
  lastUpdatedTime: dateTime(),
  progress: gatherProgressSchema.nullable(),
  outcome: outcomeSchema.nullable().meta({ description: "once the gather has its result; null before" }),
  closedBy: closedBySchema.nullable(),
  counts: countsSchema.nullable(),
});

/** GET /api/scatter-gather. */
export const gatherListSchema = z.looseObject({
  items: z.array(gatherSummarySchema),
  continuationToken: z.string().nullable().meta({ description: "pass as ?continuationToken= for the next page; null on the last" }),
  nextUri: absoluteUrl().nullable(),
});

/** 202 of POST /api/scatter-gather/{id}/responses. */
export const submitAcceptedSchema = z.looseObject({
  id: z.string(),
  responder: z.string().optional().meta({ description: "an auction answer's responder" }),
  recipientId: z.string().optional().meta({ description: "a callback or queue recipient's reply: whose it is" }),
  accepted: z.boolean().meta({ description: "false when the responder had answered already: the first answer wins" }),
  reason: z.string().optional(),
});

/** 202 of POST /api/scatter-gather/{id}/terminate. */
export const terminateAcceptedSchema = z.looseObject({
  id: z.string(),
  terminated: count().meta({ description: "instances terminated: the gather and its running batches" }),
});

/** The body of the signed close event (onClose): a CloudEvents 1.0 event in structured JSON (gather/closeEvent.ts). */
export const closeEventSchema = z.looseObject({
  specversion: z.literal("1.0"),
  type: z.literal("scatter-gather.closed"),
  source: absoluteUrl().meta({ description: "the app's /api/scatter-gather" }),
  id: z.string().meta({ description: "the same in every delivery of one close (= the webhook-id header): deduplicate on it" }),
  subject: z.string().meta({ description: "the gather's id" }),
  time: dateTime(),
  datacontenttype: z.literal("application/json"),
  data: z.looseObject({
    id: z.string(),
    outcome: z.enum([...outcomeSchema.options, "terminated"]),
    closedBy: z.enum([...closedBySchema.options, "terminated"]),
    counts: countsSchema,
    statusUri: absoluteUrl(),
    responsesUri: absoluteUrl(),
  }),
});

/** The component names of the document; the request bodies are `input` shapes, the rest `output`. */
export const requestSchemas = {
  GatherRequest: gatherRequestSchema,
  AuctionAnswer: auctionAnswerSchema,
  RecipientReply: recipientReplySchema,
} as const;

export const answerSchemas = {
  ErrorBody: errorBodySchema,
  ConflictBody: conflictBodySchema,
  ManagementUrls: managementUrlsSchema,
  RecipientResponse: recipientResponseSchema,
  Counts: countsSchema,
  Aggregate: aggregateSchema,
  GatherResult: gatherResultSchema,
  GatherProgress: gatherProgressSchema,
  GatherStatus: gatherStatusSchema,
  ResponsesPage: responsesPageSchema,
  GatherSummary: gatherSummarySchema,
  GatherList: gatherListSchema,
  SubmitAccepted: submitAcceptedSchema,
  TerminateAccepted: terminateAcceptedSchema,
  CloseEvent: closeEventSchema,
} as const;

export type GatherRequestBody = z.input<typeof gatherRequestSchema>;
export type AuctionAnswerBody = z.input<typeof auctionAnswerSchema>;
export type ErrorBody = z.output<typeof errorBodySchema>;
export type ManagementUrls = z.output<typeof managementUrlsSchema>;
export type RecipientResponse = z.output<typeof recipientResponseSchema>;
export type Counts = z.output<typeof countsSchema>;
export type Aggregate = z.output<typeof aggregateSchema>;
export type GatherResult = z.output<typeof gatherResultSchema>;
export type GatherProgress = z.output<typeof gatherProgressSchema>;
export type GatherStatus = z.output<typeof gatherStatusSchema>;
export type ResponsesPage = z.output<typeof responsesPageSchema>;
export type GatherSummary = z.output<typeof gatherSummarySchema>;
export type GatherList = z.output<typeof gatherListSchema>;
export type SubmitAccepted = z.output<typeof submitAcceptedSchema>;
export type TerminateAccepted = z.output<typeof terminateAcceptedSchema>;
export type CloseEventBody = z.output<typeof closeEventSchema>;
export type RuntimeStatus = z.output<typeof runtimeStatusSchema>;
