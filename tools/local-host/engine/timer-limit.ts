/**
 * The timer span limit. On the Azure Storage backend the host splits a timer over 6 days into 3-day timers
 * (azure-functions-durable-extension AzureStorageDurabilityProvider MaximumDelayTime / LongRunningTimerIntervalLength,
 * DurableOrchestrationContext.CreateTimer) while durable-functions splits on its own schedule (LongTimerTask): this
 * host does neither and refuses, loudly, a CreateTimer firing more than the limit after its instance started
 * (ExecutionStarted), and one whose fireAt is no date (OutOfProcOrchestrationShim's AsyncAction.FireAt is a DateTime:
 * the `"fireAt": null` of an invalid Date fails the orchestration there too). Refused = the orchestration fails.
 */
import { EventType } from "./history";
import type { HistoryEvent } from "./types";

/** The host's maximumShortTimerDuration (6 days): longer timers are split on Azure Storage. */
export const DEFAULT_MAX_TIMER_SPAN_MS = 6 * 86_400_000;

/** A CreateTimer action scheduled in this episode, with the fireAt the worker sent. */
export interface CreatedTimer {
  id: number;
  fireAt: unknown;
}

/** A fireAt as the host would read it: an ISO string or a Date; anything else (null, missing) is no date. */
export function fireAtMs(fireAt: unknown): number | undefined {
  const ms = fireAt instanceof Date ? fireAt.getTime() : typeof fireAt === "string" ? Date.parse(fireAt) : NaN;
  return Number.isFinite(ms) ? ms : undefined;
}

function days(ms: number): string {
  const d = Math.round((ms / 86_400_000) * 1000) / 1000;
  return `${d} day${d === 1 ? "" : "s"}`;
}

/** When the execution began: its ExecutionStarted event's timestamp. */
export function executionStartedAt(history: readonly HistoryEvent[]): number | undefined {
  const started = history.find((e) => e.EventType === EventType.ExecutionStarted);
  return started ? Date.parse(started.Timestamp) : undefined;
}

export class TimerLimit {
  /** 0 (or less) means no span limit; a fireAt that is no date is refused whatever the limit. */
  constructor(readonly maxSpanMs: number = DEFAULT_MAX_TIMER_SPAN_MS) {}

  /** Why one of the episode's CreateTimer actions is refused, or undefined. */
  episodeProblem(orchestratorName: string, startedAt: number | undefined, timers: readonly CreatedTimer[]): string | undefined {
    for (const t of timers) {
      const what = `The timer ${t.id} created by orchestration '${orchestratorName}'`;
      const at = fireAtMs(t.fireAt);
      if (at === undefined) {
        const shown = JSON.stringify(t.fireAt) ?? "missing";
        return `${what} has fireAt ${shown}, which is not a date (an invalid Date is sent as null).`;
      }
      if (this.maxSpanMs <= 0 || startedAt === undefined) continue;
      const span = at - startedAt;
      if (span <= this.maxSpanMs) continue;
      return (
        `${what} fires at ${new Date(at).toISOString()}, ${span} ms (${days(span)}) after the instance started at ` +
        `${new Date(startedAt).toISOString()}, over the limit of ${this.maxSpanMs} ms (${days(this.maxSpanMs)}) (--max-timer-span-ms).`
      );
    }
    return undefined;
  }
}
