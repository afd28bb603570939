import type { InvocationContext } from "@azure/functions";
import * as df from "durable-functions";
import { FunctionNames } from "../durable/names";
import { notifyGatherClosed, type NotifyAttempt, type NotifyInput } from "../durable/notifyClose";
import { postCloseEvent, webhookKey } from "../http/webhooks";
import { getPayloadStore } from "../payload";

/** One signed POST of a gather's close event; never throws (the orchestration decides about retries). */
async function deliverCloseEvent(input: NotifyInput, context: InvocationContext): Promise<NotifyAttempt> {
  try {
    const { delivered, status, error } = await postCloseEvent(input.url, input.event, await webhookKey(getPayloadStore));
    if (!delivered) context.warn(`close event ${input.event.id} not delivered: ${error}`);
    return { delivered, status };
  } catch (error) {
    // No signing secret (or no store): a failed attempt, never a failed gather.
    context.error(`close event ${input.event.id} could not be sent: ${(error as Error).message}`);
    return { delivered: false, status: null };
  }
}

df.app.activity(FunctionNames.deliverCloseEvent, { handler: deliverCloseEvent });
df.app.orchestration(FunctionNames.notifyGatherClosed, notifyGatherClosed);
