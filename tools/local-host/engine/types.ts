/**
 * The seam between the local host's durable engine (tools/local-host/engine/) and its front
 * (worker stand-in, HTTP API, CLI in tools/local-host/). The engine knows nothing of HTTP or of
 * @azure/functions; the front knows nothing of histories. Both sides code against this file only.
 */

/** Runtime status names exactly as the Durable Functions host reports them in status JSON. */
export type RuntimeStatus = "Pending" | "Running" | "Completed" | "ContinuedAsNew" | "Failed" | "Canceled" | "Terminated" | "Suspended";

/**
 * One history event in the host's JSON shape (DurableTask.Core HistoryEvent serialized for the
 * out-of-process worker): `EventType` numeric (HistoryEventType of durable-functions), `EventId`,
 * `IsPlayed`, `Timestamp` (ISO string), plus the type's own fields (`Name`, `Input`, `Result`,
 * `TaskScheduledId`, `TimerId`, `FireAt`, `Reason`, `Details`, `InstanceId`, ...).
 */
export interface HistoryEvent {
  EventType: number;
  EventId: number;
  IsPlayed: boolean;
  Timestamp: string;
  [field: string]: unknown;
}

/**
 * Calls an orchestrator function once (one episode). `payload` is the orchestration trigger's
 * binding data exactly as the host builds it (history, input, instanceId, isReplaying,
 * parentInstanceId, upperSchemaVersion, upperSchemaVersionNew, ...). Resolves with what the
 * function returned (durable-functions' OrchestratorState: isDone, actions, output, error,
 * customStatus, schemaVersion), or rejects when the invocation itself failed; a rejection whose
 * error carries `.state` (OrchestrationFailureError) still carries the actions and the error.
 */
export type OrchestratorInvoker = (functionName: string, payload: Record<string, unknown>) => Promise<unknown>;

/** Calls an activity function once; resolves with its return value, rejects with its error. */
export type ActivityInvoker = (
  functionName: string,
  input: unknown,
  meta: { instanceId: string; taskScheduledId: number },
) => Promise<unknown>;

export interface EngineOptions {
  /** Directory for the durable store; created if missing. */
  dataDir: string;
  taskHubName: string;
  invokeOrchestrator: OrchestratorInvoker;
  invokeActivity: ActivityInvoker;
  /** Names of the registered functions, so unknown names fail the way the host fails them. */
  orchestrators: ReadonlySet<string>;
  activities: ReadonlySet<string>;
  /** host.json extensions.durableTask.maxConcurrentActivityFunctions (host default 10 x cores). */
  maxConcurrentActivities?: number;
  /** host.json extensions.durableTask.maxConcurrentOrchestratorFunctions. */
  maxConcurrentOrchestrations?: number;
  /**
   * Largest payload (UTF-8 bytes) the backend accepts: start input, activity/sub-orchestration inputs, activity
   * results and failures, raised-event data, orchestration output. Default 1048576 (Durable Task Scheduler); 0 = none.
   */
  maxPayloadBytes?: number;
  /**
   * Latest a CreateTimer action may fire, in ms after its instance (execution) started; later ones fail the
   * orchestration. Default 518400000 (6 days, where the host starts splitting timers on Azure Storage); 0 = none.
   */
  maxTimerSpanMs?: number;
  /** Longest instance id a client start or a sub-orchestration may use. Default 100 (Durable Task Scheduler); 0 = none. */
  maxInstanceIdLength?: number;
  /** Injectable clock for timers (tests); defaults to the real clock. */
  clock?: Clock;
  /** Warnings (re-yielded tasks, nondeterminism) and information lines; defaults to console. */
  log?: (level: "info" | "warn" | "error", message: string) => void;
}

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): { cancel(): void };
}

/** The status document of one instance (HttpApiHandler's / DurableClient's JSON field names). */
export interface InstanceStatus {
  name: string;
  instanceId: string;
  runtimeStatus: RuntimeStatus;
  input: unknown;
  customStatus: unknown;
  output: unknown;
  createdTime: string;
  lastUpdatedTime: string;
  /** Present only when asked for (showHistory); shaped like the host's showHistory output. */
  historyEvents?: unknown[];
}

export interface InstanceQuery {
  createdTimeFrom?: Date;
  createdTimeTo?: Date;
  runtimeStatus?: RuntimeStatus[];
  instanceIdPrefix?: string;
  /** Paging as the host does it: a page size and an opaque continuation token. */
  top?: number;
  continuationToken?: string;
}

export interface StatusOptions {
  showHistory?: boolean;
  showHistoryOutput?: boolean;
  showInput?: boolean;
}

/** Errors the front maps to the host's status codes. */
export class InstanceNotFoundError extends Error {
  readonly code = "not_found";
}
/** Start of an id whose instance is not in a terminal state, or an operation invalid in the current state. */
export class InstanceStateError extends Error {
  readonly code = "invalid_state";
}

export interface DurableEngine {
  /** Opens the store and resumes every instance that was running (or pending) when the host stopped. */
  start(): Promise<void>;
  /** Stops timers and dispatch; in-flight work is abandoned and re-run on the next start (at-least-once). */
  stop(): Promise<void>;

  /**
   * Creates an instance and schedules its first episode. Rejects with InstanceStateError when the id
   * exists and is Pending/Running/Suspended (the host's default dedupe policy); a terminal instance
   * with the same id is replaced.
   */
  startNew(orchestratorName: string, instanceId: string, input: unknown): Promise<InstanceStatus>;
  getStatus(instanceId: string, options?: StatusOptions): Promise<InstanceStatus | undefined>;
  listInstances(query: InstanceQuery): Promise<{ instances: InstanceStatus[]; continuationToken?: string }>;
  raiseEvent(instanceId: string, eventName: string, data: unknown): Promise<void>;
  terminate(instanceId: string, reason?: string): Promise<void>;
  suspend(instanceId: string, reason?: string): Promise<void>;
  resume(instanceId: string, reason?: string): Promise<void>;
  rewind(instanceId: string, reason?: string): Promise<void>;
  /** Removes a terminal instance; resolves with how many instances were deleted (0 or 1). */
  purge(instanceId: string): Promise<number>;
  purgeMany(query: InstanceQuery): Promise<number>;
  /** Resolves once the instance reaches a terminal status or the timeout passes (for waitForCompletionOrCreateCheckStatusResponse). */
  waitForCompletion(instanceId: string, timeoutMs: number): Promise<InstanceStatus | undefined>;
}
/** An id whose log was quarantined as corrupt at start: it must not run (again), so every operation on it is refused. */
export class InstanceQuarantinedError extends Error {
  readonly code = "quarantined";
}
/** A client call's payload (start input, event data) over maxPayloadBytes: the call fails (→ 500, like the host's generic handler). */
export class PayloadTooLargeError extends Error {
  readonly code = "payload_too_large";
}
/** An instance id over maxInstanceIdLength on a client start (the front answers 400, like the extension's ArgumentException). */
export class InvalidInstanceIdError extends Error {
  readonly code = "bad_request";
}
/** A function name that is not registered (the host's ArgumentException on start: the front answers 400). */
export class UnknownFunctionError extends Error {
  readonly code = "bad_request";
}
