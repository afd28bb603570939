import * as df from "durable-functions";
import { readSucceeded } from "../gather/aggregate";
import { answerFacts } from "../gather/facts";
import { agreementSeed, type RedriveAgreementInput } from "../gather/redrive";
import { answerSource } from "../gather/redriveResult";
import { RunPayloads } from "../gather/runPayloads";
import { FunctionNames } from "../durable/names";
import { getPayloadStore } from "../payload";

/**
 * A redrive of an agreement quorum: the digests of the answers it keeps (every earlier run's, read back from the
 * store, READ_AHEAD at a time) counted by value, only the groups that can still reach the quorum (gather/redrive.ts
 * agreementSeed). What the orchestrator gets is bounded by the earlier successes, never by their values.
 */
export async function redriveAgreement(input: RedriveAgreementInput): Promise<[string, number][]> {
  const payloads = new RunPayloads(getPayloadStore(), input.run);
  const doc = await payloads.redrive();
  const answers = { ...answerSource(payloads, doc.entries), readAll: undefined };
  const digests: string[] = [];
  for await (const { answer } of readSucceeded(answers)) {
    if (answer) digests.push(answerFacts(answer.value, { agree: true, aggregate: { kind: "collect", order: "min" } }).digest!);
  }
  return agreementSeed(digests, doc.indexes.length, input.quorum);
}

df.app.activity(FunctionNames.redriveAgreement, { handler: redriveAgreement });
