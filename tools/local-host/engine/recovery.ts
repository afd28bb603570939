/**
 * Recovery after a restart, as pure reads of the durable state: the work an instance scheduled and never got a
 * result for (re-dispatched: activities run at least once, timers re-armed, missing children started), and
 * whether a finished child's parent still waits for its result (re-notified).
 */
import { EventType } from "./history";
import { isTerminal } from "./host-messages";
import type { NewWork } from "./replay";
import type { InstanceData } from "./store";
import type { HistoryEvent } from "./types";

const SCHEDULING = new Set<number>([EventType.TaskScheduled, EventType.TimerCreated, EventType.SubOrchestrationInstanceCreated]);
const TASK_RESULTS = new Set<number>([
  EventType.TaskCompleted,
  EventType.TaskFailed,
  EventType.SubOrchestrationInstanceCompleted,
  EventType.SubOrchestrationInstanceFailed,
]);

/** Scheduled work of the current execution with no result in its history or mailbox, in schedule order. */
export function outstandingWork(inst: InstanceData): NewWork[] {
  const scheduled = new Map<number, HistoryEvent>();
  for (const e of inst.history) if (SCHEDULING.has(e.EventType)) scheduled.set(e.EventId, e);
  const settle = (e: HistoryEvent) => {
    if (e.EventType === EventType.TimerFired) scheduled.delete(e.TimerId as number);
    else if (TASK_RESULTS.has(e.EventType)) scheduled.delete(e.TaskScheduledId as number);
  };
  for (const e of inst.history) settle(e);
  for (const m of inst.mailbox) settle(m.event);
  return [...scheduled.values()].map(toWork);
}

function toWork(e: HistoryEvent): NewWork {
  const input = (e.Input as string | null) ?? null;
  if (e.EventType === EventType.TaskScheduled) return { kind: "activity", id: e.EventId, name: String(e.Name), input };
  if (e.EventType === EventType.TimerCreated) return { kind: "timer", id: e.EventId, fireAt: String(e.FireAt) };
  return { kind: "subOrchestration", id: e.EventId, name: String(e.Name), instanceId: String(e.InstanceId), input };
}

/** A finished child whose result never reached its parent's history or mailbox (a crash in between). */
export function parentStillWaits(child: InstanceData, parent: InstanceData | undefined): boolean {
  const p = child.parent;
  if (!p || !parent || isTerminal(parent.status) || parent.executionId !== p.executionId) return false;
  const isResult = (e: HistoryEvent) =>
    (e.EventType === EventType.SubOrchestrationInstanceCompleted || e.EventType === EventType.SubOrchestrationInstanceFailed) &&
    e.TaskScheduledId === p.taskScheduledId;
  if (parent.history.some(isResult) || parent.mailbox.some((m) => isResult(m.event))) return false;
  return parent.history.some((e) => e.EventType === EventType.SubOrchestrationInstanceCreated && e.EventId === p.taskScheduledId);
}
