import type { InvocationContext } from "@azure/functions";
import * as df from "durable-functions";
import { CLOSE_EVENT, FunctionNames } from "../durable/names";

/**
 * Closes the batches of a large fan-out that are still running once their parent gather has decided:
 * each gets CLOSE_EVENT and ends at once, cancelling its deadline and retry timers. Never throws: a
 * batch that finished meanwhile (the client answers 404/410) needs no closing.
 */
async function closeBatches(input: { instanceIds: string[] }, context: InvocationContext): Promise<{ closed: number }> {
  const client = df.getClient(context);
  let closed = 0;
  for (const instanceId of input.instanceIds) {
    try {
      await client.raiseEvent(instanceId, CLOSE_EVENT, null);
      closed++;
    } catch (error) {
      context.log(`batch ${instanceId} was not closed: ${(error as Error).message}`);
    }
  }
  return { closed };
}

df.app.activity(FunctionNames.closeBatches, { handler: closeBatches, extraInputs: [df.input.durableClient()] });
