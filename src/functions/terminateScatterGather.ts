import type { HttpRequest, HttpResponseInit, InvocationContext } from "@azure/functions";
import { gatherApi } from "../http/register";
import * as df from "durable-functions";
import type { NotifyInput } from "../durable/notifyClose";
import { closeEvent } from "../gather/closeEvent";
import { errorBody } from "../gather/errors";
import { notifyInstanceId } from "../gather/instanceIds";
import type { GatherProgress, OrchestrationInput } from "../gather/types";
import { isActive, terminateGather } from "../durable/client";
import { FunctionNames } from "../durable/names";
import { findGather } from "../http/gatherRoute";
import { jsonResponse } from "../http/responses";

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
  const reason = request.query.get("reason") ?? "terminated through the scatter-gather API";
  const terminated = await terminateGather(client, status, reason);
  context.log(`Terminated scatter-gather ${id} (${terminated} instance(s))`);
  await notifyTerminated(client, status);
  return jsonResponse(202, { id, terminated });
}

/** A terminated gather cannot send its close event: an orchestration of its own does (notifyClose.ts). */
async function notifyTerminated(client: df.DurableClient, status: df.DurableOrchestrationStatus): Promise<void> {
  const input = status.input as Partial<OrchestrationInput> | null;
  if (!input?.onClose || !input.run || !input.responsesUri) return;
  const progress = status.customStatus as Partial<GatherProgress> | null;
  const total = progress?.total ?? input.recipientCount ?? 0;
  const succeeded = progress?.succeeded ?? 0;
  const failed = progress?.failed ?? 0;
  const event = closeEvent({
    id: status.instanceId,
    runId: input.run.runId,
    outcome: "terminated",
    closedBy: "terminated",
    counts: { total, succeeded, failed, timedOut: 0, abandoned: Math.max(0, total - succeeded - failed) },
    responsesUri: input.responsesUri,
    time: new Date().toISOString(),
  });
  await client.startNew(FunctionNames.notifyGatherClosed, {
    instanceId: notifyInstanceId(status.instanceId, input.run.runId),
    input: { url: input.onClose.url, event } satisfies NotifyInput,
  });
}

gatherApi(FunctionNames.terminateScatterGather, "POST", "scatter-gather/{id}/terminate", terminateScatterGather);
