/** Function names: part of the contract (docs/api.md), shown in status JSON and dashboards. */
export const FunctionNames = {
  startScatterGather: "startScatterGather",
  getScatterGather: "getScatterGather",
  submitResponse: "submitResponse",
  /** The bidders' route: anonymous, with the answer URL's capability token (respondUrl). */
  submitAnswer: "submitAnswer",
  getScatterGatherResponses: "getScatterGatherResponses",
  deleteScatterGather: "deleteScatterGather",
  /** Terminates a gather and its batches (the host's terminate reaches one instance). */
  terminateScatterGather: "terminateScatterGather",
  /** Runs a finished gather's failed, timed-out or abandoned recipients again (gather/redrive.ts). */
  redriveScatterGather: "redriveScatterGather",
  /** A redrive of an agreement quorum: the kept answers' digests, counted by value. */
  redriveAgreement: "redriveAgreement",
  orchestrator: "scatterGatherOrchestrator",
  /** Sub-orchestrator for one slice of a large fan-out. */
  batchOrchestrator: "scatterGatherBatch",
  callRecipient: "callRecipient",
  aggregateResponses: "aggregateResponses",
  notifyResponder: "notifyResponder",
  /** Raises CLOSE_EVENT on the batches still running once the parent gather has decided. */
  closeBatches: "closeBatches",
  /** Lends the window share of batches that ended to the running batches with calls waiting (gather/window.ts). */
  lendShares: "lendShares",
  /** Reads a large gather's running batches' counts for its cross-batch decisions (gather/census.ts). */
  censusBatches: "censusBatches",
  /** Auction: stores an answer raised straight at the instance (sendEventPostUri) and returns its facts. */
  storeAuctionAnswer: "storeAuctionAnswer",
  /** Delivers a gather's close event (onClose) with durable retries, for a gather terminated through the API. */
  notifyGatherClosed: "notifyGatherClosed",
  /** One signed POST of a close event. */
  deliverCloseEvent: "deliverCloseEvent",
  /** Auction: stores a chunk of responder names in arrival order. */
  recordArrivals: "recordArrivals",
  /** A callback or queue recipient's requestUrl: anonymous, with its recipient token. */
  getRecipientRequest: "getRecipientRequest",
  /** Queue trigger on the reply queue: a queue recipient's reply becomes its answer event. */
  receiveReply: "receiveReply",
} as const;

/** The external event auction answers arrive as. */
export const RESPONSE_EVENT = "response";

/**
 * The external event a callback or queue recipient's reply arrives as, at the instance that delivered it
 * (gather/replies.ts: `{ index, answer, facts }` or `{ index, error }`, raised by the answers route or receiveReply).
 */
export const REPLY_EVENT = "reply";

/** The external event a parent gather raises on its batches once it has decided (closeBatches). */
export const CLOSE_EVENT = "close";

/** The external event that grows a batch's window share: `{ maxInFlight, perOrigin }` more (lendShares). */
export const SHARE_EVENT = "share";
