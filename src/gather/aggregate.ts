/**
 * docs/api.md's aggregate, resolved at the end of a gather from the plan its answer facts made
 * (aggregation.ts): it reads only the stored answers the result names (the best one, one of the
 * winning vote), or, for `collect`, the answers while they fit the inline budget.
 */
import type { AggregatePlan } from "./aggregation";
import { getPath } from "./json";
import type { StoredAnswer } from "./runPayloads";
import type { PackedOutcomes } from "./outcomes";
import type { Aggregate, AggregateSpec, CompletionMode, GatherResult, Json, RunRef } from "./types";

/** What the orchestrator hands the aggregation: references, the plan, packed outcomes (all bounded). */
export interface AggregationInput {
  /** Marks this execution's gather closed so its stragglers stop (closing.ts). */
  closeKey?: string;
  run: RunRef;
  spec: AggregateSpec;
  plan: AggregatePlan;
  outcomes: PackedOutcomes;
  /** Auctions: chunks of responder names in arrival order (recordArrivals). */
  arrivalChunks?: number;
  /** A redrive run: its outcomes are merged with the earlier ones of its redrive document (gather/redrive.ts). */
  redrives?: number;
  summary: Omit<GatherResult, "responses" | "aggregate">;
  report: { mode: CompletionMode; auction: boolean };
}

export interface AnswerSource {
  /** Recipient ids (or responders) by index. */
  ids: readonly string[];
  /** Indexes of the succeeded answers, in order. */
  succeeded: readonly number[];
  read(index: number): Promise<StoredAnswer | undefined>;
  /**
   * Every succeeded answer at once, in `succeeded` order, when the store can serve them in fewer
   * requests than one per answer (answer groups). Called only for answers that fit the inline budget.
   */
  readAll?(): Promise<(StoredAnswer | undefined)[]>;
}

/** How many answers are read ahead: bounds memory to a few answers while hiding the store's latency. */
const READ_AHEAD = 16;

/**
 * The succeeded answers in index order: all at once where the source reads them in bulk (callers make
 * sure they fit the inline budget), otherwise `READ_AHEAD` at a time, never all held at once.
 */
export async function* readSucceeded(answers: AnswerSource): AsyncGenerator<{ index: number; answer: StoredAnswer | undefined }> {
  if (answers.readAll) {
    const all = await answers.readAll();
    for (let i = 0; i < answers.succeeded.length; i++) yield { index: answers.succeeded[i], answer: all[i] };
    return;
  }
  const pending: { index: number; read: Promise<StoredAnswer | undefined> }[] = [];
  let next = 0;
  const fill = () => {
    while (pending.length < READ_AHEAD && next < answers.succeeded.length) {
      const index = answers.succeeded[next++];
      const read = answers.read(index);
      read.catch(() => undefined); // awaited below, in order; no unhandled rejection meanwhile
      pending.push({ index, read });
    }
  };
  fill();
  while (pending.length > 0) {
    const head = pending.shift()!;
    const answer = await head.read;
    fill();
    yield { index: head.index, answer };
  }
}

export async function resolveAggregate(plan: AggregatePlan, answers: AnswerSource, inlineBytes: number): Promise<Aggregate> {
  switch (plan.kind) {
    case "collect": {
      if (plan.bytes + plan.count * 140 > inlineBytes) return { kind: "collect", count: plan.count };
      // No prototype: an id like `__proto__` is an own key (a plain object's setter would swallow it),
      // and JSON.stringify writes it out like any other.
      const values: Record<string, Json> = Object.create(null);
      for await (const { index, answer } of readSucceeded(answers)) values[answers.ids[index]] = answer?.value ?? null;
      return { kind: "collect", values, count: plan.count };
    }
    case "best": {
      const winner = plan.index === null ? undefined : await answers.read(plan.index);
      return {
        kind: "best",
        field: plan.field,
        order: plan.order,
        recipientId: plan.index === null ? null : answers.ids[plan.index],
        value: winner?.value ?? null,
      };
    }
    case "summary":
      return plan;
    case "vote": {
      const winner = plan.index === null ? undefined : await answers.read(plan.index);
      const value = winner ? getPath(winner.value, plan.field) : undefined;
      return { kind: "vote", ...(plan.field !== undefined ? { field: plan.field } : {}), value: value ?? null, count: plan.count };
    }
  }
}
