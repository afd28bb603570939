import { aggregate, succeededAnswers, type SucceededAnswer } from "../../src/gather/aggregate";
import type { AggregateSpec, Json } from "../../src/gather/types";

/** Answers from [recipientId, value] pairs, in order. */
function answers(...pairs: [string, Json][]): SucceededAnswer[] {
  return pairs.map(([recipientId, value]) => ({ recipientId, value }));
}

const best = (field: string, order: "min" | "max" = "min"): AggregateSpec => ({ kind: "best", field, order });
const summary = (field: string): AggregateSpec => ({ kind: "summary", field, order: "min" });
const vote = (field?: string): AggregateSpec => ({ kind: "vote", order: "min", ...(field !== undefined ? { field } : {}) });

describe("aggregate: collect", () => {
  test("every successful value by recipient id", () => {
    expect(aggregate({ kind: "collect", order: "min" }, answers(["a", { p: 1 }], ["b", null], ["c", [1, 2]]))).toEqual({
      kind: "collect",
      values: { a: { p: 1 }, b: null, c: [1, 2] },
    });
  });

  test("ids named after Object.prototype's properties are own keys, and JSON keeps them", () => {
    const ids = ["__proto__", "constructor", "toString", "hasOwnProperty", "valueOf"];
    const result = aggregate({ kind: "collect", order: "min" }, answers(...ids.map((id, i): [string, Json] => [id, { n: i }])));
    const values = (result as { values: Record<string, Json> }).values;
    expect(Object.keys(values)).toEqual(ids);
    ids.forEach((id, i) => expect(Object.getOwnPropertyDescriptor(values, id)?.value).toEqual({ n: i }));
    const text = JSON.stringify(result);
    expect(text).toBe('{"kind":"collect","values":{"__proto__":{"n":0},"constructor":{"n":1},"toString":{"n":2},"hasOwnProperty":{"n":3},"valueOf":{"n":4}}}');
    // And it survives a JSON round trip (as through the durable history).
    expect(Object.keys(JSON.parse(text).values)).toEqual(ids);
  });

  test("nothing succeeded: an empty object", () => {
    expect(aggregate({ kind: "collect", order: "min" }, [])).toEqual({ kind: "collect", values: {} });
  });
});

describe("aggregate: fields named after prototype properties", () => {
  test("vote, best and summary read own fields only", () => {
    const values = answers(["a", { x: 1 }], ["b", { x: 2 }]);
    expect(aggregate(vote("constructor"), values)).toEqual({ kind: "vote", field: "constructor", value: null, count: 0 });
    expect(aggregate(vote("__proto__"), values)).toEqual({ kind: "vote", field: "__proto__", value: null, count: 0 });
    expect(aggregate(best("toString"), values)).toMatchObject({ recipientId: null, value: null });
    expect(aggregate(summary("x.length"), answers(["a", { x: [1, 2] }]))).toMatchObject({ count: 0 });
    // An own field of that name is an ordinary field.
    expect(aggregate(best("constructor"), answers(["a", JSON.parse('{"constructor":5}')], ["b", JSON.parse('{"constructor":3}')]))).toMatchObject({ recipientId: "b" });
  });
});

describe("aggregate: best", () => {
  const quotes = answers(["a", { price: 45 }], ["b", { price: 40 }], ["c", { price: 50 }]);

  test("min picks the lowest", () => {
    expect(aggregate(best("price"), quotes)).toEqual({ kind: "best", field: "price", order: "min", recipientId: "b", value: { price: 40 } });
  });

  test("max picks the highest", () => {
    expect(aggregate(best("price", "max"), quotes)).toEqual({ kind: "best", field: "price", order: "max", recipientId: "c", value: { price: 50 } });
  });

  test("a nested dot path", () => {
    const nested = answers(["a", { quote: { price: 9 } }], ["b", { quote: { price: 7.5 } }], ["c", { quote: {} }]);
    expect(aggregate(best("quote.price"), nested)).toEqual({
      kind: "best",
      field: "quote.price",
      order: "min",
      recipientId: "b",
      value: { quote: { price: 7.5 } },
    });
  });

  test("ties keep the earlier answer (min and max)", () => {
    const tied = answers(["a", { price: 5, tag: "first" }], ["b", { price: 5, tag: "second" }], ["c", { price: 6 }]);
    expect(aggregate(best("price"), tied)).toMatchObject({ recipientId: "a", value: { price: 5, tag: "first" } });
    const tiedMax = answers(["a", { price: 1 }], ["b", { price: 9, tag: "first" }], ["c", { price: 9, tag: "second" }]);
    expect(aggregate(best("price", "max"), tiedMax)).toMatchObject({ recipientId: "b", value: { price: 9, tag: "first" } });
  });

  test("non-numeric and missing fields are skipped", () => {
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
    expect(aggregate(best("price"), mixed)).toEqual({ kind: "best", field: "price", order: "min", recipientId: "f", value: { price: 12 } });
  });

  test("negative numbers and zero compare as numbers", () => {
    const signed = answers(["a", { p: 0 }], ["b", { p: -3 }], ["c", { p: 2 }]);
    expect(aggregate(best("p"), signed)).toMatchObject({ recipientId: "b" });
    expect(aggregate(best("p", "max"), signed)).toMatchObject({ recipientId: "c" });
  });

  test("nothing usable: recipientId null and value null", () => {
    expect(aggregate(best("price"), [])).toEqual({ kind: "best", field: "price", order: "min", recipientId: null, value: null });
    expect(aggregate(best("price"), answers(["a", { cost: 1 }]))).toEqual({ kind: "best", field: "price", order: "min", recipientId: null, value: null });
  });
});

describe("aggregate: summary", () => {
  test("count, sum, average, min and max of the numeric field", () => {
    const values = answers(["a", { n: 4 }], ["b", { n: 10 }], ["c", { n: "x" }], ["d", { n: -2 }], ["e", {}]);
    expect(aggregate(summary("n"), values)).toEqual({ kind: "summary", field: "n", count: 3, sum: 12, average: 4, min: -2, max: 10 });
  });

  test("a nested field and a fractional average", () => {
    const values = answers(["a", { q: { p: 1 } }], ["b", { q: { p: 2 } }]);
    expect(aggregate(summary("q.p"), values)).toEqual({ kind: "summary", field: "q.p", count: 2, sum: 3, average: 1.5, min: 1, max: 2 });
  });

  test("a single value", () => {
    expect(aggregate(summary("n"), answers(["a", { n: 0 }]))).toEqual({ kind: "summary", field: "n", count: 1, sum: 0, average: 0, min: 0, max: 0 });
  });

  test("nothing numeric: count 0, sum 0, average/min/max null", () => {
    expect(aggregate(summary("n"), [])).toEqual({ kind: "summary", field: "n", count: 0, sum: 0, average: null, min: null, max: null });
    expect(aggregate(summary("n"), answers(["a", { n: "5" }]))).toEqual({ kind: "summary", field: "n", count: 0, sum: 0, average: null, min: null, max: null });
  });
});

describe("aggregate: vote", () => {
  test("the most frequent whole value and its count", () => {
    const values = answers(["a", "yes"], ["b", "no"], ["c", "yes"], ["d", "maybe"]);
    expect(aggregate(vote(), values)).toEqual({ kind: "vote", value: "yes", count: 2 });
  });

  test("deep equality: key order does not matter", () => {
    const values = answers(["a", { x: 1, y: [1, 2] }], ["b", { z: 0 }], ["c", { y: [1, 2], x: 1 }]);
    expect(aggregate(vote(), values)).toEqual({ kind: "vote", value: { x: 1, y: [1, 2] }, count: 2 });
  });

  test("by field; answers without the field are skipped", () => {
    const values = answers(["a", { d: { v: "B" } }], ["b", { d: { v: "A" } }], ["c", { d: {} }], ["d", { d: { v: "A" } }], ["e", 5]);
    expect(aggregate(vote("d.v"), values)).toEqual({ kind: "vote", field: "d.v", value: "A", count: 2 });
  });

  test("null is a value that can win", () => {
    expect(aggregate(vote("v"), answers(["a", { v: null }], ["b", { v: 1 }], ["c", { v: null }]))).toEqual({ kind: "vote", field: "v", value: null, count: 2 });
  });

  test("ties go to the value that reached the count first", () => {
    // "a" reaches 1 first, "b" reaches 2 first, then "a" also reaches 2: "b" wins.
    expect(aggregate(vote(), answers(["r1", "a"], ["r2", "b"], ["r3", "b"], ["r4", "a"]))).toEqual({ kind: "vote", value: "b", count: 2 });
    expect(aggregate(vote(), answers(["r1", "a"], ["r2", "b"]))).toEqual({ kind: "vote", value: "a", count: 1 });
  });

  test("1 and \"1\" are different values", () => {
    expect(aggregate(vote(), answers(["a", 1], ["b", "1"], ["c", "1"]))).toEqual({ kind: "vote", value: "1", count: 2 });
  });

  test("nothing: value null, count 0", () => {
    expect(aggregate(vote(), [])).toEqual({ kind: "vote", value: null, count: 0 });
    expect(aggregate(vote("v"), answers(["a", {}]))).toEqual({ kind: "vote", field: "v", value: null, count: 0 });
  });
});

describe("succeededAnswers", () => {
  test("only the successes, in response order, a missing value as null", () => {
    expect(
      succeededAnswers([
        { recipientId: "a", status: "failed", error: "HTTP 500" },
        { recipientId: "b", status: "succeeded", value: { p: 1 }, attempts: 1, durationMs: 3 },
        { recipientId: "c", status: "timedOut" },
        { recipientId: "d", status: "succeeded" },
        { recipientId: "e", status: "abandoned" },
        { recipientId: "f", status: "succeeded", value: false },
      ]),
    ).toEqual([
      { recipientId: "b", value: { p: 1 } },
      { recipientId: "d", value: null },
      { recipientId: "f", value: false },
    ]);
  });

  test("no responses", () => {
    expect(succeededAnswers([])).toEqual([]);
  });
});
