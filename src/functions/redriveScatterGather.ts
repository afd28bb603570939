import type { HttpRequest, HttpResponseInit, InvocationContext } from "@azure/functions";
import type * as df from "durable-functions";
import { gatherApi } from "../http/register";
import { errorBody } from "../gather/errors";
import { readLimits } from "../gather/limits";
import { parseRedriveStatuses } from "../gather/redrive";
import { abandonRedrive, prepareRedrive } from "../gather/redriveRun";
import type { OrchestrationInput } from "../gather/types";
import { findStatus, isActive, purgeBatches, runIdOf } from "../durable/client";
import { FunctionNames } from "../durable/names";
import { findGather } from "../http/gatherRoute";
import { checkStatusResponse, managementUrls } from "../http/publicUrls";
import { jsonResponse } from "../http/responses";
import { getPayloadStore, newRunId, readPayloadStoreConfig } from "../payload";

/**
 * POST /api/scatter-gather/{id}/redrive?status=failed,timedOut,abandoned: runs the recipients of a Completed
 * gather that ended with those statuses again, as a new run of the same id under the same request and policy
 * (gather/redrive.ts). The new run's folder and input are prepared by gather/redriveRun.ts: the folder gets a
 * copy of the request, the redriven recipients and the redrive document; the input gets references and
 * counts only, so it stays bounded whatever the number of recipients.
 */
export async function redriveScatterGather(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const statuses = parseRedriveStatuses(request.query.get("status"));
  if (!statuses.ok)
    return jsonResponse(400, errorBody("invalid_request", `status: ${statuses.message}`, [{ path: "status", message: statuses.message }]));
  const gather = await findGather(request, context, { showInput: true });
  if (!gather.found) return gather.response;
  const { id, client, status } = gather;
  const refused = refusal(client, status);
  if (refused) return refused;
  const input = status.input as OrchestrationInput;
  const prepared = await prepareRedrive(getPayloadStore(), input, statuses.value, {
    runId: newRunId(),
    fanoutBatchSize: readLimits().fanoutBatchSize,
    retentionDays: readPayloadStoreConfig(process.env).retentionDays,
  });
  if (!prepared.ok) {
    const details = prepared.status === 400 ? [{ path: "status", message: prepared.message }] : undefined;
    return jsonResponse(prepared.status, errorBody(prepared.status === 400 ? "invalid_request" : "conflict", prepared.message, details));
  }
  try {
    // The earlier run's batches are finished; once the new run owns the id, nothing would find them to purge.
    await purgeBatches(client, status);
    await client.startNew(FunctionNames.orchestrator, { instanceId: id, input: prepared.input });
  } catch (error) {
    // Not started: the prepared run folder goes and the earlier run may be redriven again.
    await abandonRedrive(getPayloadStore(), input, prepared.input.run.runId).catch(() => undefined);
    // Lost a race with a start of the same id (a redrive of the same run is refused by its claim).
    const again = await findStatus(client, id, true);
    if (again && isActive(again)) return running(client, id);
    if (again && runIdOf(again) !== input.run.runId)
      return conflict(`scatter-gather ${id} was started again meanwhile: redrive its latest run`);
    throw error;
  }
  context.log(`Redrive ${prepared.redrives} of scatter-gather ${id}: ${prepared.recipients} recipient(s) (${statuses.value.join(",")})`);
  return checkStatusResponse(managementUrls(client, id));
}

/** 409 unless the gather ended Completed and was not an auction (nobody was called: nobody to call again). */
function refusal(client: df.DurableClient, status: df.DurableOrchestrationStatus): HttpResponseInit | undefined {
  const id = status.instanceId;
  if (isActive(status)) return running(client, id);
  if (String(status.runtimeStatus) !== "Completed")
    return conflict(`scatter-gather ${id} is ${status.runtimeStatus}: only a Completed gather can be redriven`);
  if ((status.input as Partial<OrchestrationInput> | null)?.auction)
    return conflict(`scatter-gather ${id} is an auction: its answers came from responders, so there is nobody to call again`);
  return undefined;
}

function running(client: df.DurableClient, id: string): HttpResponseInit {
  const urls = managementUrls(client, id);
  return jsonResponse(
    409,
    { ...errorBody("conflict", `scatter-gather ${id} is still running`), ...urls },
    { Location: urls.statusQueryGetUri },
  );
}

function conflict(message: string): HttpResponseInit {
  return jsonResponse(409, errorBody("conflict", message));
}

gatherApi(FunctionNames.redriveScatterGather, "POST", "scatter-gather/{id}/redrive", redriveScatterGather);
