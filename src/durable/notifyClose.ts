/**
 * Delivering a gather's close event (onClose), with durable retries: an attempt is an activity (it signs
 * and POSTs; the secret never enters history), a failed one waits on a durable timer (1 s, 2 s, 4 s, …) and
 * tries again, at most MAX_NOTIFY_ATTEMPTS times. Run inline at the end of a gather, and as an orchestration
 * of its own (`notifyGatherClosed`) for a gather terminated through the API, which can no longer send it.
 */
import type { OrchestrationContext } from "durable-functions";
import { notifyRetryDelayMs, type CloseEvent, type NotificationReport } from "../gather/closeEvent";
import type { Orchestration } from "./gatherRecipients";
import { FunctionNames } from "./names";

export interface NotifyInput {
  url: string;
  event: CloseEvent;
}

/** One attempt's answer (deliverCloseEvent). */
export interface NotifyAttempt {
  delivered: boolean;
  status: number | null;
}

export function* notifyClosed(context: OrchestrationContext, input: NotifyInput): Orchestration<NotificationReport> {
  for (let attempts = 1; ; attempts++) {
    const attempt = (yield context.df.callActivity(FunctionNames.deliverCloseEvent, input)) as NotifyAttempt;
    const delay = attempt.delivered ? undefined : notifyRetryDelayMs(attempts);
    if (delay === undefined) return { delivered: attempt.delivered, attempts, lastStatus: attempt.status };
    yield context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + delay));
  }
}

/** The orchestration the terminate route starts. */
export function* notifyGatherClosed(context: OrchestrationContext): Orchestration<NotificationReport> {
  return yield* notifyClosed(context, context.df.getInput() as NotifyInput);
}
