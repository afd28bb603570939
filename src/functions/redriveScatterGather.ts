import type { HttpRequest, HttpResponseInit, InvocationContext } from "@azure/functions";
import type * as df from "durable-functions";
import { gatherApi } from "../http/register";
import { concurrencyInput } from "../gather/concurrency";
import { errorBody } from "../gather/errors";
import { batchIdPrefix } from "../gather/instanceIds";
import { readLimits } from "../gather/limits";
import { parseRedriveStatuses, planRedrive } from "../gather/redrive";
import { RunPayloads } from "../gather/runPayloads";
import type { OrchestrationInput } from "../gather/types";
import { findStatus, isActive, purgeBatches } from "../durable/client";
import { FunctionNames } from "../durable/names";
import { findGather } from "../http/gatherRoute";
import { checkStatusResponse, managementUrls } from "../http/publicUrls";
import { jsonResponse } from "../http/responses";
import { getPayloadStore, newRunId } from "../payload";

/**
 * POST /api/scatter-gather/{id}/redrive?status=failed,timedOut,abandoned: runs the recipients of a Completed
 * gather that ended with those statuses again, as a new run of the same id under the same request and policy
 * (gather/redrive.ts). The new run's folder gets a copy of the request, the redriven recipients (in list
 * order) and the redrive document (the earlier outcomes, which recipients these are); the orchestration input
 * gets references and counts only, so it stays bounded whatever the number of recipients.
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
  const store = getPayloadStore();
  const previous = new RunPayloads(store, input.run);
  const result = await previous.result();
  if (!result) return conflict(`scatter-gather ${id} has no stored result to redrive from`);
  const plan = planRedrive(result, input.run.runId, statuses.value);
  if (!plan.ok) return jsonResponse(400, errorBody("invalid_request", plan.message, [{ path: "status", message: plan.message }]));

  const limits = readLimits();
  // The gather's whole recipient list is the first run's; every later run stores the recipients it calls.
  const listRunId = input.redrive?.listRunId ?? input.run.runId;
  const [recipients, body] = await Promise.all([
    new RunPayloads(store, { instanceId: id, runId: listRunId }).recipients(),
    previous.request(),
  ]);
  const subset = plan.indexes.map((index) => recipients[index]);
  const run = { instanceId: id, runId: newRunId() };
  const redrives = (input.redrive?.redrives ?? 0) + 1;
  const next = new RunPayloads(store, run);
  await Promise.all([
    next.storeRequest(body),
    next.storeRecipients(subset),
    next.storeRedrive({ redrives, previousRunId: input.run.runId, listRunId, indexes: plan.indexes, entries: plan.entries }),
  ]);
  const { recipientCount: _count, batchIdPrefix: _prefix, origins: _origins, batchSlots: _slots, ...policy } = input;
  const nextInput: OrchestrationInput = {
    ...policy,
    run,
    recipientCount: subset.length,
    fanoutBatchSize: limits.fanoutBatchSize,
    ...(subset.length > limits.fanoutBatchSize ? { batchIdPrefix: batchIdPrefix(id, run.runId) } : {}),
    ...(input.concurrency ? concurrencyInput(subset, input.concurrency, limits.fanoutBatchSize) : {}),
    redrive: { redrives, listRunId, kept: plan.kept },
  };
  // The earlier run's batches are finished; once the new run owns the id, nothing would find them to purge.
  await purgeBatches(client, status);
  try {
    await client.startNew(FunctionNames.orchestrator, { instanceId: id, input: nextInput });
  } catch (error) {
    // Lost a race with another start or redrive of the same id.
    const again = await findStatus(client, id);
    if (again && isActive(again)) return running(client, id);
    throw error;
  }
  context.log(`Redrive ${redrives} of scatter-gather ${id}: ${subset.length} recipient(s) (${statuses.value.join(",")})`);
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
