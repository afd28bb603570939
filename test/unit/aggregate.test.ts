/**
 * The aggregation as the service runs it: each answer reduced to its facts as it arrives (facts.ts),
 * folded into an Aggregation (aggregation.ts), resolved at the end by reading only the answers the
 * plan names (aggregate.ts). Checked case by case, and against the oracle that aggregates the values
 * directly (aggregateOracle.ts), on answers arriving in any order.
 */
import { resolveAggregate } from "../../src/gather/aggregate";
import { Aggregation } from "../../src/gather/aggregation";
import { answerFacts } from "../../src/gather/facts";
import type { Aggregate, AggregateSpec, Json } from "../../src/gather/types";
import { aggregate as oracle, succeededAnswers, type SucceededAnswer } from "./aggregateOracle";

/** The pipeline over answers in list order, fed to the Aggregation in `arrival` order. */
async function aggregate(
  spec: AggregateSpec,
  list: SucceededAnswer[],
  arrival: number[] = list.map((_, i) => i),
  inlineBytes = 1 << 20,
): Promise<Aggregate> {
  const aggregation = new Aggregation(spec);
  for (const index of arrival) aggregation.add(index, answerFacts(list[index].value, { agree: false, aggregate: spec }));
  const reads: number[] = [];
  const result = await resolveAggregate(
    aggregation.plan(),
    {
      ids: list.map((a) => a.recipientId),
      succeeded: list.map((_, i) => i),
      read: async (index) => {
        reads.push(index);
        return { recipientId: list[index].recipientId, value: list[index].value };
      },
    },
    inlineBytes,
  );
  if (spec.kind === "best" || spec.kind === "vote") expect(reads.length).toBeLessThanOrEqual(1);
  if (spec.kind === "summary") expect(reads).toEqual([]);
  return result;
}

/** Answers from [recipientId, value] pairs, in order. */
function answers(...pairs: [string, Json][]): SucceededAnswer[] {
  return pairs.map(([recipientId, value]) => ({ recipientId, value }));
}

const best = (field: string, order: "min" | "max" = "min"): AggregateSpec => ({ kind: "best", field, order });
const summary = (field: string): AggregateSpec => ({ kind: "summary", field, order: "min" });
const vote = (field?: string): AggregateSpec => ({ kind: "vote", order: "min", ...(field !== undefined ? { field } : {}) });

describe("aggregate: collect", () => {
  test("every successful value by recipient id", async () => {
    expect(await aggregate({ kind: "collect", order: "min" }, answers(["a", { p: 1 }], ["b", null], ["c", [1, 2]]))).toEqual({
      kind: "collect",
      values: { a: { p: 1 }, b: null, c: [1, 2] },
      count: 3,
    });
  });

  test("values over the inline budget: only the count (the values are read page by page)", async () => {
    const list = answers(["a", "x".repeat(600)], ["b", "y".repeat(600)]);
    expect(await aggregate({ kind: "collect", order: "min" }, list, [0, 1], 1000)).toEqual({ kind: "collect", count: 2 });
  });

  test("ids named after Object.prototype's properties are own keys, and JSON keeps them", async () => {
    const ids = ["__proto__", "constructor", "toString", "hasOwnProperty", "valueOf"];
    const result = await aggregate({ kind: "collect", order: "min" }, answers(...ids.map((id, i): [string, Json] => [id, { n: i }])));
    const values = (result as { values: Record<string, Json> }).values;
    expect(Object.keys(values)).toEqual(ids);
    ids.forEach((id, i) => expect(Object.getOwnPropertyDescriptor(values, id)?.value).toEqual({ n: i }));
    const text = JSON.stringify(result);
    expect(text).toBe(
      '{"kind":"collect","values":{"__proto__":{"n":0},"constructor":{"n":1},"toString":{"n":2},"hasOwnProperty":{"n":3},"valueOf":{"n":4}},"count":5}',
    );
    // And it survives a JSON round trip (as through the durable history).
    expect(Object.keys(JSON.parse(text).values)).toEqual(ids);
  });

  test("nothing succeeded: an empty object", async () => {
    expect(await aggregate({ kind: "collect", order: "min" }, [])).toEqual({ kind: "collect", values: {}, count: 0 });
  });
});

describe("aggregate: fields named after prototype properties", () => {
  test("vote, best and summary read own fields only", async () => {
    const values = answers(["a", { x: 1 }], ["b", { x: 2 }]);
    expect(await aggregate(vote("constructor"), values)).toEqual({ kind: "vote", field: "constructor", value: null, count: 0 });
    expect(await aggregate(vote("__proto__"), values)).toEqual({ kind: "vote", field: "__proto__", value: null, count: 0 });
    expect(await aggregate(best("toString"), values)).toMatchObject({ recipientId: null, value: null });
    expect(await aggregate(summary("x.length"), answers(["a", { x: [1, 2] }]))).toMatchObject({ count: 0 });
    // An own field of that name is an ordinary field.
    expect(
      await aggregate(best("constructor"), answers(["a", JSON.parse('{"constructor":5}')], ["b", JSON.parse('{"constructor":3}')])),
    ).toMatchObject({ recipientId: "b" });
  });
});

describe("aggregate: best", () => {
  const quotes = answers(["a", { price: 45 }], ["b", { price: 40 }], ["c", { price: 50 }]);

  test("min picks the lowest", async () => {
    expect(await aggregate(best("price"), quotes)).toEqual({
      kind: "best",
      field: "price",
      order: "min",
      recipientId: "b",
      value: { price: 40 },
    });
  });

  test("max picks the highest", async () => {
    expect(await aggregate(best("price", "max"), quotes)).toEqual({
      kind: "best",
      field: "price",
      order: "max",
      recipientId: "c",
      value: { price: 50 },
    });
  });

  test("a nested dot path", async () => {
    const nested = answers(["a", { quote: { price: 9 } }], ["b", { quote: { price: 7.5 } }], ["c", { quote: {} }]);
    expect(await aggregate(best("quote.price"), nested)).toEqual({
      kind: "best",
      field: "quote.price",
      order: "min",
      recipientId: "b",
      value: { quote: { price: 7.5 } },
    });
  });

  test("ties keep the earlier answer (min and max)", async () => {
    const tied = answers(["a", { price: 5, tag: "first" }], ["b", { price: 5, tag: "second" }], ["c", { price: 6 }]);
    expect(await aggregate(best("price"), tied)).toMatchObject({ recipientId: "a", value: { price: 5, tag: "first" } });
    const tiedMax = answers(["a", { price: 1 }], ["b", { price: 9, tag: "first" }], ["c", { price: 9, tag: "second" }]);
    expect(await aggregate(best("price", "max"), tiedMax)).toMatchObject({ recipientId: "b", value: { price: 9, tag: "first" } });
  });

  test("non-numeric and missing fields are skipped", async () => {
    const mixed = answers(
      ["a", { price: "1" }],
      ["b", {}],
      ["c", null],
      ["d", { price: null }],
      ["e", 3],
      ["f", { price: 12 }],
      ["g", { price: true }],
      ["h", { price: 20 }],
    );
    expect(await aggregate(best("price"), mixed)).toEqual({
      kind: "best",
      field: "price",
      order: "min",
      recipientId: "f",
      value: { price: 12 },
    });
  });

  test("negative numbers and zero compare as numbers", async () => {
    const signed = answers(["a", { p: 0 }], ["b", { p: -3 }], ["c", { p: 2 }]);
    expect(await aggregate(best("p"), signed)).toMatchObject({ recipientId: "b" });
    expect(await aggregate(best("p", "max"), signed)).toMatchObject({ recipientId: "c" });
  });

  test("nothing usable: recipientId null and value null", async () => {
    expect(await aggregate(best("price"), [])).toEqual({ kind: "best", field: "price", order: "min", recipientId: null, value: null });
    expect(await aggregate(best("price"), answers(["a", { cost: 1 }]))).toEqual({
      kind: "best",
      field: "price",
      order: "min",
      recipientId: null,
      value: null,
    });
  });
});

describe("aggregate: summary", () => {
  test("count, sum, average, min and max of the numeric field", async () => {
    const values = answers(["a", { n: 4 }], ["b", { n: 10 }], ["c", { n: "x" }], ["d", { n: -2 }], ["e", {}]);
    expect(await aggregate(summary("n"), values)).toEqual({ kind: "summary", field: "n", count: 3, sum: 12, average: 4, min: -2, max: 10 });
  });

  test("a nested field and a fractional average", async () => {
    const values = answers(["a", { q: { p: 1 } }], ["b", { q: { p: 2 } }]);
    expect(await aggregate(summary("q.p"), values)).toEqual({
      kind: "summary",
      field: "q.p",
      count: 2,
      sum: 3,
      average: 1.5,
      min: 1,
      max: 2,
    });
  });

  test("a single value", async () => {
    expect(await aggregate(summary("n"), answers(["a", { n: 0 }]))).toEqual({
      kind: "summary",
      field: "n",
      count: 1,
      sum: 0,
      average: 0,
      min: 0,
      max: 0,
    });
  });

  test("nothing numeric: count 0, sum 0, average/min/max null", async () => {
    expect(await aggregate(summary("n"), [])).toEqual({
      kind: "summary",
      field: "n",
      count: 0,
      sum: 0,
      average: null,
      min: null,
      max: null,
    });
    expect(await aggregate(summary("n"), answers(["a", { n: "5" }]))).toEqual({
      kind: "summary",
      field: "n",
      count: 0,
      sum: 0,
      average: null,
      min: null,
      max: null,
    });
  });
});

describe("aggregate: vote", () => {
  test("the most frequent whole value and its count", async () => {
    const values = answers(["a", "yes"], ["b", "no"], ["c", "yes"], ["d", "maybe"]);
    expect(await aggregate(vote(), values)).toEqual({ kind: "vote", value: "yes", count: 2 });
  });

  test("deep equality: key order does not matter", async () => {
    const values = answers(["a", { x: 1, y: [1, 2] }], ["b", { z: 0 }], ["c", { y: [1, 2], x: 1 }]);
    expect(await aggregate(vote(), values)).toEqual({ kind: "vote", value: { x: 1, y: [1, 2] }, count: 2 });
  });

  test("by field; answers without the field are skipped", async () => {
    const values = answers(["a", { d: { v: "B" } }], ["b", { d: { v: "A" } }], ["c", { d: {} }], ["d", { d: { v: "A" } }], ["e", 5]);
    expect(await aggregate(vote("d.v"), values)).toEqual({ kind: "vote", field: "d.v", value: "A", count: 2 });
  });

  test("null is a value that can win", async () => {
    expect(await aggregate(vote("v"), answers(["a", { v: null }], ["b", { v: 1 }], ["c", { v: null }]))).toEqual({
      kind: "vote",
      field: "v",
      value: null,
      count: 2,
    });
  });

  test("ties go to the value that reached the count first", async () => {
    // "a" reaches 1 first, "b" reaches 2 first, then "a" also reaches 2: "b" wins.
    expect(await aggregate(vote(), answers(["r1", "a"], ["r2", "b"], ["r3", "b"], ["r4", "a"]))).toEqual({
      kind: "vote",
      value: "b",
      count: 2,
    });
    expect(await aggregate(vote(), answers(["r1", "a"], ["r2", "b"]))).toEqual({ kind: "vote", value: "a", count: 1 });
  });

  test('1 and "1" are different values', async () => {
    expect(await aggregate(vote(), answers(["a", 1], ["b", "1"], ["c", "1"]))).toEqual({ kind: "vote", value: "1", count: 2 });
  });

  test("nothing: value null, count 0", async () => {
    expect(await aggregate(vote(), [])).toEqual({ kind: "vote", value: null, count: 0 });
    expect(await aggregate(vote("v"), answers(["a", {}]))).toEqual({ kind: "vote", field: "v", value: null, count: 0 });
  });
});

describe("the fact-based aggregation equals aggregating the values, in any arrival order", () => {
  /** A small deterministic generator (no Math.random: failures must reproduce). */
  function lcg(seed: number) {
    let state = seed;
    return (n: number) => {
      state = (state * 1103515245 + 12345) % 2147483648;
      return state % n;
    };
  }
  const pool: Json[] = [
    { price: 5, tag: "a" },
    { price: 5, tag: "b" },
    { price: -2 },
    { price: 9.5, q: { p: 1 } },
    { tag: "a" },
    "x",
    null,
    [1, 2],
    { q: { p: 1 } },
    { q: { p: 2 } },
  ];
  const specs: AggregateSpec[] = [
    { kind: "collect", order: "min" },
    { kind: "best", field: "price", order: "min" },
    { kind: "best", field: "price", order: "max" },
    { kind: "summary", field: "price", order: "min" },
    { kind: "vote", order: "min" },
    { kind: "vote", field: "tag", order: "min" },
    { kind: "vote", field: "q.p", order: "min" },
  ];

  test("200 random gathers × every aggregation", async () => {
    const next = lcg(42);
    for (let round = 0; round < 200; round++) {
      const list = answers(...Array.from({ length: next(9) }, (_, i): [string, Json] => [`r${i}`, pool[next(pool.length)]]));
      const arrival = list.map((_, i) => i).sort(() => next(3) - 1);
      for (const spec of specs) expect(await aggregate(spec, list, arrival)).toEqual(oracle(spec, list));
    }
  });

  test("the oracle reads successes only, in response order", () => {
    expect(
      succeededAnswers([
        { recipientId: "a", status: "failed" },
        { recipientId: "b", status: "succeeded", value: 1 },
      ]),
    ).toEqual([{ recipientId: "b", value: 1 }]);
  });
});
