/**
 * The activity processor (durabletask-go's activity worker): runs one scheduled activity through the front's
 * invoker and turns the outcome into the history event the host records (TaskCompleted, or TaskFailed with the
 * host's Reason and .NET exception Details), refusing results over the payload limit.
 */
import { errorParts } from "./errors";
import { ev } from "./history";
import { PayloadLimit, refusalEvent } from "./payload-limit";
import type { ActivityInvoker, Clock, HistoryEvent } from "./types";

/** A TaskScheduled to run: its instance and execution, sequence id, name and stored (array-wrapped) input. */
export interface ActivityWork {
  instanceId: string;
  executionId: string;
  id: number;
  name: string;
  input: string | null;
}

export interface ActivityProcessorDeps {
  activities: ReadonlySet<string>;
  invokeActivity: ActivityInvoker;
  clock: Clock;
  payloadLimit: PayloadLimit;
  log: (level: "info" | "warn" | "error", message: string) => void;
  /** Delivers the result to the instance (dropped when that execution is gone). */
  deliver: (instanceId: string, event: HistoryEvent, executionId: string) => Promise<void>;
  /** False once the engine stopped after `generation` began: the result is not recorded (the activity re-runs). */
  isCurrent: (generation: number) => boolean;
}

export class ActivityProcessor {
  constructor(private readonly deps: ActivityProcessorDeps) {}

  async process(work: ActivityWork, generation: number): Promise<void> {
    let event = await this.execute(work);
    if (!this.deps.isCurrent(generation)) return; // stopped meanwhile: the activity re-runs after restart
    const refused = this.deps.payloadLimit.activityProblem(work.name, event);
    if (refused) {
      // Never stored: the instance fails with the refusal instead of receiving the result.
      this.deps.log("error", `[${work.instanceId}] ${refused}`);
      event = refusalEvent(this.deps.clock.now(), refused);
    }
    await this.deps
      .deliver(work.instanceId, event, work.executionId)
      .catch((e) => this.deps.log("error", `Durable engine: could not record the result of '${work.name}': ${errorParts(e).message}`));
  }

  /** Runs the activity: TaskCompleted with its JSON result, or TaskFailed as the host words it. */
  async execute(work: ActivityWork): Promise<HistoryEvent> {
    const now = () => this.deps.clock.now();
    if (!this.deps.activities.has(work.name)) {
      // TaskNonexistentActivityShim
      const message = `Activity function '${work.name}' does not exist.`;
      return ev.taskFailed(
        now(),
        work.id,
        `Activity function '${work.name}' failed: ${message}`,
        activityFailureDetails(message, undefined),
      );
    }
    const input = activityInputFromHistory(work.input);
    try {
      const value = await this.deps.invokeActivity(work.name, input, { instanceId: work.instanceId, taskScheduledId: work.id });
      return ev.taskCompleted(now(), work.id, value === undefined ? null : JSON.stringify(value));
    } catch (e) {
      const { message, stack } = errorParts(e);
      return ev.taskFailed(now(), work.id, `Activity function '${work.name}' failed: ${message}`, activityFailureDetails(message, stack));
    }
  }
}

/** Host-side details for a failed out-of-process activity (TaskActivityShim: Utils.SerializeCause of the friendly exception). */
export function activityFailureDetails(message: string, stack: string | undefined): string {
  const rpcMessage = `Result: Failure\nException: ${message}\nStack: ${stack ?? ""}`;
  const exceptionFields = {
    Data: null,
    HelpURL: null,
    StackTraceString: null,
    RemoteStackTraceString: null,
    RemoteStackIndex: 0,
    ExceptionMethod: null,
    HResult: -2146233088,
    Source: null,
    WatsonBuckets: null,
  };
  return JSON.stringify({
    $type: "System.Exception, System.Private.CoreLib",
    ClassName: "System.Exception",
    Message: message,
    InnerException: {
      $type: "Microsoft.Azure.WebJobs.Script.Workers.Rpc.RpcException, Microsoft.Azure.WebJobs.Script",
      IsUserException: false,
      RemoteStackTrace: stack ?? null,
      RemoteMessage: message,
      RemoteTypeName: null,
      ClassName: "Microsoft.Azure.WebJobs.Script.Workers.Rpc.RpcException",
      Message: rpcMessage,
      InnerException: null,
      ...exceptionFields,
    },
    ...exceptionFields,
  });
}

/**
 * What the activity function receives for a TaskScheduled Input: the host unwraps DTFx's one-element
 * parameter array and sends the value; the Node worker JSON-parses string trigger data when it can
 * (durable-functions pre-stringifies string inputs, so "Tokyo" travels as "\"Tokyo\"" and arrives as Tokyo).
 */
export function activityInputFromHistory(serialized: string | null): unknown {
  if (serialized === null) return null;
  let value: unknown;
  try {
    const wrapped = JSON.parse(serialized) as unknown;
    value = Array.isArray(wrapped) && wrapped.length === 1 ? wrapped[0] : wrapped;
  } catch {
    return serialized;
  }
  if (typeof value === "string") {
    try {
      return JSON.parse(value) as unknown;
    } catch {
      return value;
    }
  }
  return value;
}
