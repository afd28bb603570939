import { app, type InvocationContext } from "@azure/functions";
import * as df from "durable-functions";
import { FunctionNames } from "../durable/names";
import { readLimits } from "../gather/limits";
import { REPLY_QUEUE } from "../gather/transports/queue";
import { takeQueuedReply } from "../http/replies";

/**
 * A queue recipient's reply from the reply queue (`{ requestId, recipientId, token, value | error }`, decoded per
 * host.json messageEncoding), taken as the answers route takes one (http/replies.ts). A malformed message or a
 * wrong token throws: the Storage-queues extension retries it and, after maxDequeueCount, moves it to
 * `scatter-gather-replies-poison`. A reply for a closed gather is logged and dropped; a second reply is dropped.
 * Neither the token nor the value is logged.
 */
export async function receiveReply(message: unknown, context: InvocationContext): Promise<void> {
  const verdict = await takeQueuedReply(df.getClient(context), message, readLimits().maxResponseBytes);
  const who = `recipient ${verdict.recipientId} of ${verdict.requestId}`;
  if (verdict.kind === "closed") context.warn(`reply of ${who} dropped: ${verdict.message}`);
  else if (verdict.kind === "duplicate") context.log(`reply of ${who} dropped: it had replied already (the first reply stands)`);
  else context.log(`reply of ${who} taken`);
}

app.storageQueue(FunctionNames.receiveReply, {
  queueName: REPLY_QUEUE,
  connection: "AzureWebJobsStorage",
  extraInputs: [df.input.durableClient()],
  handler: receiveReply,
});
