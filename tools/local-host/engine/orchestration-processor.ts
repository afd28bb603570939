/**
 * The orchestration processor (durabletask-go's orchestration worker): calls the orchestrator function once with
 * the host's trigger payload, then replays its answer against the history (replay.ts) into the episode's new work
 * and outcome, applying the host's customStatus rule, the backend's payload limit and the timer span limit.
 */
import { errorParts } from "./errors";
import { parsePayload } from "./history";
import { extractOutOfProcState } from "./host-messages";
import type { PayloadLimit } from "./payload-limit";
import { replayEpisode, type NewWork, type ReplayOutcome } from "./replay";
import type { RuntimeState } from "./runtime-state";
import { executionStartedAt, type TimerLimit } from "./timer-limit";
import type { HistoryEvent, OrchestratorInvoker } from "./types";

/** DurableOrchestrationContext.SetCustomStatus: MessagePayloadDataConverter's 16 KB limit (UTF-16 size). */
const MAX_CUSTOM_STATUS_BYTES = 16 * 1024;

/** durable-functions' OrchestratorState, as the worker returns it. */
export type WorkerState = { isDone?: boolean; actions?: unknown; output?: unknown; error?: string; customStatus?: unknown };

/** What one orchestrator call produced. */
export interface WorkerReply {
  /** The history the worker was given (past events played, new ones not). */
  history: HistoryEvent[];
  state?: WorkerState;
  /** The invocation failed without a state (or the state was refused): why. */
  invocationError?: string;
  /** The instance's customStatus after this call (JSON string). */
  customStatus: string | null;
}

export interface EpisodeDecision {
  newWork: NewWork[];
  outcome: ReplayOutcome;
  /** The next free sequence id (EventId of ExecutionCompleted / ContinueAsNew). */
  nextId: number;
}

export interface OrchestrationProcessorDeps {
  invokeOrchestrator: OrchestratorInvoker;
  activities: ReadonlySet<string>;
  orchestrators: ReadonlySet<string>;
  payloadLimit: PayloadLimit;
  timerLimit: TimerLimit;
  log: (level: "info" | "warn" | "error", message: string) => void;
}

/** The trigger payload's fixed fields: the host's values (the SDK then runs schema V3). */
const TRIGGER_CONSTANTS = {
  upperSchemaVersion: 1,
  upperSchemaVersionNew: 2,
  longRunningTimerIntervalDuration: "3.00:00:00",
  maximumShortTimerDuration: "6.00:00:00",
  defaultHttpAsyncRequestSleepTimeMillseconds: 30000,
};

export class OrchestrationProcessor {
  private readonly knownActivities: string[];
  private readonly knownOrchestrators: string[];

  constructor(private readonly deps: OrchestrationProcessorDeps) {
    this.knownActivities = [...deps.activities];
    this.knownOrchestrators = [...deps.orchestrators];
  }

  /** Calls the orchestrator with the host's trigger payload for this episode. */
  async invoke(rs: RuntimeState): Promise<WorkerReply> {
    const inst = rs.inst;
    const history = rs.triggerHistory();
    const payload: Record<string, unknown> = {
      history,
      input: parsePayload(inst.input),
      instanceId: inst.instanceId,
      isReplaying: inst.history.length > 0,
      parentInstanceId: inst.parent ? inst.parent.instanceId : null,
      ...TRIGGER_CONSTANTS,
    };
    const reply = await this.call(inst.name, payload);
    return { history, ...withCustomStatus(reply, inst.customStatus) };
  }

  /** Replays the worker's answer: new work and outcome, refused as a whole when a payload or a timer is over its limit. */
  decide(rs: RuntimeState, reply: WorkerReply): EpisodeDecision {
    const inst = rs.inst;
    const result = replayEpisode({
      orchestratorName: inst.name,
      executionId: inst.executionId,
      history: reply.history,
      state: reply.state,
      invocationError: reply.invocationError,
      isKnownActivity: (n) => this.deps.activities.has(n),
      isKnownOrchestrator: (n) => this.deps.orchestrators.has(n),
      knownActivities: this.knownActivities,
      knownOrchestrators: this.knownOrchestrators,
    });
    for (const w of result.warnings) this.deps.log("warn", `[${inst.instanceId}] ${w}`);
    const refused =
      this.deps.timerLimit.episodeProblem(inst.name, executionStartedAt(reply.history), result.createdTimers) ??
      this.deps.payloadLimit.episodeProblem(inst.name, result.newWork, result.outcome);
    const decision: EpisodeDecision = { newWork: result.newWork, outcome: result.outcome, nextId: result.nextId };
    if (refused) {
      // The backend (or the host) would refuse this episode's completion: fail the orchestration instead (see NOTES.md).
      this.deps.log("error", `[${inst.instanceId}] ${refused}`);
      decision.newWork = [];
      decision.outcome = { kind: "failed", reason: refused, details: refused };
    }
    if (decision.outcome.kind === "failed") this.deps.log("warn", `[${inst.instanceId}] ${decision.outcome.reason}`);
    return decision;
  }

  private async call(name: string, payload: Record<string, unknown>): Promise<{ state?: WorkerState; invocationError?: string }> {
    try {
      const state = (await this.deps.invokeOrchestrator(name, payload)) as WorkerState | null | undefined;
      if (state === null || typeof state !== "object") {
        return { invocationError: "The data returned by the out-of-process function execution was not valid json." };
      }
      return { state };
    } catch (e) {
      // durable-functions' OrchestrationFailureError carries the state inside its message after
      // "$OutOfProcData$:" (what the host's OutOfProcExceptionHelpers extracts); a `.state` is accepted too.
      const carried = (e as { state?: unknown }).state ?? extractOutOfProcState(errorParts(e).message);
      if (carried && typeof carried === "object") return { state: carried as WorkerState };
      return { invocationError: errorParts(e).message };
    }
  }
}

/** A new customStatus over 16 KB (UTF-16) fails the orchestration, as SetCustomStatus throws in the host. */
function withCustomStatus(
  reply: { state?: WorkerState; invocationError?: string },
  previous: string | null,
): { state?: WorkerState; invocationError?: string; customStatus: string | null } {
  const wanted = reply.state?.customStatus;
  if (wanted === undefined || wanted === null) return { ...reply, customStatus: previous };
  const serialized = JSON.stringify(wanted);
  const bytes = serialized.length * 2;
  if (bytes <= MAX_CUSTOM_STATUS_BYTES) return { ...reply, customStatus: serialized };
  return {
    state: undefined,
    invocationError: `The UTF-16 size of the JSON-serialized payload must not exceed 16 KB. The current payload size is ${Math.round(bytes / 1024)} KB.`,
    customStatus: previous,
  };
}
