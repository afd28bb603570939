/**
 * The OpenAPI 3.1 document of the HTTP API, generated from the zod schemas (src/openapi/schemas.ts,
 * src/gather/schema.ts) with zod's z.toJSONSchema: the document cannot drift from the validation.
 * Served by GET /api/openapi.json (src/functions/openapi.ts).
 */
import { z } from "zod";
import { answerSchemas, requestSchemas } from "./schemas";

type Json = Record<string, unknown>;

const REF = (name: string) => ({ $ref: `#/components/schemas/${name}` });

/** JSON Schema (2020-12, the dialect of OpenAPI 3.1) for a set of named zod schemas, refs between them. */
function componentSchemas(schemas: Record<string, z.ZodType>, io: "input" | "output"): Record<string, Json> {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(schemas)) registry.add(schema, { id });
  const { schemas: out } = z.toJSONSchema(registry, {
    target: "draft-2020-12",
    io,
    unrepresentable: "any",
    uri: (id) => `#/components/schemas/${id}`,
  }) as { schemas: Record<string, Json> };
  for (const schema of Object.values(out)) {
    delete schema.$schema;
    delete schema.$id;
  }
  return out;
}

const json = (schema: Json) => ({ "application/json": { schema } });
const answer = (description: string, schema?: string, headers?: Json) => ({
  description,
  ...(schema ? { content: json(REF(schema)) } : {}),
  ...(headers ? { headers } : {}),
});
const error = (description: string) => answer(description, "ErrorBody");
const idParam = {
  name: "id",
  in: "path",
  required: true,
  description: "the gather's instance id",
  schema: { type: "string", pattern: "^[A-Za-z0-9._:-]{1,100}$" },
};
const intQuery = (name: string, description: string, min: number, max?: number, dflt?: number) => ({
  name,
  in: "query",
  required: false,
  description,
  schema: {
    type: "integer",
    minimum: min,
    ...(max !== undefined ? { maximum: max } : {}),
    ...(dflt !== undefined ? { default: dflt } : {}),
  },
});
const NO_AUTH: Json[] = [];

const providers = [
  { id: "acme", simulate: { latencyMs: 200, value: { price: 42 } } },
  { id: "globex", simulate: { latencyMs: 600, value: { price: 39 } } },
  { id: "flaky", simulate: { latencyMs: 100, failureRate: 1 } },
];

/** Answers to compare: two agree, the one in between does not. */
const oracles = [
  { id: "oracle-a", simulate: { latencyMs: 200, value: { answer: 42 } } },
  { id: "oracle-b", simulate: { latencyMs: 500, value: { answer: 42 } } },
  { id: "oracle-c", simulate: { latencyMs: 300, value: { answer: 41 } } },
];

/** The README's examples, by name: the document's request examples, which the page offers too. */
export const gatherExamples: Record<string, { summary: string; value: Json }> = {
  all: {
    summary: "all: three simulated providers, best price wins, 5 s deadline",
    value: {
      request: { sku: "widget", qty: 10 },
      recipients: providers,
      completion: { mode: "all", timeoutMs: 5000 },
      aggregate: { kind: "best", field: "price", order: "min" },
    },
  },
  first: {
    summary: "first: close at the first successful answer (the rest are abandoned)",
    value: { request: {}, recipients: providers, completion: { mode: "first", timeoutMs: 3000 } },
  },
  quorum: {
    summary: "quorum: close when 2 answers succeeded; quorum-unreachable as soon as 2 can no longer succeed",
    value: { request: {}, recipients: providers, completion: { mode: "quorum", quorum: 2, timeoutMs: 3000 } },
  },
  agreement: {
    summary: "agreement quorum: close when 2 answers are equal, then take the majority value (oracle-c disagrees)",
    value: {
      request: { question: "6 × 7" },
      recipients: oracles,
      completion: { mode: "quorum", quorum: 2, agree: true, timeoutMs: 3000 },
      aggregate: { kind: "vote" },
    },
  },
  auction: {
    summary: "auction: nobody is called; answers arrive through POST /api/scatter-gather/{id}/responses",
    value: {
      id: "rfq-7",
      request: { lot: 7 },
      auction: { notify: ["http://127.0.0.1:9002/rfq"], expected: 2 },
      completion: { mode: "all", timeoutMs: 60000 },
      aggregate: { kind: "best", field: "price" },
    },
  },
};

export function buildOpenApiDocument(): Json {
  const schemas = { ...componentSchemas(requestSchemas, "input"), ...componentSchemas(answerSchemas, "output") };
  return {
    openapi: "3.1.0",
    info: {
      title: "Scatter-Gather service",
      version: "1.0.0",
      description:
        "Ask many recipients the same thing at once, gather their answers under a completion policy and a durable deadline, and aggregate them. " +
        "Data routes need a function key (`x-functions-key` header or `?code=`); the Durable management URLs of the 202 answer carry their own key.",
    },
    servers: [{ url: "/", description: "this function app" }],
    security: [{ functionKeyHeader: [] }, { functionKeyQuery: [] }],
    paths: { ...gatherRoutes(), ...instanceRoutes(), ...answerRoutes(), ...recipientRequestRoute(), ...appRoutes() },
    webhooks: closeWebhook(),
    components: {
      schemas,
      securitySchemes: {
        functionKeyHeader: { type: "apiKey", in: "header", name: "x-functions-key" },
        functionKeyQuery: { type: "apiKey", in: "query", name: "code" },
      },
    },
  };
}

/** POST /api/scatter-gather (start) and GET /api/scatter-gather (list). */
function gatherRoutes(): Json {
  return {
    "/api/scatter-gather": {
      post: {
        operationId: "startScatterGather",
        summary: "Start a gather",
        requestBody: { required: true, content: { "application/json": { schema: REF("GatherRequest"), examples: gatherExamples } } },
        responses: {
          "202": answer("Started: the management URLs", "ManagementUrls", {
            Location: { description: "= statusQueryGetUri", schema: { type: "string" } },
            "Retry-After": { description: "seconds", schema: { type: "string" } },
          }),
          "400": error("The body breaks the contract (every problem with its path); nothing started"),
          "409": answer("The id is running; its management URLs", "ConflictBody"),
          "413": error("Over MAX_REQUEST_BYTES"),
          "415": error("Not JSON"),
        },
      },
      get: {
        operationId: "listScatterGathers",
        summary: "Gathers, newest first, page by page",
        description:
          "Instances of scatterGatherOrchestrator (not its batch sub-orchestrations), the most recently created first. " +
          "Follow `continuationToken` (or `nextUri`) for older ones until it is null; the last page may be empty.",
        parameters: [
          intQuery("top", "page size", 1, 100, 20),
          { name: "continuationToken", in: "query", required: false, schema: { type: "string" }, description: "from the previous page" },
          {
            name: "createdFrom",
            in: "query",
            required: false,
            schema: { type: "string", format: "date-time" },
            description: "only gathers created at or after",
          },
          {
            name: "createdTo",
            in: "query",
            required: false,
            schema: { type: "string", format: "date-time" },
            description: "only gathers created at or before",
          },
          {
            name: "runtimeStatus",
            in: "query",
            required: false,
            schema: { type: "string" },
            description: "comma-separated runtime statuses, e.g. Running,Pending",
          },
        ],
        responses: {
          "200": answer("A page of gathers", "GatherList"),
          "400": error("A bad query parameter, or a continuationToken this list did not hand out"),
          "502": error("The Durable backend refused the query"),
        },
      },
    },
  };
}

/** One gather: its status, DELETE, terminate, redrive. */
function instanceRoutes(): Json {
  return {
    "/api/scatter-gather/{id}": {
      parameters: [idParam],
      get: {
        operationId: "getScatterGather",
        summary: "Progress while running, the result when done",
        responses: { "200": answer("The gather", "GatherStatus"), "404": error("Unknown id") },
      },
      delete: {
        operationId: "deleteScatterGather",
        summary: "Purge a finished gather, its batches and its stored payloads",
        responses: { "204": answer("Purged"), "404": error("Unknown id"), "409": error("Still running: terminate it first") },
      },
    },
    "/api/scatter-gather/{id}/terminate": {
      parameters: [idParam],
      post: {
        operationId: "terminateScatterGather",
        summary: "Terminate a running gather and its batches",
        parameters: [{ name: "reason", in: "query", required: false, schema: { type: "string" } }],
        responses: {
          "202": answer("Terminated", "TerminateAccepted"),
          "404": error("Unknown id"),
          "410": error("Already finished, or closed and delivering its close event (its result stands)"),
        },
      },
    },
    "/api/scatter-gather/{id}/redrive": { parameters: [idParam], post: redriveOperation() },
  };
}

/** POST /api/scatter-gather/{id}/redrive. */
function redriveOperation(): Json {
  return {
    operationId: "redriveScatterGather",
    summary: "Run a finished gather's failed, timed-out or abandoned recipients again",
    description:
      "A new run of the same id under the same request and policy (tolerance counted over the redriven recipients only) " +
      "and a fresh deadline. Successful answers are kept and never called again; the result's counts, responses, " +
      "responsesUri and aggregate cover the whole gather, each entry's attempts add up across runs, and `redrives` " +
      "says how many. Auctions and gathers whose policy was met (first answered, quorum reached) cannot be redriven.",
    parameters: [
      {
        name: "status",
        in: "query",
        required: false,
        description: "comma-separated: which recipients run again (default: all three)",
        schema: { type: "string", pattern: "^(failed|timedOut|abandoned)(,(failed|timedOut|abandoned))*$" },
      },
    ],
    responses: {
      "202": answer("Redriving: the management URLs", "ManagementUrls", {
        Location: { description: "= statusQueryGetUri", schema: { type: "string" } },
        "Retry-After": { description: "seconds", schema: { type: "string" } },
      }),
      "400": error("A bad status, nothing matches, or the policy is already met"),
      "404": error("Unknown id"),
      "409": error(
        "Still running (the body carries its management URLs), terminated, failed, an auction, or another redrive of the same run was accepted first",
      ),
    },
  };
}

/** Answers: the responses page, and an auction answer by the operators' route or a bidder's respondUrl. */
function answerRoutes(): Json {
  return {
    "/api/scatter-gather/{id}/responses": {
      parameters: [idParam],
      get: {
        operationId: "getScatterGatherResponses",
        summary: "The responses, page by page, in recipient-list order (auction: arrival order)",
        description:
          "A page holds at most `limit` entries and at most 4 MiB of JSON (MAX_PAGE_BYTES): it ends before the entry that would " +
          "pass 4 MiB (a single larger entry makes a page of its own), so `limit` is a maximum. Follow `nextUri` (it carries on " +
          "at `offset` + the number of items) until it is null. A succeeded entry whose stored answer cannot be read has no " +
          "`value` and an `error` naming the blob and the byte range, never `value: null`.",
        parameters: [
          intQuery("offset", "first entry", 0, undefined, 0),
          intQuery("limit", "page size", 1, 1000, 100),
          {
            name: "status",
            in: "query",
            required: false,
            schema: { type: "string", enum: ["succeeded", "failed", "timedOut", "abandoned", "pending"] },
            description: "only entries with this status",
          },
        ],
        responses: {
          "200": answer("A page of responses", "ResponsesPage"),
          "400": error("A bad query parameter"),
          "404": error("Unknown id"),
        },
      },
      post: auctionAnswerOperation("submitResponse", "An auction answer (raised as the `response` event)", {
        "404": error("Unknown id"),
        "409": error("Not an auction (started with recipients), or the auction holds MAX_RECIPIENTS answers already"),
      }),
    },
    "/api/scatter-gather/{id}/answers": {
      parameters: [idParam],
      post: {
        ...auctionAnswerOperation(
          "submitAnswer",
          "An answer through a respondUrl: an auction bidder's `{ responder, value }`, or a callback or queue recipient's " +
            "reply `{ value }` / `{ error }` (raised as the `reply` event). No key: the URL's capability token instead",
          {
            "401": error("The token is missing, wrong, or of another gather, run or recipient (also for an unknown id)"),
            "409": error("Not an auction, the auction holds MAX_RECIPIENTS answers already, or the recipient has replied already"),
          },
        ),
        requestBody: {
          required: true,
          content: {
            "application/json": {
              schema: { oneOf: [REF("AuctionAnswer"), REF("RecipientReply")] },
              examples: {
                auction: { value: { responder: "bidder-1", value: { price: 100 } } },
                reply: { value: { value: { price: 100 } } },
                error: { value: { error: "out of stock" } },
              },
            },
          },
        },
        security: NO_AUTH,
        parameters: [tokenParam("the token of respondUrl, bound to this gather and run (and, for a callback or queue recipient, to it)")],
      },
    },
  };
}

/** The `token` query parameter of an answer URL (API.md "Answer URLs"). */
function tokenParam(description: string): Json {
  return { name: "token", in: "query", required: true, schema: { type: "string" }, description };
}

/** GET requestUrl: what a callback or queue recipient's token reads (a queue message too large for the request points here). */
function recipientRequestRoute(): Json {
  const recipientRequest = {
    type: "object",
    required: ["requestId", "recipientId", "request"],
    properties: {
      requestId: { type: "string" },
      recipientId: { type: "string" },
      request: { description: "the gather's request, as given" },
      input: { description: "the recipient's own input; absent when not given" },
    },
  };
  return {
    "/api/scatter-gather/{id}/request": {
      parameters: [idParam],
      get: {
        operationId: "getRecipientRequest",
        summary: "The request and the recipient's input, for a callback or queue recipient (its requestUrl): no key, its token instead",
        security: NO_AUTH,
        parameters: [tokenParam("the recipient's token (`<index>.<mac>`)")],
        responses: {
          "200": { description: "The request", content: { "application/json": { schema: recipientRequest } } },
          "401": error("The token is missing, wrong, or of another gather, run or recipient (also for an unknown id)"),
          "410": error("The gather has closed"),
        },
      },
    },
  };
}

/** POST of an auction answer `{ responder, value }`: the operators' route and the bidders' token route alike. */
function auctionAnswerOperation(operationId: string, summary: string, refusals: Json): Json {
  return {
    operationId,
    summary,
    requestBody: {
      required: true,
      content: { "application/json": { schema: REF("AuctionAnswer"), example: { responder: "bidder-1", value: { price: 100 } } } },
    },
    responses: {
      "202": answer("Delivered", "SubmitAccepted"),
      "400": error("Bad body"),
      ...refusals,
      "410": error("The gather is no longer running: the answer came late"),
      "413": error("Over MAX_RESPONSE_BYTES"),
      "415": error("Not JSON"),
    },
  };
}

/** What the app sends, not serves: the close event, POSTed to a gather's onClose.url. */
function closeWebhook(): Json {
  const header = (description: string) => ({ required: true, description, schema: { type: "string" } });
  return {
    scatterGatherClosed: {
      post: {
        summary:
          "A gather has closed (or was terminated): sent to onClose.url, signed as Standard Webhooks sign theirs (README: verify it with WEBHOOK_SIGNING_SECRET)",
        description:
          "Retried on a non-2xx answer or none, 8 attempts over about two minutes, with the same id each time; the gather's result records how it went (`notification`).",
        parameters: [
          { name: "webhook-id", in: "header", ...header("= the event's id") },
          { name: "webhook-timestamp", in: "header", ...header("Unix seconds of this delivery") },
          { name: "webhook-signature", in: "header", ...header('"v1," + base64(HMAC-SHA256(secret, id.timestamp.body))') },
        ],
        requestBody: { required: true, content: { "application/cloudevents+json": { schema: REF("CloseEvent") } } },
        responses: { "2XX": { description: "Taken; any other answer (or none) is retried" } },
        security: NO_AUTH,
      },
    },
  };
}

/** What the app serves about itself: this document and the page. */
function appRoutes(): Json {
  return {
    "/api/openapi.json": {
      get: {
        operationId: "openapi",
        summary: "This document",
        security: NO_AUTH,
        responses: { "200": { description: "OpenAPI 3.1", content: { "application/json": { schema: { type: "object" } } } } },
      },
    },
    "/api/ui": {
      get: {
        operationId: "ui",
        summary: "The live gather page (HTML; it asks for a function key and sends it as x-functions-key)",
        security: NO_AUTH,
        responses: { "200": { description: "HTML", content: { "text/html": { schema: { type: "string" } } } } },
      },
    },
  };
}
