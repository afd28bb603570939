/** The four aggregations of docs/api.md computed directly over the values: the oracle the fact-based aggregation (src/gather/aggregation.ts, aggregate.ts) is checked against. */
import { EqualValueCounter } from "../../src/gather/equalValues";
import { getPath } from "../../src/gather/json";
import type { Aggregate, AggregateSpec, Json, RecipientResponse } from "../../src/gather/types";

type AnyResponse = Pick<RecipientResponse, "recipientId" | "status"> & { value?: Json };

export interface SucceededAnswer {
  recipientId: string;
  value: Json;
}

export function succeededAnswers(responses: readonly AnyResponse[]): SucceededAnswer[] {
  return responses.filter((r) => r.status === "succeeded").map((r) => ({ recipientId: r.recipientId, value: r.value ?? null }));
}

function numberAt(value: Json, field: string | undefined): number | undefined {
  const v = getPath(value, field);
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}

export function aggregate(spec: AggregateSpec, answers: readonly SucceededAnswer[]): Aggregate {
  switch (spec.kind) {
    case "collect": {
      // No prototype: an id like `__proto__` is an own key (a plain object's setter would swallow it),
      // and JSON.stringify writes it out like any other.
      const values: Record<string, Json> = Object.create(null);
      for (const a of answers) values[a.recipientId] = a.value;
      return { kind: "collect", values, count: answers.length };
    }
    case "best": {
      const field = spec.field ?? "";
      let best: { recipientId: string; value: Json; score: number } | undefined;
      for (const a of answers) {
        const score = numberAt(a.value, field);
        if (score === undefined) continue;
        // Strict comparison: on a tie the earlier answer stays best.
        if (!best || (spec.order === "max" ? score > best.score : score < best.score))
          best = { recipientId: a.recipientId, value: a.value, score };
      }
      return { kind: "best", field, order: spec.order, recipientId: best?.recipientId ?? null, value: best?.value ?? null };
    }
    case "summary": {
      const field = spec.field ?? "";
      let count = 0;
      let sum = 0;
      let min: number | null = null;
      let max: number | null = null;
      for (const a of answers) {
        const n = numberAt(a.value, field);
        if (n === undefined) continue;
        count++;
        sum += n;
        min = min === null || n < min ? n : min;
        max = max === null || n > max ? n : max;
      }
      return { kind: "summary", field, count, sum, average: count > 0 ? sum / count : null, min, max };
    }
    case "vote": {
      const votes = new EqualValueCounter();
      for (const a of answers) {
        const value = getPath(a.value, spec.field);
        if (value !== undefined) votes.add(value);
      }
      const winner = votes.leader;
      return {
        kind: "vote",
        ...(spec.field !== undefined ? { field: spec.field } : {}),
        value: winner?.value ?? null,
        count: winner?.count ?? 0,
      };
    }
  }
}
