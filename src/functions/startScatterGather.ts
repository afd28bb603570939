import type { HttpRequest, HttpResponseInit, InvocationContext } from "@azure/functions";
import { gatherApi } from "../http/register";
import * as df from "durable-functions";
import { randomUUID } from "node:crypto";
import { errorBody, summarize } from "../gather/errors";
import { concurrencyInput } from "../gather/concurrency";
import { batchIdPrefix } from "../gather/instanceIds";
import { CENSUS_INTERVAL_MS } from "../gather/census";
import { readLimits } from "../gather/limits";
import { validateGatherRequest } from "../gather/schema";
import type { OrchestrationInput } from "../gather/types";
import { findStatus, isActive } from "../durable/client";
import { FunctionNames } from "../durable/names";
import { readJsonBody } from "../http/body";
import { checkStatusResponse, gatherApiBase, managementUrls } from "../http/publicUrls";
import { RunPayloads } from "../gather/runPayloads";
import { repliesLater } from "../gather/transports";
import { getPayloadStore, newRunId } from "../payload";
import { jsonResponse } from "../http/responses";

export async function startScatterGather(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const limits = readLimits();
  const read = await readJsonBody(request, limits.maxRequestBytes);
  if (!read.ok) return read.response;
  const validation = validateGatherRequest(read.body, limits);
  if (!validation.ok) {
    return jsonResponse(400, errorBody("invalid_request", summarize(validation.details), validation.details));
  }
  const gather = validation.value;
  const client = df.getClient(context);
  const instanceId = gather.id ?? randomUUID().replace(/-/g, "");

  if (gather.id !== undefined) {
    const existing = await findStatus(client, instanceId);
    if (existing && isActive(existing)) return conflict(client, instanceId);
  }

  const urls = managementUrls(client, instanceId);
  const apiBase = gatherApiBase(client, instanceId);
  // The data goes to the payload store; the orchestration gets references (each run its own folder).
  const run = { instanceId, runId: newRunId() };
  const payloads = new RunPayloads(getPayloadStore(), run);
  await Promise.all([payloads.storeRequest(gather.request), gather.recipients ? payloads.storeRecipients(gather.recipients) : undefined]);
  const input: OrchestrationInput = {
    run,
    completion: gather.completion,
    aggregate: gather.aggregate,
    fanoutBatchSize: limits.fanoutBatchSize,
    responsesUri: `${apiBase}/responses`,
    ...(gather.recipients ? { recipientCount: gather.recipients.length } : {}),
    ...((gather.recipients?.length ?? 0) > limits.fanoutBatchSize
      ? {
          batchIdPrefix: batchIdPrefix(instanceId, run.runId),
          censusMs: CENSUS_INTERVAL_MS,
          ...(gather.completion.agree ? { censusVotes: true } : {}),
        }
      : {}),
    ...(gather.retry ? { retry: gather.retry } : {}),
    ...(gather.recipients?.some(repliesLater) ? { replies: true } : {}),
    ...(gather.onClose ? { onClose: gather.onClose } : {}),
    ...(gather.tolerance ? { tolerance: gather.tolerance } : {}),
    ...(gather.concurrency && gather.recipients ? concurrencyInput(gather.recipients, gather.concurrency, limits.fanoutBatchSize) : {}),
    ...(gather.auction
      ? {
          // The bidders' route; notifyResponder adds the run's token (never in history: answerTokens.ts).
          auction: { ...gather.auction, respondUrl: `${apiBase}/answers` },
          maxAnswers: limits.maxRecipients,
          maxAnswerBytes: limits.maxResponseBytes,
        }
      : {}),
  };
  try {
    await client.startNew(FunctionNames.orchestrator, { instanceId, input });
  } catch (error) {
    // Lost a race with another start of the same id.
    const again = await findStatus(client, instanceId);
    if (again && isActive(again)) return conflict(client, instanceId);
    throw error;
  }
  context.log(
    `Started ${FunctionNames.orchestrator} ${instanceId} with ${gather.recipients?.length ?? 0} recipients (${gather.completion.mode})`,
  );
  return checkStatusResponse(urls);
}

function conflict(client: df.DurableClient, instanceId: string): HttpResponseInit {
  const urls = managementUrls(client, instanceId);
  return jsonResponse(
    409,
    { ...errorBody("conflict", `instance ${instanceId} is still running`), ...urls },
    { Location: urls.statusQueryGetUri },
  );
}

gatherApi(FunctionNames.startScatterGather, "POST", "scatter-gather", startScatterGather);
