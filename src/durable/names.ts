/** Function names: part of the contract (API.md), shown in status JSON and dashboards. */
export const FunctionNames = {
  startScatterGather: "startScatterGather",
  getScatterGather: "getScatterGather",
  submitResponse: "submitResponse",
  orchestrator: "scatterGatherOrchestrator",
  /** Sub-orchestrator for one slice of a large fan-out. */
  batchOrchestrator: "scatterGatherBatch",
  callRecipient: "callRecipient",
  aggregateResponses: "aggregateResponses",
  notifyResponder: "notifyResponder",
} as const;

/** The external event auction answers arrive as. */
export const RESPONSE_EVENT = "response";
