import * as df from "durable-functions";
import { aggregate, type SucceededAnswer } from "../gather/aggregate";
import { markGatherClosed } from "../gather/closing";
import type { Aggregate, AggregateSpec } from "../gather/types";
import { FunctionNames } from "../durable/names";
import { flushTelemetry, trackGatherCompleted, type GatherReport } from "../telemetry";

/**
 * Aggregates, then records the gather's telemetry. Emitting here (an activity) and never in the
 * orchestrator is what makes it replay-safe; activities are at-least-once, so a re-executed
 * aggregateResponses would record the gather again (accepted, and visible as a repeated instanceId).
 */
export function aggregateResponses(input: { closeKey?: string; spec: AggregateSpec; answers: SucceededAnswer[]; report?: GatherReport }): Aggregate {
  // The gather is closed: its calls still queued or in flight in this worker end now (closing.ts).
  if (input.closeKey) markGatherClosed(input.closeKey);
  const result = aggregate(input.spec, input.answers);
  if (input.report) {
    trackGatherCompleted(input.report);
    // Sends the gather's event, its metrics (otherwise exported every 60 s) and the recipients'
    // dependencies now, in case the instance is scaled in. Not awaited: the gather's completion does
    // not wait for the ingestion endpoint; flushTelemetry never throws.
    void flushTelemetry();
  }
  return result;
}

df.app.activity(FunctionNames.aggregateResponses, { handler: aggregateResponses });
