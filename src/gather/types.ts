/** The request, policy and outcome types shared by the starter, the orchestrator and the activities. */
import type { AnswerRef } from "./answerGroups";
import type { AnswerFacts, FactSpec } from "./facts";
import type { NotificationReport } from "./closeEvent";
import type {
  AggregateSpec,
  AuctionSpec,
  CompletionPolicy,
  ConcurrencySpec,
  Counts,
  Json,
  OnCloseSpec,
  RetrySpec,
  ToleranceSpec,
} from "./spec";
import type { Recipient } from "./transports";

export * from "./spec";

/** A recipient: the union of the transports' recipients (src/gather/transports/). */
export type { Recipient } from "./transports";

/** A validated POST /api/scatter-gather body. */
export interface GatherRequest {
  id?: string;
  request: Json;
  recipients?: Recipient[];
  auction?: AuctionSpec;
  completion: CompletionPolicy;
  aggregate: AggregateSpec;
  retry?: RetrySpec;
  onClose?: OnCloseSpec;
  /** Not in auction mode. */
  tolerance?: ToleranceSpec;
  concurrency?: ConcurrencySpec;
}

export type ResponseStatus = "succeeded" | "failed" | "timedOut" | "abandoned";

export interface RecipientResponse {
  recipientId: string;
  status: ResponseStatus;
  value?: Json;
  error?: string;
  attempts?: number;
  durationMs?: number;
}

export type ClosedBy =
  "all-responded" | "first-response" | "quorum-reached" | "deadline" | "quorum-unreachable" | "all-failed" | "failure-tolerance-exceeded";

export type Outcome = "complete" | "partial" | "failed";

export type Aggregate =
  /** `values` inline while they fit RESULT_INLINE_BYTES, else only `count` (read them from responsesUri). */
  | { kind: "collect"; values?: Record<string, Json>; count: number }
  | { kind: "best"; field: string; order: "min" | "max"; recipientId: string | null; value: Json }
  | { kind: "summary"; field: string; count: number; sum: number; average: number | null; min: number | null; max: number | null }
  | { kind: "vote"; field?: string; value: Json; count: number };

/** The orchestration output (docs/api.md "Orchestration output"): bounded whatever the answers. */
export interface GatherResult {
  id: string;
  outcome: Outcome;
  closedBy: ClosedBy;
  startedAt: string;
  closedAt: string;
  counts: Counts;
  /** Inline while the whole list serializes to at most RESULT_INLINE_BYTES; else read from responsesUri. */
  responses?: RecipientResponse[];
  responsesUri: string;
  aggregate: Aggregate;
  /** With onClose: how the close event's delivery went. */
  notification?: NotificationReport;
  /** How many times the gather was redriven (absent: never). */
  redrives?: number;
}

/** customStatus: counts only, so it stays far below 16 KB. "done" once the result is written. */
export interface GatherProgress {
  /** "done": shown by GET /api/scatter-gather/{id} once the instance has finished. */
  phase: "gathering" | "aggregating" | "done";
  total: number;
  succeeded: number;
  failed: number;
  /** Present once some are: total = succeeded + failed + timedOut + abandoned + pending. */
  timedOut?: number;
  abandoned?: number;
  pending: number;
  deadline: string | null;
  /** Of `pending`: callback and queue recipients whose delivery was acknowledged, their reply not in yet. */
  awaitingReply?: number;
  /** A batch of a windowed gather that may borrow share: calls waiting for a slot (its parent's lendShares). */
  waiting?: number;
  /** A batch of an agreement quorum: the digests most of its answers carry, with how many (its parent's census). */
  votes?: [digest: string, count: number][];
}

/** A gather run's folder in the payload store: `<instanceId>/<runId>/`. */
export interface RunRef {
  instanceId: string;
  runId: string;
}

/** What the starter hands the orchestrator: references and the few facts decisions need, never the data. */
export interface OrchestrationInput {
  /** Where this run's payloads are in the payload store (src/payload/keys.ts). */
  run: RunRef;
  /** How many recipients the stored list holds (absent in auction mode). */
  recipientCount?: number;
  auction?: AuctionSpec & { respondUrl: string };
  completion: CompletionPolicy;
  aggregate: AggregateSpec;
  retry?: RetrySpec;
  onClose?: OnCloseSpec;
  /** As the request gave it; the orchestrator turns it into the gather's failure bound (policy.ts). */
  tolerance?: ToleranceSpec;
  /** Some recipients answer later, as replies (callback and queue recipients): the gather waits for REPLY_EVENT. */
  replies?: boolean;
  /** Above this many recipients the gather fans out to batch sub-orchestrations (FANOUT_BATCH_SIZE). */
  fanoutBatchSize?: number;
  /** The run's batch ids start with this (instanceIds.ts batchIdPrefix); absent in older inputs. */
  batchIdPrefix?: string;
  /** Auction: answers taken at most (MAX_RECIPIENTS); the gather closes once it has them. */
  maxAnswers?: number;
  /** Auction: the largest answer value raised straight at the instance (MAX_RESPONSE_BYTES). */
  maxAnswerBytes?: number;
  /** Absolute URL of GET /api/scatter-gather/{id}/responses, from the public origin. */
  responsesUri: string;
  /** Fan-out control as the request gave it. */
  concurrency?: ConcurrencySpec;
  /** With concurrency.perOrigin and URL recipients: each recipient's origin number (window.ts encodeOriginTable). */
  origins?: string;
  /** With concurrency, above fanoutBatchSize recipients: how many batches run at once (window.ts planBatchSlots). */
  batchSlots?: number;
  /**
   * Above fanoutBatchSize recipients: the parent reads its batches' counts this often for cross-batch decisions
   * (gather/census.ts). Absent in inputs of earlier versions, whose histories have no census timers to replay.
   */
  censusMs?: number;
  /**
   * An agreement quorum above fanoutBatchSize recipients: its census counts the batches' votes too (since 2026-12-07;
   * inputs without it take no census, as their histories have none).
   */
  censusVotes?: boolean;
  /**
   * A windowed gather above fanoutBatchSize recipients (since 2026-12-07): once no batch is left to start, the share of
   * a batch that ends is lent to running batches with calls waiting (durable/shareLender.ts). Inputs without it lend
   * nothing, as their histories have no loans.
   */
  lendShares?: boolean;
  /**
   * A redrive run (gather/redrive.ts): its stored list holds only the redriven recipients (recipientCount of
   * them); `kept` counts the earlier outcomes it keeps, which the policy counts with its own. The rest (the
   * earlier outcomes, which recipients these are) is in the run's redrive document, never here.
   */
  redrive?: { redrives: number; listRunId: string; kept: Counts };
}

/**
 * What closeBatches receives: the batches to close by number (their ids come from the gather's id and batch prefix,
 * instanceIds.ts batchInstanceId, so the input stays a few bytes a batch whatever the ids' length), and the close
 * key whose calls in flight end (closing.ts).
 */
export interface CloseBatchesInput {
  requestId: string;
  batchIdPrefix?: string;
  batches: number[];
  closeKey?: string;
}

/** What lendShares receives: whose batches may borrow, and the share to lend (what ended batches held). */
export interface LendSharesInput {
  requestId: string;
  batchIdPrefix?: string;
  /** The parent's run: the plan is stored there, so an activity run again raises the same loans. */
  run: RunRef;
  /** The parent's lending number, 0, 1, ...: names the loans (a batch takes each once). */
  lending: number;
  /** The batches running now, by number. */
  running: number[];
  pool: ConcurrencySpec;
}

/** What lendShares lent: to which batch, how much. */
export type ShareLoan = [batch: number, maxInFlight: number, perOrigin: number];

/** What censusBatches receives: whose batches to read (their ids: instanceIds.ts batchInstanceId). */
export interface CensusBatchesInput {
  requestId: string;
  batchIdPrefix?: string;
  /**
   * An agreement quorum: the digests the parent's merged answers carry most. The census then also counts, over the
   * batches still running, the answers carrying these and the digests those batches show most (census.ts).
   */
  votes?: string[];
}

/** What callRecipient receives and returns. */
export interface CallRecipientInput {
  requestId: string;
  /** The run's payloads: the request and the recipient list are read from there, the answer stored there. */
  run: RunRef;
  /** The recipient's index in the stored list; its answer is stored under it. */
  index: number;
  /** The gather execution this call belongs to (closing.ts); the requestId when absent. */
  closeKey?: string;
  /** 1 for the first attempt, then 2, 3, ... (retries are run by the orchestrator). */
  attempt?: number;
  /** Which facts of the answer the gather needs (facts.ts). */
  facts: FactSpec;
}
export type CallRecipientOutput =
  | {
      durationMs: number;
      facts: AnswerFacts;
      /** Where the answer is stored (the value itself never enters history). */
      answer: AnswerRef;
    }
  /** A callback or queue recipient took the delivery: its answer comes later, as a reply (REPLY_EVENT). */
  | { durationMs: number; acknowledged: true };

/** The body of an auction answer (submitResponse, or a raised `response` event). */
export interface AuctionAnswer {
  responder: string;
  value: Json;
}
