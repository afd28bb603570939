import { DEFAULT_LIMITS, type Limits } from "../../src/gather/limits";
import { formatPath, validateAuctionAnswer, validateGatherRequest, type ErrorDetail } from "../../src/gather/schema";
import { retryDelayMs } from "../../src/gather/retry";
import type { GatherRequest } from "../../src/gather/types";

const LOCAL_ALLOWLIST = ["http://127.0.0.1:*", "http://localhost:*"];

function limits(overrides: Partial<Limits> = {}): Limits {
  return { ...DEFAULT_LIMITS, recipientUrlAllowlist: LOCAL_ALLOWLIST, ...overrides };
}

/** A simulated recipient with an explicit value (the smallest valid recipient). */
function sim(id: string): Record<string, unknown> {
  return { id, simulate: { value: 1 } };
}

function body(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { request: { q: 1 }, recipients: [sim("a"), sim("b"), sim("c")], ...overrides };
}

function valid(input: unknown, l: Limits = limits()): GatherRequest {
  const result = validateGatherRequest(input, l);
  if (!result.ok) throw new Error(`expected a valid request, got ${JSON.stringify(result.details)}`);
  return result.value;
}

function invalid(input: unknown, l: Limits = limits()): ErrorDetail[] {
  const result = validateGatherRequest(input, l);
  if (result.ok) throw new Error(`expected an invalid request, got ${JSON.stringify(result.value)}`);
  return result.details;
}

function paths(input: unknown, l: Limits = limits()): string[] {
  return invalid(input, l).map((d) => d.path);
}

describe("validateGatherRequest: a valid request and its defaults", () => {
  test("the minimal request gets every default of docs/api.md", () => {
    expect(valid({ request: null, recipients: [{ id: "a", url: "http://127.0.0.1:9001/quote" }] })).toEqual({
      request: null,
      recipients: [{ id: "a", url: "http://127.0.0.1:9001/quote", method: "POST", timeoutMs: 10000 }],
      completion: { mode: "all", agree: false },
      aggregate: { kind: "collect", order: "min" },
    });
  });

  test("simulate defaults: latencyMs 0 and failureRate 0", () => {
    expect(valid({ request: 1, recipients: [{ id: "s", simulate: { value: { price: 42 } } }] }).recipients).toEqual([
      { id: "s", simulate: { latencyMs: 0, failureRate: 0, value: { price: 42 } } },
    ]);
  });

  test("simulate value null is kept as null", () => {
    expect(valid({ request: 1, recipients: [{ id: "s", simulate: { latencyMs: 5, failureRate: 0.5, value: null } }] }).recipients).toEqual([
      { id: "s", simulate: { latencyMs: 5, failureRate: 0.5, value: null } },
    ]);
  });

  test("a full request is passed through with its explicit values", () => {
    const result = valid({
      id: "my-gather.1",
      request: { any: ["json"] },
      recipients: [
        { id: "acme", url: "http://localhost:9001/quote", method: "PUT", headers: { "x-key": "k" }, timeoutMs: 2000 },
        { id: "sim-1", simulate: { latencyMs: 300, failureRate: 0, value: { price: 42 } } },
      ],
      completion: { mode: "quorum", quorum: 2, agree: true, timeoutMs: 5000 },
      aggregate: { kind: "best", field: "quote.price", order: "max" },
      retry: { maxAttempts: 3, firstRetryIntervalMs: 500, backoffCoefficient: 2, maxRetryIntervalMs: 5000 },
    });
    expect(result).toEqual({
      id: "my-gather.1",
      request: { any: ["json"] },
      recipients: [
        { id: "acme", url: "http://localhost:9001/quote", method: "PUT", headers: { "x-key": "k" }, timeoutMs: 2000 },
        { id: "sim-1", simulate: { latencyMs: 300, failureRate: 0, value: { price: 42 } } },
      ],
      completion: { mode: "quorum", quorum: 2, agree: true, timeoutMs: 5000 },
      aggregate: { kind: "best", field: "quote.price", order: "max" },
      retry: { maxAttempts: 3, firstRetryIntervalMs: 500, backoffCoefficient: 2, maxRetryIntervalMs: 5000 },
    });
  });

  test("retry defaults: firstRetryIntervalMs 1000, backoffCoefficient 1, waits capped by the deadline (5 days by default)", () => {
    const gather = valid(body({ retry: { maxAttempts: 2 } }));
    expect(gather.retry).toEqual({ maxAttempts: 2, firstRetryIntervalMs: 1000, backoffCoefficient: 1, maxRetryIntervalMs: 432000000 });
    expect(gather.completion.timeoutMs).toBe(432000000);
    const withDeadline = valid(body({ retry: { maxAttempts: 2 }, completion: { timeoutMs: 60000 } }));
    expect(withDeadline.retry!.maxRetryIntervalMs).toBe(60000);
    expect(withDeadline.completion.timeoutMs).toBe(60000);
  });

  test("summary and vote are accepted with a field; vote also without one", () => {
    expect(valid(body({ aggregate: { kind: "summary", field: "price" } })).aggregate).toEqual({
      kind: "summary",
      field: "price",
      order: "min",
    });
    expect(valid(body({ aggregate: { kind: "vote" } })).aggregate).toEqual({ kind: "vote", order: "min" });
    expect(valid(body({ aggregate: { kind: "vote", field: "a.b" } })).aggregate).toEqual({ kind: "vote", field: "a.b", order: "min" });
  });

  test("mode first is accepted without quorum", () => {
    expect(valid(body({ completion: { mode: "first" } })).completion).toEqual({ mode: "first", agree: false });
  });
});

describe("validateGatherRequest: the body", () => {
  test.each([
    ["null", null],
    ["an array", []],
    ["a string", "x"],
    ["a number", 42],
  ])("%s is not an object", (_name, input) => {
    expect(invalid(input)).toEqual([{ path: "", message: "the body must be a JSON object" }]);
  });

  test("one unknown top-level field is reported with its path", () => {
    expect(invalid(body({ extra: 1 }))).toEqual([{ path: "extra", message: "is not a known field" }]);
  });

  test("several unknown top-level fields are reported together", () => {
    expect(invalid(body({ x: 1, y: 2 }))).toEqual([{ path: "", message: "unknown fields: x, y" }]);
  });

  test("unknown nested fields carry their full path", () => {
    expect(invalid(body({ recipients: [sim("a"), { id: "b", simulate: { value: 1, jitter: 3 } }] }))).toEqual([
      { path: "recipients[1].simulate.jitter", message: "is not a known field" },
    ]);
    expect(invalid(body({ completion: { mode: "all", deadline: 5 } }))).toEqual([
      { path: "completion.deadline", message: "is not a known field" },
    ]);
  });

  test("a non-finite number (JSON.parse of 1e999) anywhere is refused at its path", () => {
    const message = "is a number out of range (JSON numbers must be finite)";
    expect(invalid(JSON.parse('{"request":{"price":1e999},"recipients":[{"id":"a","simulate":{}}]}'))).toEqual([
      { path: "request.price", message },
    ]);
    expect(invalid(body({ recipients: [{ id: "a", simulate: { value: [0, -Infinity] } }] }))).toEqual([
      { path: "recipients[0].simulate.value[1]", message },
    ]);
  });

  test("nesting deeper than 64 levels anywhere is refused, also far deeper, without recursion", () => {
    const nest = (levels: number) => JSON.parse("[".repeat(levels) + "]".repeat(levels));
    // The body object is level 1: request may nest 63 levels.
    expect(valid(body({ request: nest(63) })).request).toEqual(nest(63));
    expect(invalid(body({ request: nest(64) }))).toEqual([
      { path: `request${"[0]".repeat(63)}`, message: "is nested deeper than 64 levels" },
    ]);
    expect(paths(body({ request: nest(100_000) }))).toEqual([`request${"[0]".repeat(63)}`]);
  });

  test("request is required, but null is a valid request", () => {
    expect(invalid({ recipients: [sim("a")] })).toEqual([{ path: "request", message: "is required (any JSON value, null included)" }]);
    expect(valid({ request: null, recipients: [sim("a")] }).request).toBeNull();
  });

  test("instance id: the recipient alphabet, at most 100 characters, not only dots", () => {
    expect(valid(body({ id: "x".repeat(100) })).id).toBe("x".repeat(100));
    expect(invalid(body({ id: "x".repeat(101) }))).toEqual([
      { path: "id", message: "must be 1-100 characters of A-Z a-z 0-9 . _ : -, not only dots" },
    ]);
    for (const id of [".", "..", "....."])
      expect(invalid(body({ id }))).toEqual([{ path: "id", message: "must be 1-100 characters of A-Z a-z 0-9 . _ : -, not only dots" }]);
    for (const id of [".a", "a..", "..:", "-", "a.b.c"]) expect(valid(body({ id })).id).toBe(id);
    expect(paths(body({ id: "a b" }))).toEqual(["id"]);
    expect(paths(body({ id: "" }))).toEqual(["id"]);
  });
});

describe("validateGatherRequest: recipients", () => {
  test("missing recipients (and no auction)", () => {
    expect(invalid({ request: 1 })).toEqual([{ path: "recipients", message: "is required (or auction)" }]);
  });

  test("recipients must be an array", () => {
    expect(invalid({ request: 1, recipients: {} })).toEqual([{ path: "recipients", message: "must be an array" }]);
  });

  test("an empty list", () => {
    expect(invalid({ request: 1, recipients: [] })).toEqual([{ path: "recipients", message: "must have at least one recipient" }]);
  });

  test("more than MAX_RECIPIENTS", () => {
    const l = limits({ maxRecipients: 2 });
    expect(valid(body({ recipients: [sim("a"), sim("b")] }), l).recipients).toHaveLength(2);
    expect(invalid(body(), l)).toEqual([{ path: "recipients", message: "must have at most 2 recipients (MAX_RECIPIENTS)" }]);
  });

  test("duplicate ids are reported at the later recipient", () => {
    expect(invalid(body({ recipients: [sim("a"), sim("b"), sim("a")] }))).toEqual([
      { path: "recipients[2].id", message: 'duplicate recipient id "a"' },
    ]);
  });

  test.each(["a b", "a/b", "ü", "a,b", ""])("id %j has a bad character or is empty", (id) => {
    expect(invalid(body({ recipients: [sim("ok"), sim(id)] }))).toEqual([
      { path: "recipients[1].id", message: "must be 1-128 characters of A-Z a-z 0-9 . _ : -" },
    ]);
  });

  test("id of 128 characters is fine, 129 is not", () => {
    expect(valid(body({ recipients: [sim("a".repeat(128))] })).recipients![0].id).toBe("a".repeat(128));
    expect(paths(body({ recipients: [sim("a".repeat(129))] }))).toEqual(["recipients[0].id"]);
  });

  test("id allows A-Z a-z 0-9 . _ : -", () => {
    expect(valid(body({ recipients: [sim("Az09._:-")] })).recipients![0].id).toBe("Az09._:-");
  });

  test("both url and simulate", () => {
    expect(invalid(body({ recipients: [{ id: "a", url: "http://127.0.0.1:1/", simulate: { value: 1 } }] }))).toEqual([
      { path: "recipients[0]", message: "must have exactly one of url, simulate or queue" },
    ]);
  });

  test("neither url nor simulate", () => {
    expect(invalid(body({ recipients: [sim("a"), { id: "b" }] }))).toEqual([
      { path: "recipients[1]", message: "must have exactly one of url, simulate or queue" },
    ]);
  });

  test.each(["ftp://127.0.0.1/x", "javascript:alert(1)", "file:///etc/passwd", "not a url", "/relative/path"])("non-http URL %s", (url) => {
    expect(invalid(body({ recipients: [{ id: "a", url }] }))).toEqual([
      { path: "recipients[0].url", message: "must be an absolute http or https URL" },
    ]);
  });

  test("url must be a string", () => {
    expect(invalid(body({ recipients: [{ id: "a", url: 5 }] }))).toEqual([{ path: "recipients[0].url", message: "must be a string" }]);
  });

  test("a URL outside the allowlist", () => {
    expect(invalid(body({ recipients: [sim("a"), { id: "b", url: "http://example.com/x" }] }))).toEqual([
      { path: "recipients[1].url", message: "origin is not in RECIPIENT_URL_ALLOWLIST http://127.0.0.1:*, http://localhost:*" },
    ]);
    // Same host, other scheme.
    expect(paths(body({ recipients: [{ id: "b", url: "https://127.0.0.1:8443/x" }] }))).toEqual(["recipients[0].url"]);
  });

  test("an empty allowlist refuses every URL recipient, simulations still pass", () => {
    const l = limits({ recipientUrlAllowlist: [] });
    expect(invalid(body({ recipients: [{ id: "a", url: "http://127.0.0.1:9001/" }] }), l)).toEqual([
      { path: "recipients[0].url", message: "origin is not in RECIPIENT_URL_ALLOWLIST (empty: URL recipients are refused)" },
    ]);
    expect(valid(body(), l).recipients).toHaveLength(3);
  });

  test("allowlist with a * port and a *. host label", () => {
    const l = limits({ recipientUrlAllowlist: ["http://localhost:*", "https://*.example.com"] });
    const urls = ["http://localhost:1/", "http://localhost:65535/x", "https://a.example.com/q", "https://a.b.example.com/q"];
    expect(valid(body({ recipients: urls.map((url, i) => ({ id: `r${i}`, url })) }), l).recipients).toHaveLength(4);
    expect(
      paths(
        body({
          recipients: [
            { id: "a", url: "https://example.com/q" },
            { id: "b", url: "https://a.example.com:8443/q" },
          ],
        }),
        l,
      ),
    ).toEqual(["recipients[0].url", "recipients[1].url"]);
  });

  test.each(["GET", "DELETE", "post", "PATCH"])("method %s is refused", (method) => {
    expect(invalid(body({ recipients: [{ id: "a", url: "http://127.0.0.1:1/", method }] }))).toEqual([
      { path: "recipients[0].method", message: 'must be "POST" or "PUT"' },
    ]);
  });

  test("headers must be an object of strings", () => {
    expect(invalid(body({ recipients: [{ id: "a", url: "http://127.0.0.1:1/", headers: { "x-n": 1 } }] }))).toEqual([
      { path: "recipients[0].headers.x-n", message: "header values must be strings" },
    ]);
    expect(invalid(body({ recipients: [{ id: "a", url: "http://127.0.0.1:1/", headers: "x" }] }))).toEqual([
      { path: "recipients[0].headers", message: "must be an object of string values" },
    ]);
  });

  test("header names must be HTTP tokens; values visible ASCII, space or tab", () => {
    const at = (headers: Record<string, string>) => body({ recipients: [{ id: "a", url: "http://127.0.0.1:1/", headers }] });
    expect(
      valid(at({ "x-api-key": "k", "X-Trace_1.!#$%&'*+^`|~": "t v", Authorization: "Bearer x", "x-empty": "" })).recipients,
    ).toHaveLength(1);
    expect(paths(at({ "": "v" }))).toEqual(["recipients[0].headers."]);
    expect(invalid(at({ "bad name": "v" }))).toEqual([
      { path: "recipients[0].headers.bad name", message: "is not a valid HTTP header name (letters, digits and !#$%&'*+-.^_`|~ only)" },
    ]);
    expect(paths(at({ "x:y": "v", "x\r\nInjected": "v", ü: "v" }))).toEqual([
      "recipients[0].headers.x:y",
      "recipients[0].headers.x\r\nInjected",
      "recipients[0].headers.ü",
    ]);
    expect(invalid(at({ "x-a": "v\r\nInjected: 1" }))).toEqual([
      {
        path: "recipients[0].headers.x-a",
        message: "the value must be visible ASCII, space or tab (no CR, LF, NUL or other controls, nothing above U+007E)",
      },
    ]);
    expect(
      paths(at({ "x-a": "v\n", "x-b": "v\r", "x-c": "a\u0000b", "x-d": "café ☃", "x-e": "\u007f", "x-f": "é", "x-g": "a\u0085" })),
    ).toEqual([
      "recipients[0].headers.x-a",
      "recipients[0].headers.x-b",
      "recipients[0].headers.x-c",
      "recipients[0].headers.x-d",
      "recipients[0].headers.x-e",
      "recipients[0].headers.x-f",
      "recipients[0].headers.x-g",
    ]);
    expect(valid(at({ "x-tab": "a\tb c~" })).recipients).toHaveLength(1);
  });

  test.each([
    "connection",
    "Content-Length",
    "expect",
    "HOST",
    "transfer-encoding",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
    "Proxy-Connection",
  ])("the hop-by-hop or framing header %s is refused", (name) => {
    expect(invalid(body({ recipients: [{ id: "a", url: "http://127.0.0.1:1/", headers: { [name]: "x" } }] }))).toEqual([
      { path: `recipients[0].headers.${name}`, message: "is a hop-by-hop or framing header and cannot be set" },
    ]);
  });

  test("a header name given twice in different case is refused", () => {
    expect(paths(body({ recipients: [{ id: "a", url: "http://127.0.0.1:1/", headers: { "X-Key": "1", "x-key": "2" } }] }))).toEqual([
      "recipients[0].headers.x-key",
    ]);
  });

  test("per-attempt timeoutMs 1..600000", () => {
    const at = (timeoutMs: number) => body({ recipients: [{ id: "a", url: "http://127.0.0.1:1/", timeoutMs }] });
    expect((valid(at(1)).recipients![0] as { timeoutMs: number }).timeoutMs).toBe(1);
    expect((valid(at(600000)).recipients![0] as { timeoutMs: number }).timeoutMs).toBe(600000);
    expect(invalid(at(0))).toEqual([{ path: "recipients[0].timeoutMs", message: "must be at least 1" }]);
    expect(invalid(at(600001))).toEqual([{ path: "recipients[0].timeoutMs", message: "must be at most 600000" }]);
  });

  test("method, headers and timeoutMs apply to URL recipients only", () => {
    expect(invalid(body({ recipients: [{ id: "a", simulate: { value: 1 }, method: "PUT", headers: {}, timeoutMs: 5 }] }))).toEqual([
      { path: "recipients[0].method", message: "applies to URL recipients only" },
      { path: "recipients[0].headers", message: "applies to URL recipients only" },
      { path: "recipients[0].timeoutMs", message: "applies to URL recipients only" },
    ]);
  });

  test("simulate.latencyMs 0..600000, whole numbers", () => {
    const at = (latencyMs: unknown) => body({ recipients: [{ id: "s", simulate: { latencyMs, value: 1 } }] });
    expect(valid(at(0)).recipients![0]).toEqual({ id: "s", simulate: { latencyMs: 0, failureRate: 0, value: 1 } });
    expect(valid(at(600000)).recipients![0]).toEqual({ id: "s", simulate: { latencyMs: 600000, failureRate: 0, value: 1 } });
    expect(invalid(at(-1))).toEqual([{ path: "recipients[0].simulate.latencyMs", message: "must be at least 0" }]);
    expect(invalid(at(600001))).toEqual([{ path: "recipients[0].simulate.latencyMs", message: "must be at most 600000" }]);
    expect(invalid(at(1.5))).toEqual([{ path: "recipients[0].simulate.latencyMs", message: "must be a whole number" }]);
    expect(invalid(at("10"))).toEqual([{ path: "recipients[0].simulate.latencyMs", message: "must be a number" }]);
  });

  test("simulate.failureRate 0..1", () => {
    const at = (failureRate: unknown) => body({ recipients: [{ id: "s", simulate: { failureRate, value: 1 } }] });
    expect(valid(at(0)).recipients![0]).toEqual({ id: "s", simulate: { latencyMs: 0, failureRate: 0, value: 1 } });
    expect(valid(at(1)).recipients![0]).toEqual({ id: "s", simulate: { latencyMs: 0, failureRate: 1, value: 1 } });
    expect(invalid(at(-0.1))).toEqual([{ path: "recipients[0].simulate.failureRate", message: "must be between 0 and 1" }]);
    expect(invalid(at(1.01))).toEqual([{ path: "recipients[0].simulate.failureRate", message: "must be between 0 and 1" }]);
  });

  test("simulate must be an object", () => {
    expect(invalid(body({ recipients: [{ id: "s", simulate: 5 }] }))).toEqual([
      { path: "recipients[0].simulate", message: "must be an object" },
    ]);
  });
});

describe("validateGatherRequest: recipients[i].input and simulate.valueFrom", () => {
  test("input is kept as given on every recipient kind, null as null; absent stays absent", () => {
    const result = valid(
      body({
        recipients: [
          { id: "u", url: "http://127.0.0.1:9001/thumb", input: { blob: "in/1.png", sizes: [64, 128] } },
          { id: "s", simulate: { value: 1 }, input: null },
          { id: "t", simulate: { value: 2 } },
        ],
      }),
    );
    expect(result.recipients).toEqual([
      { id: "u", url: "http://127.0.0.1:9001/thumb", method: "POST", timeoutMs: 10000, input: { blob: "in/1.png", sizes: [64, 128] } },
      { id: "s", simulate: { latencyMs: 0, failureRate: 0, value: 1 }, input: null },
      { id: "t", simulate: { latencyMs: 0, failureRate: 0, value: 2 } },
    ]);
    // The stored list is JSON: an input of null survives it.
    expect(JSON.parse(JSON.stringify(result.recipients))[1]).toHaveProperty("input", null);
  });

  test("input is held to the JSON rules at its own path (nesting counted from the body, which is level 1)", () => {
    const nest = (levels: number) => JSON.parse("[".repeat(levels) + "]".repeat(levels));
    const at3 = (input: unknown) => body({ recipients: [sim("a"), sim("b"), sim("c"), { id: "d", simulate: { value: 1 }, input }] });
    // body, recipients, recipients[3]: input may nest 61 levels.
    expect((valid(at3(nest(61))).recipients![3] as { input: unknown }).input).toEqual(nest(61));
    expect(invalid(at3(nest(62)))).toEqual([
      { path: `recipients[3].input${"[0]".repeat(61)}`, message: "is nested deeper than 64 levels" },
    ]);
    expect(invalid(at3({ n: [1, -Infinity] }))).toEqual([
      { path: "recipients[3].input.n[1]", message: "is a number out of range (JSON numbers must be finite)" },
    ]);
  });

  test('simulate.valueFrom "input" replaces value in the normalized recipient', () => {
    expect(valid(body({ recipients: [{ id: "s", simulate: { latencyMs: 5, valueFrom: "input" }, input: { n: 1 } }] })).recipients).toEqual([
      { id: "s", simulate: { latencyMs: 5, failureRate: 0, valueFrom: "input" }, input: { n: 1 } },
    ]);
  });

  test('simulate.valueFrom: only "input", and never together with value (null included)', () => {
    expect(invalid(body({ recipients: [{ id: "s", simulate: { valueFrom: "value" } }] }))).toEqual([
      { path: "recipients[0].simulate.valueFrom", message: 'must be "input" (answer the recipient\'s input)' },
    ]);
    for (const value of [1, null]) {
      expect(invalid(body({ recipients: [sim("a"), { id: "s", simulate: { value, valueFrom: "input" }, input: 2 }] }))).toEqual([
        { path: "recipients[1].simulate.valueFrom", message: "give either simulate.value or simulate.valueFrom, not both" },
      ]);
    }
  });
});

describe("validateGatherRequest: completion", () => {
  test("unknown mode", () => {
    expect(invalid(body({ completion: { mode: "some" } }))).toEqual([
      { path: "completion.mode", message: 'must be "all", "first" or "quorum"' },
    ]);
  });

  test("quorum mode needs a quorum", () => {
    expect(invalid(body({ completion: { mode: "quorum" } }))).toEqual([
      { path: "completion.quorum", message: 'is required with mode "quorum"' },
    ]);
  });

  test("quorum 0", () => {
    expect(invalid(body({ completion: { mode: "quorum", quorum: 0 } }))).toEqual([
      { path: "completion.quorum", message: "must be at least 1" },
    ]);
  });

  test("quorum up to the number of recipients, not beyond", () => {
    expect(valid(body({ completion: { mode: "quorum", quorum: 3 } })).completion).toEqual({ mode: "quorum", quorum: 3, agree: false });
    expect(invalid(body({ completion: { mode: "quorum", quorum: 4 } }))).toEqual([
      { path: "completion.quorum", message: "must be at most 3 (the number of recipients)" },
    ]);
  });

  test("quorum with mode all (explicit or default)", () => {
    expect(invalid(body({ completion: { mode: "all", quorum: 2 } }))).toEqual([
      { path: "completion.quorum", message: 'applies to mode "quorum" only' },
    ]);
    expect(invalid(body({ completion: { quorum: 2 } }))).toEqual([{ path: "completion.quorum", message: 'applies to mode "quorum" only' }]);
  });

  test("agree with a non-quorum mode", () => {
    expect(invalid(body({ completion: { mode: "first", agree: true } }))).toEqual([
      { path: "completion.agree", message: 'applies to mode "quorum" only' },
    ]);
    expect(invalid(body({ completion: { agree: false } }))).toEqual([
      { path: "completion.agree", message: 'applies to mode "quorum" only' },
    ]);
  });

  test("agree must be a boolean", () => {
    expect(invalid(body({ completion: { mode: "quorum", quorum: 1, agree: "yes" } }))).toEqual([
      { path: "completion.agree", message: "must be true or false" },
    ]);
  });

  test("timeoutMs 1..432000000 (5 days: no timer of a gather needs the host's long-timer splitting)", () => {
    expect(valid(body({ completion: { timeoutMs: 1 } })).completion).toEqual({ mode: "all", agree: false, timeoutMs: 1 });
    expect(valid(body({ completion: { timeoutMs: 432000000 } })).completion.timeoutMs).toBe(432000000);
    expect(invalid(body({ completion: { timeoutMs: 0 } }))).toEqual([{ path: "completion.timeoutMs", message: "must be at least 1" }]);
    expect(invalid(body({ completion: { timeoutMs: 432000001 } }))).toEqual([
      { path: "completion.timeoutMs", message: "must be at most 432000000" },
    ]);
  });
});

describe("validateGatherRequest: aggregate", () => {
  test("unknown kind", () => {
    expect(invalid(body({ aggregate: { kind: "median" } }))).toEqual([
      { path: "aggregate.kind", message: 'must be "collect", "best", "summary" or "vote"' },
    ]);
  });

  test.each(["best", "summary"])("%s without field", (kind) => {
    expect(invalid(body({ aggregate: { kind } }))).toEqual([{ path: "aggregate.field", message: `is required for kind "${kind}"` }]);
  });

  test("collect with a field", () => {
    expect(invalid(body({ aggregate: { field: "price" } }))).toEqual([
      { path: "aggregate.field", message: 'does not apply to kind "collect"' },
    ]);
  });

  test.each(["collect", "summary", "vote"])("order on kind %s", (kind) => {
    const field = kind === "collect" ? {} : { field: "price" };
    expect(invalid(body({ aggregate: { kind, order: "max", ...field } }))).toEqual([
      { path: "aggregate.order", message: 'applies to kind "best" only' },
    ]);
  });

  test("order must be min or max", () => {
    expect(invalid(body({ aggregate: { kind: "best", field: "p", order: "asc" } }))).toEqual([
      { path: "aggregate.order", message: 'must be "min" or "max"' },
    ]);
  });

  test.each(["a..b", ".a", "a.", ""])("field %j is not a dot path", (field) => {
    expect(invalid(body({ aggregate: { kind: "best", field } }))).toEqual([
      { path: "aggregate.field", message: "must be a dot path like quote.price" },
    ]);
  });
});

describe("validateGatherRequest: retry", () => {
  test("maxAttempts is required, 1..10", () => {
    expect(paths(body({ retry: {} }))).toEqual(["retry.maxAttempts"]);
    expect(invalid(body({ retry: { maxAttempts: 0 } }))).toEqual([{ path: "retry.maxAttempts", message: "must be at least 1" }]);
    expect(invalid(body({ retry: { maxAttempts: 11 } }))).toEqual([{ path: "retry.maxAttempts", message: "must be at most 10" }]);
    expect(invalid(body({ retry: { maxAttempts: 100 } }))).toEqual([{ path: "retry.maxAttempts", message: "must be at most 10" }]);
    expect(valid(body({ retry: { maxAttempts: 10 } })).retry!.maxAttempts).toBe(10);
  });

  test("the attempt budget: recipients × maxAttempts at most MAX_ATTEMPTS_PER_GATHER", () => {
    const many = (n: number) => Array.from({ length: n }, (_, i) => sim(`r${i}`));
    const l = limits({ maxAttemptsPerGather: 12 });
    expect(valid(body({ recipients: many(4), retry: { maxAttempts: 3 } }), l).retry!.maxAttempts).toBe(3);
    expect(invalid(body({ recipients: many(5), retry: { maxAttempts: 3 } }), l)).toEqual([
      { path: "retry.maxAttempts", message: "5 recipients × 3 attempts = 15 attempts, more than MAX_ATTEMPTS_PER_GATHER (12) allows" },
    ]);
    // Without retry each recipient is one attempt.
    expect(valid(body({ recipients: many(12) }), l).recipients).toHaveLength(12);
    expect(invalid(body({ recipients: many(13) }), l)).toEqual([
      { path: "recipients", message: "13 recipients × 1 attempts = 13 attempts, more than MAX_ATTEMPTS_PER_GATHER (12) allows" },
    ]);
  });

  test("the default budget lets MAX_RECIPIENTS recipients make 5 attempts each, not 6; 100 × 100 is refused", () => {
    const many = (n: number) => Array.from({ length: n }, (_, i) => sim(`r${i}`));
    expect(DEFAULT_LIMITS.maxAttemptsPerGather).toBe(50_000);
    expect(valid(body({ recipients: many(10_000), retry: { maxAttempts: 5 } })).recipients).toHaveLength(10_000);
    expect(paths(body({ recipients: many(10_000), retry: { maxAttempts: 6 } }))).toEqual(["retry.maxAttempts"]);
    expect(paths(body({ recipients: many(100), retry: { maxAttempts: 100 } }))).toEqual(["retry.maxAttempts"]);
  });

  test("intervals and backoff ranges", () => {
    expect(invalid(body({ retry: { maxAttempts: 2, firstRetryIntervalMs: 0 } }))).toEqual([
      { path: "retry.firstRetryIntervalMs", message: "must be at least 1" },
    ]);
    expect(invalid(body({ retry: { maxAttempts: 2, backoffCoefficient: 0.5 } }))).toEqual([
      { path: "retry.backoffCoefficient", message: "must be at least 1" },
    ]);
    expect(invalid(body({ retry: { maxAttempts: 2, backoffCoefficient: 101 } }))).toEqual([
      { path: "retry.backoffCoefficient", message: "must be at most 100" },
    ]);
    expect(invalid(body({ retry: { maxAttempts: 2, maxRetryIntervalMs: 432000001 } }))).toEqual([
      { path: "retry.maxRetryIntervalMs", message: "must be at most 432000000" },
    ]);
    expect(invalid(body({ retry: { maxAttempts: 2, firstRetryIntervalMs: 604800000 } }))).toEqual([
      { path: "retry.firstRetryIntervalMs", message: "must be at most 432000000" },
    ]);
    expect(valid(body({ retry: { maxAttempts: 2, backoffCoefficient: 1.5 } })).retry).toEqual({
      maxAttempts: 2,
      firstRetryIntervalMs: 1000,
      backoffCoefficient: 1.5,
      maxRetryIntervalMs: 432000000,
    });
  });

  test("a first retry that could only start at or after the deadline is refused, naming the deadline", () => {
    expect(invalid(body({ retry: { maxAttempts: 2, firstRetryIntervalMs: 5000 }, completion: { timeoutMs: 5000 } }))).toEqual([
      {
        path: "retry.firstRetryIntervalMs",
        message: "must be less than the deadline, completion.timeoutMs (5000): no retry could start before the gather closes",
      },
    ]);
    expect(invalid(body({ retry: { maxAttempts: 2 }, completion: { timeoutMs: 500 } }))).toEqual([
      {
        path: "retry.firstRetryIntervalMs",
        message:
          "must be less than the deadline, completion.timeoutMs (500) (the default, 1000): no retry could start before the gather closes",
      },
    ]);
    expect(invalid(body({ retry: { maxAttempts: 2, firstRetryIntervalMs: 432000000 } }))[0].path).toBe("retry.firstRetryIntervalMs");
  });

  test("the worst accepted retry settings give finite waits, none past the deadline", () => {
    const gather = valid(body({ retry: { maxAttempts: 10, firstRetryIntervalMs: 431999999, backoffCoefficient: 100 } }));
    for (let failed = 1; failed < 10; failed++) {
      const wait = retryDelayMs(gather.retry, failed)!;
      expect(Number.isFinite(wait)).toBe(true);
      expect(wait).toBeLessThanOrEqual(gather.completion.timeoutMs!);
    }
    // An input of an older run, without maxRetryIntervalMs: still capped at 5 days, never Infinity or NaN.
    expect(retryDelayMs({ maxAttempts: 10, firstRetryIntervalMs: 604800000, backoffCoefficient: 100 }, 4)).toBe(432000000);
    expect(retryDelayMs({ maxAttempts: 10, firstRetryIntervalMs: 1e300, backoffCoefficient: 100 }, 9)).toBe(432000000);
  });

  test("unknown retry field", () => {
    expect(invalid(body({ retry: { maxAttempts: 2, jitter: true } }))).toEqual([{ path: "retry.jitter", message: "is not a known field" }]);
  });
});

describe("validateGatherRequest: auction", () => {
  const auction = (overrides: Record<string, unknown> = {}) => ({
    request: { rfq: 1 },
    auction: { notify: ["http://127.0.0.1:9002/rfq"] },
    completion: { timeoutMs: 5000 },
    ...overrides,
  });

  test("a valid auction and its defaults", () => {
    expect(valid(auction())).toEqual({
      request: { rfq: 1 },
      auction: { notify: ["http://127.0.0.1:9002/rfq"] },
      completion: { mode: "all", agree: false, timeoutMs: 5000 },
      aggregate: { kind: "collect", order: "min" },
    });
    expect(valid(auction({ auction: {} })).auction).toEqual({ notify: [] });
    expect(valid(auction({ auction: { expected: 5 } })).auction).toEqual({ notify: [], expected: 5 });
  });

  test("auction without timeoutMs", () => {
    expect(invalid(auction({ completion: { mode: "first" } }))).toEqual([
      { path: "completion.timeoutMs", message: "is required in auction mode" },
    ]);
    expect(paths(auction({ completion: undefined }))).toEqual(["completion.timeoutMs"]);
  });

  test("auction together with recipients", () => {
    expect(invalid(auction({ recipients: [sim("a")] }))).toEqual([
      { path: "auction", message: "give either recipients or auction, not both" },
    ]);
  });

  test("a notify URL outside the allowlist", () => {
    expect(invalid(auction({ auction: { notify: ["http://evil.example/rfq", "http://127.0.0.1:1/ok", "https://127.0.0.1/x"] } }))).toEqual([
      { path: "auction.notify[0]", message: "origin is not in RECIPIENT_URL_ALLOWLIST http://127.0.0.1:*, http://localhost:*" },
      { path: "auction.notify[2]", message: "origin is not in RECIPIENT_URL_ALLOWLIST http://127.0.0.1:*, http://localhost:*" },
    ]);
  });

  test("a notify URL that is not http(s)", () => {
    expect(invalid(auction({ auction: { notify: ["ftp://127.0.0.1/rfq"] } }))).toEqual([
      { path: "auction.notify[0]", message: "must be an absolute http or https URL" },
    ]);
  });

  test("quorum is measured against expected", () => {
    expect(valid(auction({ auction: { expected: 3 }, completion: { mode: "quorum", quorum: 3, timeoutMs: 1000 } })).completion).toEqual({
      mode: "quorum",
      quorum: 3,
      agree: false,
      timeoutMs: 1000,
    });
    expect(invalid(auction({ auction: { expected: 3 }, completion: { mode: "quorum", quorum: 4, timeoutMs: 1000 } }))).toEqual([
      { path: "completion.quorum", message: "must be at most 3 (the number of expected answers)" },
    ]);
  });

  test("without expected, quorum is capped by MAX_RECIPIENTS", () => {
    const l = limits({ maxRecipients: 5 });
    expect(valid(auction({ completion: { mode: "quorum", quorum: 5, timeoutMs: 1000 } }), l).completion.quorum).toBe(5);
    expect(invalid(auction({ completion: { mode: "quorum", quorum: 6, timeoutMs: 1000 } }), l)).toEqual([
      { path: "completion.quorum", message: "must be at most 5" },
    ]);
  });

  test("expected 1..MAX_RECIPIENTS", () => {
    expect(invalid(auction({ auction: { expected: 0 } }))).toEqual([{ path: "auction.expected", message: "must be at least 1" }]);
    expect(invalid(auction({ auction: { expected: 11 } }), limits({ maxRecipients: 10 }))).toEqual([
      { path: "auction.expected", message: "must be at most 10 (MAX_RECIPIENTS)" },
    ]);
  });

  test("retry does not apply to an auction", () => {
    expect(invalid(auction({ retry: { maxAttempts: 2 } }))).toEqual([{ path: "retry", message: "does not apply in auction mode" }]);
  });
});

describe("validateGatherRequest: tolerance", () => {
  test("either bound or both, kept as given", () => {
    expect(valid(body({ tolerance: { maxFailures: 1 } })).tolerance).toEqual({ maxFailures: 1 });
    expect(valid(body({ tolerance: { maxFailurePercent: 2.5 } })).tolerance).toEqual({ maxFailurePercent: 2.5 });
    expect(valid(body({ tolerance: { maxFailures: 0, maxFailurePercent: 100 } })).tolerance).toEqual({
      maxFailures: 0,
      maxFailurePercent: 100,
    });
    expect(valid(body()).tolerance).toBeUndefined();
  });

  test("maxFailures 0..number of recipients", () => {
    expect(valid(body({ tolerance: { maxFailures: 3 } })).tolerance).toEqual({ maxFailures: 3 });
    expect(invalid(body({ tolerance: { maxFailures: 4 } }))).toEqual([
      { path: "tolerance.maxFailures", message: "must be at most 3 (the number of recipients)" },
    ]);
    expect(invalid(body({ tolerance: { maxFailures: -1 } }))).toEqual([{ path: "tolerance.maxFailures", message: "must be at least 0" }]);
    expect(invalid(body({ tolerance: { maxFailures: 1.5 } }))).toEqual([
      { path: "tolerance.maxFailures", message: "must be a whole number" },
    ]);
  });

  test("maxFailurePercent 0..100", () => {
    expect(invalid(body({ tolerance: { maxFailurePercent: 101 } }))).toEqual([
      { path: "tolerance.maxFailurePercent", message: "must be between 0 and 100" },
    ]);
    expect(invalid(body({ tolerance: { maxFailurePercent: -0.5 } }))).toEqual([
      { path: "tolerance.maxFailurePercent", message: "must be between 0 and 100" },
    ]);
    expect(invalid(body({ tolerance: { maxFailurePercent: "5" } }))).toEqual([
      { path: "tolerance.maxFailurePercent", message: "must be a number" },
    ]);
  });

  test("an empty tolerance, an unknown field, not an object", () => {
    expect(invalid(body({ tolerance: {} }))).toEqual([{ path: "tolerance", message: "give maxFailures, maxFailurePercent or both" }]);
    expect(invalid(body({ tolerance: { maxFailures: 1, maxErrors: 2 } }))).toEqual([
      { path: "tolerance.maxErrors", message: "is not a known field" },
    ]);
    expect(invalid(body({ tolerance: 5 }))).toEqual([{ path: "tolerance", message: "must be an object" }]);
  });

  test("not in auction mode", () => {
    expect(invalid({ request: 1, auction: { notify: [] }, completion: { timeoutMs: 1000 }, tolerance: { maxFailurePercent: 10 } })).toEqual(
      [{ path: "tolerance", message: "does not apply in auction mode" }],
    );
  });
});

describe("validateGatherRequest: several problems at once", () => {
  test("type errors anywhere in the body are reported together", () => {
    expect(
      invalid({
        request: 1,
        recipients: [
          { id: "bad id", url: "ftp://x/" },
          { id: "b", simulate: { latencyMs: -5, value: 1 } },
        ],
        completion: { mode: "most" },
        aggregate: { kind: "best", field: "p", order: "up" },
      }),
    ).toEqual([
      { path: "recipients[0].id", message: "must be 1-128 characters of A-Z a-z 0-9 . _ : -" },
      { path: "recipients[0].url", message: "must be an absolute http or https URL" },
      { path: "recipients[1].simulate.latencyMs", message: "must be at least 0" },
      { path: "completion.mode", message: 'must be "all", "first" or "quorum"' },
      { path: "aggregate.order", message: 'must be "min" or "max"' },
    ]);
  });

  test("cross-field rules are reported together", () => {
    expect(
      invalid({
        request: 1,
        recipients: [sim("a"), sim("a"), { id: "c", url: "http://example.org/" }, { id: "d" }],
        completion: { mode: "first", quorum: 1, agree: true },
        aggregate: { kind: "summary", order: "max" },
      }),
    ).toEqual([
      { path: "recipients[1].id", message: 'duplicate recipient id "a"' },
      { path: "recipients[2].url", message: "origin is not in RECIPIENT_URL_ALLOWLIST http://127.0.0.1:*, http://localhost:*" },
      { path: "recipients[3]", message: "must have exactly one of url, simulate or queue" },
      { path: "completion.quorum", message: 'applies to mode "quorum" only' },
      { path: "completion.agree", message: 'applies to mode "quorum" only' },
      { path: "aggregate.field", message: 'is required for kind "summary"' },
      { path: "aggregate.order", message: 'applies to kind "best" only' },
    ]);
  });
});

describe("validateAuctionAnswer", () => {
  test("a valid answer, any JSON value (null included)", () => {
    expect(validateAuctionAnswer({ responder: "acme", value: { price: 40 } })).toEqual({
      ok: true,
      value: { responder: "acme", value: { price: 40 } },
    });
    expect(validateAuctionAnswer({ responder: "b", value: null })).toEqual({ ok: true, value: { responder: "b", value: null } });
    expect(validateAuctionAnswer({ responder: "c", value: [1, "x", false] })).toEqual({
      ok: true,
      value: { responder: "c", value: [1, "x", false] },
    });
  });

  test("a value nested deeper than 64 levels or holding 1e999 is refused (also when raised through sendEventPostUri)", () => {
    const nest = (levels: number) => JSON.parse("[".repeat(levels) + "]".repeat(levels));
    expect(validateAuctionAnswer({ responder: "a", value: nest(63) }).ok).toBe(true);
    expect(validateAuctionAnswer({ responder: "a", value: nest(64) })).toEqual({
      ok: false,
      details: [{ path: `value${"[0]".repeat(63)}`, message: "is nested deeper than 64 levels" }],
    });
    expect(validateAuctionAnswer(JSON.parse('{"responder":"a","value":{"bid":1e999}}'))).toEqual({
      ok: false,
      details: [{ path: "value.bid", message: "is a number out of range (JSON numbers must be finite)" }],
    });
  });

  test("missing value", () => {
    expect(validateAuctionAnswer({ responder: "acme" })).toEqual({
      ok: false,
      details: [{ path: "value", message: "is required (any JSON value, null included)" }],
    });
  });

  test("missing or bad responder", () => {
    expect(validateAuctionAnswer({ value: 1 })).toEqual({ ok: false, details: [{ path: "responder", message: "must be a string" }] });
    expect(validateAuctionAnswer({ responder: "a b", value: 1 })).toEqual({
      ok: false,
      details: [{ path: "responder", message: "must be 1-128 characters of A-Z a-z 0-9 . _ : -" }],
    });
    expect(validateAuctionAnswer({ responder: "r".repeat(129), value: 1 })).toEqual({
      ok: false,
      details: [{ path: "responder", message: "must be 1-128 characters of A-Z a-z 0-9 . _ : -" }],
    });
  });

  test("not an object, or an unknown field", () => {
    expect(validateAuctionAnswer("acme")).toEqual({ ok: false, details: [{ path: "", message: "the body must be a JSON object" }] });
    expect(validateAuctionAnswer({ responder: "a", value: 1, price: 2 })).toEqual({
      ok: false,
      details: [{ path: "price", message: "is not a known field" }],
    });
  });
});

describe("formatPath", () => {
  test("joins names with dots and indexes with brackets", () => {
    expect(formatPath([])).toBe("");
    expect(formatPath(["recipients", 2, "url"])).toBe("recipients[2].url");
    expect(formatPath(["auction", "notify", 0])).toBe("auction.notify[0]");
    expect(formatPath([0, "a"])).toBe("[0].a");
    expect(formatPath(["a", "b", "c"])).toBe("a.b.c");
  });
});
