/**
 * History events in the JSON shape the host sends to the out-of-process worker (DurableTask.Core's
 * HistoryEvent classes serialized by Newtonsoft): PascalCase fields, numeric EventType, payloads
 * (Input/Result) as JSON strings. EventType numbers are durable-functions' HistoryEventType.
 */
import { OrchestrationStatus, RuntimeStatusByNumber } from "./host-messages";
import type { HistoryEvent } from "./types";

export { OrchestrationStatus };

export const EventType = {
  ExecutionStarted: 0,
  ExecutionCompleted: 1,
  ExecutionFailed: 2,
  ExecutionTerminated: 3,
  TaskScheduled: 4,
  TaskCompleted: 5,
  TaskFailed: 6,
  SubOrchestrationInstanceCreated: 7,
  SubOrchestrationInstanceCompleted: 8,
  SubOrchestrationInstanceFailed: 9,
  TimerCreated: 10,
  TimerFired: 11,
  OrchestratorStarted: 12,
  OrchestratorCompleted: 13,
  EventSent: 14,
  EventRaised: 15,
  ContinueAsNew: 16,
  GenericEvent: 17,
  HistoryState: 18,
  ExecutionSuspended: 19,
  ExecutionResumed: 20,
} as const;

/** Names by number, for the status API's showHistory output (the host prints EventType as a name). */
export const EventTypeName: Record<number, string> = Object.fromEntries(Object.entries(EventType).map(([name, n]) => [n, name]));

/** OrchestrationStatus names by number (host-messages.ts). */
export const OrchestrationStatusName: Readonly<Record<number, string>> = RuntimeStatusByNumber;

/** Serializes a JS value the way the host stores payloads: a JSON string, or null for "no value". */
export function toJsonString(value: unknown): string | null {
  if (value === undefined) return null;
  return JSON.stringify(value);
}

/** Parses a stored payload back (the host's ParseToJToken: JSON if it parses, else the raw string). */
export function parsePayload(value: string | null | undefined): unknown {
  if (value === null || value === undefined) return null;
  const trimmed = value.trim();
  if (trimmed.length === 0) return "";
  try {
    return JSON.parse(trimmed);
  } catch {
    return value;
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function base(type: number, eventId: number, ts: number): HistoryEvent {
  return { EventType: type, EventId: eventId, IsPlayed: false, Timestamp: iso(ts) };
}

export interface ParentInstanceInfo {
  name: string;
  instanceId: string;
  executionId: string;
  taskScheduledId: number;
}

export const ev = {
  orchestratorStarted: (ts: number): HistoryEvent => base(EventType.OrchestratorStarted, -1, ts),
  orchestratorCompleted: (ts: number): HistoryEvent => base(EventType.OrchestratorCompleted, -1, ts),

  executionStarted(
    ts: number,
    o: {
      name: string;
      input: string | null;
      instanceId: string;
      executionId: string;
      parent?: ParentInstanceInfo;
    },
  ): HistoryEvent {
    return {
      ...base(EventType.ExecutionStarted, -1, ts),
      OrchestrationInstance: { InstanceId: o.instanceId, ExecutionId: o.executionId },
      ParentInstance: o.parent
        ? {
            Name: o.parent.name,
            Version: "",
            TaskScheduleId: o.parent.taskScheduledId,
            OrchestrationInstance: { InstanceId: o.parent.instanceId, ExecutionId: o.parent.executionId },
          }
        : null,
      Name: o.name,
      Version: "",
      Input: o.input,
      Tags: null,
    };
  },

  /** Input is the legacy DTFx array-wrapped parameter list ("[<input>]") the shim's CallActivityAsync produces. */
  taskScheduled: (ts: number, id: number, name: string, input: string | null): HistoryEvent => ({
    ...base(EventType.TaskScheduled, id, ts),
    Name: name,
    Version: "",
    Input: input,
  }),
  taskCompleted: (ts: number, taskScheduledId: number, result: string | null): HistoryEvent => ({
    ...base(EventType.TaskCompleted, -1, ts),
    TaskScheduledId: taskScheduledId,
    Result: result,
  }),
  taskFailed: (ts: number, taskScheduledId: number, reason: string, details: string): HistoryEvent => ({
    ...base(EventType.TaskFailed, -1, ts),
    TaskScheduledId: taskScheduledId,
    Reason: reason,
    Details: details,
    FailureDetails: null,
  }),
  timerCreated: (ts: number, id: number, fireAt: string): HistoryEvent => ({
    ...base(EventType.TimerCreated, id, ts),
    FireAt: fireAt,
  }),
  timerFired: (ts: number, timerId: number, fireAt: string): HistoryEvent => ({
    ...base(EventType.TimerFired, -1, ts),
    TimerId: timerId,
    FireAt: fireAt,
  }),
  eventRaised: (ts: number, name: string, input: string | null): HistoryEvent => ({
    ...base(EventType.EventRaised, -1, ts),
    Name: name,
    Input: input,
  }),
  subOrchestrationCreated: (ts: number, id: number, name: string, instanceId: string, input: string | null): HistoryEvent => ({
    ...base(EventType.SubOrchestrationInstanceCreated, id, ts),
    Name: name,
    Version: "",
    InstanceId: instanceId,
    Input: input,
  }),
  subOrchestrationCompleted: (ts: number, taskScheduledId: number, result: string | null): HistoryEvent => ({
    ...base(EventType.SubOrchestrationInstanceCompleted, -1, ts),
    TaskScheduledId: taskScheduledId,
    Result: result,
  }),
  subOrchestrationFailed: (ts: number, taskScheduledId: number, reason: string, details: string): HistoryEvent => ({
    ...base(EventType.SubOrchestrationInstanceFailed, -1, ts),
    TaskScheduledId: taskScheduledId,
    Reason: reason,
    Details: details,
    FailureDetails: null,
  }),
  executionCompleted: (ts: number, id: number, status: number, result: string | null, details?: string): HistoryEvent => ({
    ...base(EventType.ExecutionCompleted, id, ts),
    OrchestrationStatus: status,
    Result: result,
    Details: details ?? null,
    FailureDetails: null,
  }),
  executionTerminated: (ts: number, reason: string | null): HistoryEvent => ({
    ...base(EventType.ExecutionTerminated, -1, ts),
    Input: reason,
  }),
  executionSuspended: (ts: number, reason: string | null): HistoryEvent => ({
    ...base(EventType.ExecutionSuspended, -1, ts),
    Reason: reason,
  }),
  executionResumed: (ts: number, reason: string | null): HistoryEvent => ({
    ...base(EventType.ExecutionResumed, -1, ts),
    Reason: reason,
  }),
  continueAsNew: (ts: number, id: number, input: string | null): HistoryEvent => ({
    ...base(EventType.ContinueAsNew, id, ts),
    OrchestrationStatus: OrchestrationStatus.ContinuedAsNew,
    Result: input,
  }),
  genericEvent: (ts: number, data: string): HistoryEvent => ({
    ...base(EventType.GenericEvent, -1, ts),
    Data: data,
  }),
};

/**
 * The status API's history (DurableClient.GetDurableOrchestrationStatusAsync): EventType as a name,
 * OrchestratorStarted/Completed dropped, each TaskScheduled folded into its completion (FunctionName,
 * ScheduledTime), results only with showHistoryOutput, inputs only with showInput, EventId/IsPlayed removed.
 */
export function historyForStatus(history: readonly HistoryEvent[], showHistoryOutput: boolean, showInput: boolean): unknown[] {
  const items: (Record<string, unknown> | undefined)[] = history.map((e) => ({ ...e }));
  const scheduled = new Map<string, { index: number; name: unknown; ts: unknown; input: unknown }>();
  const drop = new Set<number>();
  items.forEach((item, i) => {
    if (!item) return;
    const type = item.EventType as number;
    switch (type) {
      case EventType.TaskScheduled:
      case EventType.SubOrchestrationInstanceCreated:
        scheduled.set(`${type}_${item.EventId}`, { index: i, name: item.Name, ts: item.Timestamp, input: item.Input });
        delete item.Version;
        break;
      case EventType.TaskCompleted:
      case EventType.TaskFailed:
      case EventType.SubOrchestrationInstanceCompleted:
      case EventType.SubOrchestrationInstanceFailed: {
        const isTask = type === EventType.TaskCompleted || type === EventType.TaskFailed;
        const key = `${isTask ? EventType.TaskScheduled : EventType.SubOrchestrationInstanceCreated}_${item.TaskScheduledId}`;
        const s = scheduled.get(key);
        if (s) {
          item.ScheduledTime = s.ts;
          item.FunctionName = s.name;
          if (showInput) item.Input = s.input;
          drop.add(s.index);
        }
        delete item.TaskScheduledId;
        const isSuccess = type === EventType.TaskCompleted || type === EventType.SubOrchestrationInstanceCompleted;
        if (isSuccess) {
          if (showHistoryOutput) item.Result = parsePayload(item.Result as string | null);
          else delete item.Result;
        }
        break;
      }
      case EventType.ExecutionStarted:
        item.FunctionName = item.Name;
        delete item.Name;
        delete item.OrchestrationInstance;
        delete item.ParentInstance;
        delete item.Version;
        delete item.Tags;
        break;
      case EventType.ExecutionCompleted:
        item.OrchestrationStatus = OrchestrationStatusName[item.OrchestrationStatus as number] ?? item.OrchestrationStatus;
        if (showHistoryOutput) item.Result = parsePayload(item.Result as string | null);
        else delete item.Result;
        break;
      case EventType.TimerFired:
        delete item.TimerId;
        break;
      case EventType.OrchestratorStarted:
      case EventType.OrchestratorCompleted:
        drop.add(i);
        break;
    }
    item.EventType = EventTypeName[type] ?? type;
    if (!showInput) delete item.Input;
    delete item.EventId;
    delete item.IsPlayed;
  });
  return items.filter((_, i) => !drop.has(i));
}
