/**
 * The host's legacy rewind (Azure Storage provider), as pure history rewrites: in the failed execution's history
 * every failed task (and its TaskScheduled / SubOrchestrationInstanceCreated) and the failing ExecutionCompleted
 * become GenericEvents ("Rewound: <event JSON>"); the replay then finds those tasks unscheduled and re-runs them.
 */
import { EventType, ev, OrchestrationStatus } from "./history";
import type { HistoryEvent } from "./types";

export interface RewindPlan {
  /** The history with failures and their schedules turned into GenericEvents. */
  history: HistoryEvent[];
  /** Instance ids of failed sub-orchestrations, to be rewound too. */
  failedChildren: string[];
}

export function planRewind(history: readonly HistoryEvent[]): RewindPlan {
  const failedIds = new Set<number>();
  const failedChildren: string[] = [];
  const createdById = new Map<number, HistoryEvent>();
  for (const e of history) {
    if (e.EventType === EventType.SubOrchestrationInstanceCreated) createdById.set(e.EventId, e);
    if (e.EventType === EventType.TaskFailed || e.EventType === EventType.SubOrchestrationInstanceFailed) {
      failedIds.add(e.TaskScheduledId as number);
      const created = e.EventType === EventType.SubOrchestrationInstanceFailed ? createdById.get(e.TaskScheduledId as number) : undefined;
      if (created) failedChildren.push(String(created.InstanceId));
    }
  }
  const rewritten = history.map((e) => (isFailedSchedule(e, failedIds) || isFailure(e) ? rewound(e) : e));
  return { history: rewritten, failedChildren };
}

/**
 * A child that was rewound re-runs under its own id and the parent waits for it again: its
 * SubOrchestrationInstanceCreated stays as it was (only its failure goes).
 */
export function keepRewoundChildren(
  original: readonly HistoryEvent[],
  plan: RewindPlan,
  rewoundChildren: ReadonlySet<string>,
): HistoryEvent[] {
  return plan.history.map((e, i) => {
    const o = original[i];
    return o.EventType === EventType.SubOrchestrationInstanceCreated && rewoundChildren.has(String(o.InstanceId)) ? o : e;
  });
}

function isFailedSchedule(e: HistoryEvent, failedIds: ReadonlySet<number>): boolean {
  return (e.EventType === EventType.TaskScheduled || e.EventType === EventType.SubOrchestrationInstanceCreated) && failedIds.has(e.EventId);
}

function isFailure(e: HistoryEvent): boolean {
  return (
    e.EventType === EventType.TaskFailed ||
    e.EventType === EventType.SubOrchestrationInstanceFailed ||
    (e.EventType === EventType.ExecutionCompleted && e.OrchestrationStatus === OrchestrationStatus.Failed)
  );
}

function rewound(e: HistoryEvent): HistoryEvent {
  return { ...ev.genericEvent(Date.parse(e.Timestamp), `Rewound: ${JSON.stringify(e)}`) };
}
