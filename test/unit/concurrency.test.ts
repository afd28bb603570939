/** `concurrency` in the request (docs/api.md "Fan-out control"): validation, and what the starter adds to the input. */
import { concurrencyInput } from "../../src/gather/concurrency";
import { DEFAULT_LIMITS, type Limits } from "../../src/gather/limits";
import { validateGatherRequest, type ErrorDetail } from "../../src/gather/schema";
import type { GatherRequest, Recipient } from "../../src/gather/types";
import { decodeOriginTable } from "../../src/gather/window";

const limits: Limits = { ...DEFAULT_LIMITS, recipientUrlAllowlist: ["http://127.0.0.1:*"], maxRecipients: 100 };
const recipients = [
  { id: "a", simulate: { value: 1 } },
  { id: "b", url: "http://127.0.0.1:9001/x" },
];
const body = (extra: Record<string, unknown>) => ({ request: null, recipients, ...extra });

function valid(input: unknown): GatherRequest {
  const result = validateGatherRequest(input, limits);
  if (!result.ok) throw new Error(JSON.stringify(result.details));
  return result.value;
}

function invalid(input: unknown): ErrorDetail[] {
  const result = validateGatherRequest(input, limits);
  if (result.ok) throw new Error(`expected a 400, got ${JSON.stringify(result.value)}`);
  return result.details;
}

describe("validation", () => {
  test("maxInFlight, perOrigin, both: kept as given; absent: no concurrency at all", () => {
    expect(valid(body({ concurrency: { maxInFlight: 5, perOrigin: 2 } })).concurrency).toEqual({ maxInFlight: 5, perOrigin: 2 });
    expect(valid(body({ concurrency: { maxInFlight: 100 } })).concurrency).toEqual({ maxInFlight: 100 });
    expect(valid(body({ concurrency: { perOrigin: 3 } })).concurrency).toEqual({ perOrigin: 3 });
    expect(valid(body({ concurrency: { perOrigin: 5, maxInFlight: 5 } })).concurrency).toEqual({ maxInFlight: 5, perOrigin: 5 });
    expect("concurrency" in valid(body({}))).toBe(false);
  });

  test("bad values: 400 with field paths", () => {
    expect(invalid(body({ concurrency: { maxInFlight: 0 } }))).toEqual([
      { path: "concurrency.maxInFlight", message: "must be at least 1" },
    ]);
    expect(invalid(body({ concurrency: { maxInFlight: 1.5 } }))).toEqual([
      { path: "concurrency.maxInFlight", message: "must be a whole number" },
    ]);
    expect(invalid(body({ concurrency: { maxInFlight: "5" } }))).toEqual([
      { path: "concurrency.maxInFlight", message: "must be a number" },
    ]);
    expect(invalid(body({ concurrency: { maxInFlight: 101 } }))).toEqual([
      { path: "concurrency.maxInFlight", message: "must be at most 100 (MAX_RECIPIENTS)" },
    ]);
    expect(invalid(body({ concurrency: { perOrigin: 0 } }))).toEqual([{ path: "concurrency.perOrigin", message: "must be at least 1" }]);
    expect(invalid(body({ concurrency: { maxInFlight: 4, perOrigin: 5 } }))).toEqual([
      { path: "concurrency.perOrigin", message: "must be at most concurrency.maxInFlight (4)" },
    ]);
    expect(invalid(body({ concurrency: { perOrigin: 101 } }))).toEqual([
      { path: "concurrency.perOrigin", message: "must be at most 100 (MAX_RECIPIENTS)" },
    ]);
    expect(invalid(body({ concurrency: {} }))).toEqual([{ path: "concurrency", message: "give maxInFlight, perOrigin or both" }]);
    expect(invalid(body({ concurrency: 5 }))).toEqual([{ path: "concurrency", message: "must be an object" }]);
    expect(invalid(body({ concurrency: { maxInFlight: 2, perHost: 1 } }))).toEqual([
      { path: "concurrency.perHost", message: "is not a known field" },
    ]);
  });

  test("not in auction mode", () => {
    const auction = { request: null, auction: { expected: 2 }, completion: { timeoutMs: 1000 }, concurrency: { maxInFlight: 2 } };
    expect(invalid(auction)).toEqual([{ path: "concurrency", message: "does not apply in auction mode (nobody is called)" }]);
  });
});

describe("what the starter adds to the orchestration input", () => {
  const url = (id: string, origin: string): Recipient => ({ id, url: `${origin}/${id}`, method: "POST", timeoutMs: 1000 });
  const sim = (id: string): Recipient => ({ id, simulate: { latencyMs: 0, failureRate: 0, value: null } });

  test("the origin table only with perOrigin and some URL recipient: one number per recipient, 0 for simulated ones", () => {
    const list = [url("a", "http://127.0.0.1:1"), sim("s"), url("b", "http://127.0.0.1:2"), url("c", "http://127.0.0.1:1/")];
    const input = concurrencyInput(list, { maxInFlight: 3, perOrigin: 1 }, 250);
    expect(input).toEqual({ concurrency: { maxInFlight: 3, perOrigin: 1 }, origins: expect.any(String) });
    expect([...decodeOriginTable(input.origins!, 4)]).toEqual([1, 0, 2, 1]);
    expect(input.origins).toHaveLength(4); // a character a recipient
    expect(concurrencyInput(list, { maxInFlight: 3 }, 250)).toEqual({ concurrency: { maxInFlight: 3 } });
    expect(concurrencyInput([sim("x"), sim("y")], { perOrigin: 1 }, 250)).toEqual({ concurrency: { perOrigin: 1 } });
  });

  test("scheme, host and port make an origin (default ports and case folded as URL does)", () => {
    const list = [
      url("a", "http://Example.com:80"),
      url("b", "http://example.com"),
      url("c", "https://example.com"),
      url("d", "http://example.com:81"),
    ];
    expect([...decodeOriginTable(concurrencyInput(list, { perOrigin: 1 }, 250).origins!, 4)]).toEqual([1, 1, 2, 3]);
  });

  test("above the batch size: how many batches run at once", () => {
    const list = Array.from({ length: 10 }, (_, i) => sim(`s${i}`));
    expect(concurrencyInput(list, { maxInFlight: 4 }, 3)).toEqual({
      concurrency: { maxInFlight: 4 },
      batchSlots: expect.any(Number),
      lendShares: true,
    });
    expect(concurrencyInput(list, { maxInFlight: 4 }, 3).batchSlots).toBeLessThanOrEqual(4);
    expect(concurrencyInput(list, { maxInFlight: 4 }, 10)).toEqual({ concurrency: { maxInFlight: 4 } });
  });
});
