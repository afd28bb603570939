/**
 * The aggregation of docs/api.md, computed from answer facts as answers arrive (never from the values,
 * which stay in the payload store): which answer is best, the summary numbers, the vote counts.
 * At the end it says which stored answers the result needs (`AggregatePlan`); the aggregation
 * activity reads just those. Orders match recipient-list order (answer index), whatever the order
 * in which answers arrived: on a tie the lower index is best, and the vote goes to the value that
 * reached the winning count first in list order.
 */
import type { AnswerFacts } from "./facts";
import type { AggregateSpec } from "./types";

export type AggregatePlan =
  | { kind: "collect"; count: number; bytes: number }
  | { kind: "best"; field: string; order: "min" | "max"; index: number | null }
  | { kind: "summary"; field: string; count: number; sum: number; average: number | null; min: number | null; max: number | null }
  | { kind: "vote"; field?: string; index: number | null; count: number };

export class Aggregation {
  private count = 0;
  private bytes = 0;
  private sum = 0;
  private min: number | null = null;
  private max: number | null = null;
  private best: { index: number; score: number } | undefined;
  /** Vote: the answer indexes holding each voted value. */
  private readonly votes = new Map<string, number[]>();

  constructor(private readonly spec: AggregateSpec) {}

  add(index: number, facts: AnswerFacts): void {
    switch (this.spec.kind) {
      case "collect":
        this.count++;
        this.bytes += facts.bytes;
        return;
      case "best":
        if (facts.score === undefined) return;
        if (!this.best || this.beats(facts.score, index, this.best)) this.best = { index, score: facts.score };
        return;
      case "summary":
        if (facts.score === undefined) return;
        this.count++;
        this.sum += facts.score;
        this.min = this.min === null || facts.score < this.min ? facts.score : this.min;
        this.max = this.max === null || facts.score > this.max ? facts.score : this.max;
        return;
      case "vote": {
        if (facts.vote === undefined) return;
        const members = this.votes.get(facts.vote);
        if (members) members.push(index);
        else this.votes.set(facts.vote, [index]);
        return;
      }
    }
  }

  plan(): AggregatePlan {
    const { kind, field = "", order } = this.spec;
    switch (kind) {
      case "collect":
        return { kind, count: this.count, bytes: this.bytes };
      case "best":
        return { kind, field, order, index: this.best?.index ?? null };
      case "summary":
        return {
          kind,
          field,
          count: this.count,
          sum: this.sum,
          average: this.count > 0 ? this.sum / this.count : null,
          min: this.min,
          max: this.max,
        };
      case "vote":
        return { kind, ...(this.spec.field !== undefined ? { field: this.spec.field } : {}), ...this.voteWinner() };
    }
  }

  private beats(score: number, index: number, current: { index: number; score: number }): boolean {
    if (score === current.score) return index < current.index;
    return this.spec.order === "max" ? score > current.score : score < current.score;
  }

  /** The largest group; on a tie, the one whose count-th member comes first in list order. */
  private voteWinner(): { index: number | null; count: number } {
    let winner: { reachedAt: number; count: number; index: number } | undefined;
    for (const members of this.votes.values()) {
      members.sort((a, b) => a - b);
      const count = members.length;
      const reachedAt = members[count - 1];
      if (!winner || count > winner.count || (count === winner.count && reachedAt < winner.reachedAt)) {
        winner = { reachedAt, count, index: members[0] };
      }
    }
    return winner ? { index: winner.index, count: winner.count } : { index: null, count: 0 };
  }
}
