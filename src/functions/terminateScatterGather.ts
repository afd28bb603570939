import type { HttpRequest, HttpResponseInit, InvocationContext } from "@azure/functions";
import { gatherApi } from "../http/register";
import * as df from "durable-functions";
import type { NotifyInput } from "../durable/notifyClose";
import { closeEvent } from "../gather/closeEvent";
import { errorBody } from "../gather/errors";
import { notifyInstanceId } from "../gather/instanceIds";
import type { GatherProgress, OrchestrationInput } from "../gather/types";
import { durableRpcBaseUrl, isActive, terminateGather } from "../durable/client";
import { FunctionNames } from "../durable/names";
import { findGather } from "../http/gatherRoute";
import { jsonResponse } from "../http/responses";
import { liveProgress } from "../views/gatherStatus";

/**
 * Terminates a running gather together with its batch sub-orchestrations (the host's terminatePostUri
 * reaches the gather only). Calls already queued then end without reaching their recipients
 * (callRecipient checks that its gather still runs); calls in flight run to their own timeout.
 */
async function terminateScatterGather(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const gather = await findGather(request, context, { showInput: true });
  if (!gather.found) return gather.response;
  const { id, client, status } = gather;
  if (!isActive(status))
    return jsonResponse(410, errorBody("gone", `scatter-gather ${id} is ${status.runtimeStatus}: nothing to terminate`));
  // Closed, its result written, its close event being delivered: a terminate would throw the result away and send a
  // second, contradicting event under the same id.
  if ((status.customStatus as Partial<GatherProgress> | null)?.phase === "done")
    return jsonResponse(
      410,
      errorBody(
        "gone",
        `scatter-gather ${id} has closed (its result is written; its close event is being delivered): nothing to terminate`,
      ),
    );
  // What it had settled, its batches' included, read before they stop: what the close event reports.
  const progress = input(status)?.onClose ? await liveProgress(status, durableRpcBaseUrl(context), (m) => context.warn(m)) : null;
  const reason = request.query.get("reason") ?? "terminated through the scatter-gather API";
  const terminated = await terminateGather(client, status, reason);
  context.log(`Terminated scatter-gather ${id} (${terminated} instance(s))`);
  await notifyTerminated(client, status, progress as Partial<GatherProgress> | null);
  return jsonResponse(202, { id, terminated });
}

/** A terminated gather cannot send its close event: an orchestration of its own does (notifyClose.ts). */
async function notifyTerminated(
  client: df.DurableClient,
  status: df.DurableOrchestrationStatus,
  progress: Partial<GatherProgress> | null,
): Promise<void> {
  const given = input(status);
  if (!given?.onClose || !given.run || !given.responsesUri) return;
  const total = progress?.total ?? given.recipientCount ?? 0;
  const succeeded = progress?.succeeded ?? 0;
  const failed = progress?.failed ?? 0;
  // A redrive's earlier timed-out recipients it did not run again stay timed out; everyone else unsettled is abandoned.
  const timedOut = Math.min(given.redrive?.kept.timedOut ?? 0, Math.max(0, total - succeeded - failed));
  const event = closeEvent({
    id: status.instanceId,
    runId: given.run.runId,
    outcome: "terminated",
    closedBy: "terminated",
    counts: { total, succeeded, failed, timedOut, abandoned: Math.max(0, total - succeeded - failed - timedOut) },
    responsesUri: given.responsesUri,
    time: new Date().toISOString(),
  });
  await client.startNew(FunctionNames.notifyGatherClosed, {
    instanceId: notifyInstanceId(status.instanceId, given.run.runId),
    input: { url: given.onClose.url, event } satisfies NotifyInput,
  });
}

function input(status: df.DurableOrchestrationStatus): Partial<OrchestrationInput> | null {
  return status.input as Partial<OrchestrationInput> | null;
}

gatherApi(FunctionNames.terminateScatterGather, "POST", "scatter-gather/{id}/terminate", terminateScatterGather);
