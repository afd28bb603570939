/**
 * The whole gather at the end of a redrive run: the earlier outcomes of its redrive document merged with the
 * run's own (gather/redrive.ts), the stored answers of every run readable through the merged entries' refs, and
 * the aggregate plan of the whole gather. The run's orchestrator knows the facts of its own answers only (its
 * indexes are the redriven recipients'), so the plan is made again here in list order, from the stored answers:
 * for `collect` from the refs' sizes (no read), otherwise one streamed pass (READ_AHEAD answers at a time), as
 * the facts of the first run were made.
 */
import type { AnswerSource } from "./aggregate";
import { readSucceeded } from "./aggregate";
import { Aggregation, type AggregatePlan } from "./aggregation";
import { answerFacts } from "./facts";
import type { RecipientOutcome } from "./outcomes";
import { countsOf, mergeOutcomes, type RedriveEntry } from "./redrive";
import type { RunPayloads } from "./runPayloads";
import type { AggregateSpec, Counts } from "./types";

export interface GatheredEntries {
  entries: RedriveEntry[];
  answers: AnswerSource;
  plan: AggregatePlan;
}

/** The whole gather's entries, answers and plan after redrive run `payloads.run` gathered `outcomes`. */
export async function redriveGathered(
  payloads: RunPayloads,
  spec: AggregateSpec,
  outcomes: readonly RecipientOutcome[],
): Promise<GatheredEntries & { counts: Counts }> {
  const doc = await payloads.redrive();
  const entries = mergeOutcomes(doc, outcomes, payloads.run.runId);
  const answers = answerSource(payloads, entries);
  const plan = await planOf(spec, entries, { ...answers, readAll: undefined });
  return { entries, answers, plan, counts: countsOf(entries) };
}

/** The stored answers of entries whose refs may name any run of the instance (RunPayloads reads across runs). */
export function answerSource(payloads: RunPayloads, entries: readonly RedriveEntry[]): AnswerSource {
  const ids = entries.map((e) => e.recipientId);
  const succeeded = entries.flatMap((e, i) => (e.status === "succeeded" ? [i] : []));
  const refs = succeeded.flatMap((i) => entries[i].answer ?? []);
  return {
    ids,
    succeeded,
    read: async (index) => {
      const ref = entries[index].answer;
      if (!ref)
        throw new Error(`the answer of recipient '${ids[index]}' (index ${index}) cannot be read: no stored answer is recorded for it`);
      return payloads.answer(ref);
    },
    ...(refs.length === succeeded.length ? { readAll: () => payloads.answersAt(refs) } : {}),
  };
}

/** The aggregate plan of the whole gather, in list order (ties and votes as in a single run). */
async function planOf(spec: AggregateSpec, entries: readonly RedriveEntry[], answers: AnswerSource): Promise<AggregatePlan> {
  const aggregation = new Aggregation(spec);
  if (spec.kind === "collect") {
    // What a collect plan needs is a count and the values' sizes: the refs know them (an upper bound).
    for (const index of answers.succeeded) aggregation.add(index, { bytes: entries[index].answer?.length ?? 0 });
    return aggregation.plan();
  }
  for await (const { index, answer } of readSucceeded(answers)) {
    if (answer) aggregation.add(index, answerFacts(answer.value, { agree: false, aggregate: spec }));
  }
  return aggregation.plan();
}
