/** Counting answers by deep JSON equality: agreement quorums and the vote aggregation. */
import { canonicalJson } from "./json";
import type { Json } from "./types";

export class EqualValueCounter {
  private readonly groups = new Map<string, { value: Json; count: number }>();
  private top: { value: Json; count: number } | undefined;

  /** One more answer equal to `value` (`times` more: a redrive's earlier answers, counted at once). */
  add(value: Json, times = 1): void {
    const key = canonicalJson(value);
    const group = this.groups.get(key) ?? { value, count: 0 };
    group.count += times;
    this.groups.set(key, group);
    // Strictly greater: on a tie the value that reached the count first stays on top.
    if (!this.top || group.count > this.top.count) this.top = group;
  }

  /** The size of the largest group of equal values (0 when empty). */
  get largest(): number {
    return this.top?.count ?? 0;
  }

  /** How many answers equal `value`. */
  countOf(value: Json): number {
    return this.groups.get(canonicalJson(value))?.count ?? 0;
  }

  /** The `k` largest groups, largest first (on a tie, the first to reach that count first). */
  leaders(k: number): { value: Json; count: number }[] {
    return [...this.groups.values()].sort((a, b) => b.count - a.count).slice(0, k);
  }

  /** The most frequent value, the first to reach that count on a tie; undefined when empty. */
  get leader(): { value: Json; count: number } | undefined {
    return this.top;
  }
}
