import { errorBody, summarize } from "../../src/gather/errors";
import { canonicalJson, getPath } from "../../src/gather/json";

describe("canonicalJson", () => {
  test("scalars as JSON", () => {
    expect(canonicalJson(null)).toBe("null");
    expect(canonicalJson(true)).toBe("true");
    expect(canonicalJson(1.5)).toBe("1.5");
    expect(canonicalJson('a"b')).toBe('"a\\"b"');
    expect(canonicalJson(undefined)).toBe("undefined");
  });

  test("object keys are sorted", () => {
    expect(canonicalJson({ b: 1, a: 2 })).toBe('{"a":2,"b":1}');
    expect(canonicalJson({ b: 1, a: 2 })).toBe(canonicalJson({ a: 2, b: 1 }));
  });

  test("arrays keep their order", () => {
    expect(canonicalJson([2, 1, "x"])).toBe('[2,1,"x"]');
    expect(canonicalJson([1, 2])).not.toBe(canonicalJson([2, 1]));
  });

  test("nested objects are sorted at every level", () => {
    expect(canonicalJson({ z: [{ y: 1, x: { q: null, p: [] } }], a: {} })).toBe('{"a":{},"z":[{"x":{"p":[],"q":null},"y":1}]}');
  });

  test("1 and \"1\" differ", () => {
    expect(canonicalJson(1)).not.toBe(canonicalJson("1"));
  });
});

describe("getPath", () => {
  const value = { quote: { price: 42, tiers: [{ n: 1 }, { n: 2 }] }, zero: 0, nil: null };

  test("no path is the value itself", () => {
    expect(getPath(value, undefined)).toBe(value);
  });

  test("dot paths into objects", () => {
    expect(getPath(value, "quote.price")).toBe(42);
    expect(getPath(value, "quote")).toEqual({ price: 42, tiers: [{ n: 1 }, { n: 2 }] });
    expect(getPath(value, "zero")).toBe(0);
    expect(getPath(value, "nil")).toBeNull();
  });

  test("numeric steps index arrays", () => {
    expect(getPath(value, "quote.tiers.1.n")).toBe(2);
    expect(getPath([10, 20], "0")).toBe(10);
  });

  test("a missing step is undefined", () => {
    expect(getPath(value, "quote.cost")).toBeUndefined();
    expect(getPath(value, "quote.price.x")).toBeUndefined();
    expect(getPath(value, "nil.x")).toBeUndefined();
    expect(getPath(null, "a")).toBeUndefined();
    expect(getPath(undefined, "a")).toBeUndefined();
    expect(getPath("text", "length")).toBeUndefined();
  });
});

describe("errorBody and summarize", () => {
  test("errorBody with and without details", () => {
    expect(errorBody("invalid_request", "bad", [{ path: "recipients", message: "is required" }])).toEqual({
      error: { code: "invalid_request", message: "bad", details: [{ path: "recipients", message: "is required" }] },
    });
    expect(errorBody("not_found", "no such instance")).toEqual({ error: { code: "not_found", message: "no such instance" } });
    expect(errorBody("gone", "late", [])).toEqual({ error: { code: "gone", message: "late" } });
  });

  test("summarize shows the first three problems", () => {
    const details = [
      { path: "a", message: "m1" },
      { path: "", message: "m2" },
      { path: "c", message: "m3" },
      { path: "d", message: "m4" },
      { path: "e", message: "m5" },
    ];
    expect(summarize(details.slice(0, 2))).toBe("a: m1; m2");
    expect(summarize(details)).toBe("a: m1; m2; c: m3 (and 2 more)");
  });
});
