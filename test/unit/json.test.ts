import { errorBody, summarize } from "../../src/gather/errors";
import { canonicalJson, findJsonProblem, getPath, MAX_JSON_DEPTH } from "../../src/gather/json";

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

  test('1 and "1" differ', () => {
    expect(canonicalJson(1)).not.toBe(canonicalJson("1"));
  });
});

describe("getPath: own fields only", () => {
  test("prototype properties and array properties are missing steps", () => {
    expect(getPath({ a: 1 }, "constructor")).toBeUndefined();
    expect(getPath({ a: 1 }, "__proto__")).toBeUndefined();
    expect(getPath({ a: { b: 1 } }, "a.toString")).toBeUndefined();
    expect(getPath([1, 2], "length")).toBeUndefined();
    expect(getPath([1, 2], "01")).toBeUndefined();
    expect(getPath(JSON.parse('{"__proto__":{"p":7}}'), "__proto__.p")).toBe(7);
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

describe("findJsonProblem", () => {
  const nest = (levels: number, inner: unknown = 1): unknown => {
    let v = inner;
    for (let i = 0; i < levels; i++) v = [v];
    return v;
  };

  test("scalars, flat and moderately nested values are fine", () => {
    for (const v of [null, true, 0, -1.5e308, "x", [], {}, { a: [1, { b: "c" }] }, nest(MAX_JSON_DEPTH)])
      expect(findJsonProblem(v)).toBeUndefined();
  });

  test("64 levels are allowed, 65 are not; the path names the container one level too deep", () => {
    expect(MAX_JSON_DEPTH).toBe(64);
    expect(findJsonProblem(nest(64))).toBeUndefined();
    expect(findJsonProblem(nest(65))).toEqual({ kind: "too-deep", path: `[0]`.repeat(64), message: "is nested deeper than 64 levels" });
    expect(findJsonProblem({ request: nest(63) })).toBeUndefined();
    expect(findJsonProblem({ request: nest(64) })).toMatchObject({ kind: "too-deep", path: `request${"[0]".repeat(63)}` });
    expect(findJsonProblem({ a: { b: nest(63) } }, "value")).toMatchObject({ path: `value.a.b${"[0]".repeat(62)}` });
  });

  test("100000 levels (as JSON.parse builds them) are reported, not a stack overflow", () => {
    const deep = JSON.parse("[".repeat(100_000) + "]".repeat(100_000));
    expect(findJsonProblem(deep)).toMatchObject({ kind: "too-deep" });
    const deepObjects = JSON.parse('{"a":'.repeat(100_000) + "1" + "}".repeat(100_000));
    expect(findJsonProblem(deepObjects)).toMatchObject({ kind: "too-deep", path: Array(64).fill("a").join(".") });
  });

  test("±Infinity (JSON.parse of 1e999) anywhere, with its path", () => {
    expect(findJsonProblem(JSON.parse("1e999"))).toEqual({
      kind: "non-finite",
      path: "",
      message: "is a number out of range (JSON numbers must be finite)",
    });
    expect(findJsonProblem(JSON.parse('{"request":{"price":1e999}}'))).toMatchObject({ kind: "non-finite", path: "request.price" });
    expect(findJsonProblem(JSON.parse('{"a":[1,2,{"b":-1e999}]}'), "value")).toMatchObject({ path: "value.a[2].b" });
    expect(findJsonProblem(NaN)).toMatchObject({ kind: "non-finite" });
    // 1e-999 underflows to 0: a finite number.
    expect(findJsonProblem(JSON.parse("[1e-999]"))).toBeUndefined();
  });

  test("the first problem in document order", () => {
    expect(findJsonProblem(JSON.parse('{"x":[0,1e999],"y":1e999}'))).toMatchObject({ path: "x[1]" });
    expect(findJsonProblem({ a: nest(64), b: Infinity })).toMatchObject({ kind: "too-deep", path: `a${"[0]".repeat(63)}` });
  });

  test("a wide value is walked to its last element", () => {
    const wide = new Array(300_000).fill(0);
    wide.push(Infinity);
    expect(findJsonProblem({ wide })).toMatchObject({ path: "wide[300000]" });
  });

  test("long keys are shortened in the path", () => {
    const key = "k".repeat(1000);
    expect(findJsonProblem({ [key]: Infinity })!.path).toBe(`${"k".repeat(64)}…`);
  });
});
