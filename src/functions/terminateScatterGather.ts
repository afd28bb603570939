import type { HttpRequest, HttpResponseInit, InvocationContext } from "@azure/functions";
import { gatherApi } from "../http/register";
import { errorBody } from "../gather/errors";
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
  return jsonResponse(202, { id, terminated });
}

gatherApi(FunctionNames.terminateScatterGather, "POST", "scatter-gather/{id}/terminate", terminateScatterGather);
