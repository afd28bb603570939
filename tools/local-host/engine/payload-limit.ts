/**
 * Payload limits as the Durable Task Scheduler enforces them: every payload a worker or a client hands the
 * backend is measured in UTF-8 bytes and refused over the limit (1 MiB by default; 0 = none). Refused is never
 * silent: a client call fails, an instance fails with a reason naming the payload, its size and the limit.
 * Where this differs from the real backend (which makes the worker abandon and retry the work item) is in NOTES.md.
 */
import { EventType, ev } from "./history";
import type { NewWork, ReplayOutcome } from "./replay";
import type { HistoryEvent } from "./types";
import { PayloadTooLargeError } from "./types";

/** The Durable Task Scheduler's message size limit. */
export const DEFAULT_MAX_PAYLOAD_BYTES = 1048576;
/** GenericEvent.Data prefix of the message that fails an instance whose incoming payload was refused. */
const REFUSAL_MARK = "PayloadRefused: ";

export class PayloadLimit {
  /** 0 (or less) means no limit. */
  constructor(readonly maxBytes: number = DEFAULT_MAX_PAYLOAD_BYTES) {}

  /** Why `payload` is refused, or undefined when it fits. `what` names it ("the result of activity 'X'"). */
  problem(what: string, payload: string | null | undefined): string | undefined {
    if (this.maxBytes <= 0 || payload === null || payload === undefined) return undefined;
    if (payload.length * 3 <= this.maxBytes) return undefined; // cannot be over: skip measuring
    const bytes = Buffer.byteLength(payload, "utf8");
    if (bytes <= this.maxBytes) return undefined;
    return `The payload of ${what} is ${bytes} bytes (UTF-8), over the limit of ${this.maxBytes} bytes (--max-payload-bytes).`;
  }

  /** Client calls (start input, raised event data): logged, and thrown so that the call fails. */
  refuseClientPayload(what: string, payload: string | null | undefined, log: (message: string) => void): void {
    const p = this.problem(what, payload);
    if (!p) return;
    log(`Refused a client call: ${p}`);
    throw new PayloadTooLargeError(p);
  }

  /** What an orchestrator episode hands the backend: scheduled inputs and its output. */
  episodeProblem(orchestratorName: string, newWork: readonly NewWork[], outcome: ReplayOutcome): string | undefined {
    for (const w of newWork) {
      if (w.kind === "activity") {
        const p = this.problem(`the input of activity '${w.name}' (task ${w.id}) scheduled by '${orchestratorName}'`, w.input);
        if (p) return p;
      } else if (w.kind === "subOrchestration") {
        const p = this.problem(`the input of sub-orchestration '${w.name}' ('${w.instanceId}') started by '${orchestratorName}'`, w.input);
        if (p) return p;
      }
    }
    if (outcome.kind === "completed") return this.problem(`the output of orchestration '${orchestratorName}'`, outcome.output);
    if (outcome.kind === "continuedAsNew")
      return this.problem(`the continue-as-new input of orchestration '${orchestratorName}'`, outcome.input);
    if (outcome.kind === "failed") {
      return this.problem(`the failure details of orchestration '${orchestratorName}'`, outcome.reason + outcome.details);
    }
    return undefined;
  }

  /** An activity's result or failure (TaskCompleted / TaskFailed) as the worker reports it. */
  activityProblem(activityName: string, event: HistoryEvent): string | undefined {
    if (event.EventType === EventType.TaskCompleted) {
      return this.problem(
        `the result of activity '${activityName}' (task ${String(event.TaskScheduledId)})`,
        event.Result as string | null,
      );
    }
    const failure = `${String(event.Reason ?? "")}${String(event.Details ?? "")}`;
    return this.problem(`the failure details of activity '${activityName}' (task ${String(event.TaskScheduledId)})`, failure);
  }
}

/** The message that fails an instance because a payload addressed to it was refused. */
export function refusalEvent(ts: number, reason: string): HistoryEvent {
  return ev.genericEvent(ts, REFUSAL_MARK + reason);
}

/** The refusal's reason when `e` is such a message. */
export function refusalReason(e: HistoryEvent): string | undefined {
  if (e.EventType !== EventType.GenericEvent || typeof e.Data !== "string" || !e.Data.startsWith(REFUSAL_MARK)) return undefined;
  return e.Data.slice(REFUSAL_MARK.length);
}
