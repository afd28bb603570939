/** closeBatches' raising of the close event (src/durable/client.ts closeBatchInstances). */
import type { DurableClient } from "durable-functions";
import { closeBatchInstances } from "../../src/durable/client";

/** A client whose raiseEvent answers from `script` per instance, one answer per call (the last one repeats). */
function clientOf(script: Record<string, (Error | "ok")[]>): { client: DurableClient; calls: string[] } {
  const calls: string[] = [];
  const client = {
    raiseEvent: async (instanceId: string, eventName: string) => {
      calls.push(`${instanceId}:${eventName}`);
      const answers = script[instanceId];
      const answer = answers.length > 1 ? answers.shift()! : answers[0];
      if (answer !== "ok") throw answer;
    },
  } as unknown as DurableClient;
  return { client, calls };
}

test("each batch gets close; a failed raise is tried again, a gone batch is not, one that keeps failing is logged", async () => {
  const { client, calls } = clientOf({
    b0: ["ok"],
    b1: [new Error("Webhook returned unrecognized status code 503"), "ok"],
    b2: [new Error("No instance with ID 'b2' found.")],
    b3: [new Error("socket hang up")],
  });
  const logged: string[] = [];
  const waits: number[] = [];
  const closed = await closeBatchInstances(client, ["b0", "b1", "b2", "b3"], {
    log: (m) => logged.push(m),
    sleep: async (ms) => void waits.push(ms),
  });
  expect(closed).toBe(2);
  expect(calls).toEqual(["b0:close", "b1:close", "b1:close", "b2:close", "b3:close", "b3:close", "b3:close"]);
  expect(waits).toEqual([500, 500, 1000]);
  expect(logged).toEqual(["batch b2 was not closed: No instance with ID 'b2' found.", "batch b3 was not closed: socket hang up"]);
});
