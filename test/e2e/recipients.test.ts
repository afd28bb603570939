/**
 * URL recipients against scripted loopback servers: what callRecipient sends, every fault as a `failed`
 * response with a meaningful error (never a failed orchestration), and durable retries.
 */
import { freePort, recipientServer, runGather, useTarget, type AnyJson } from "./harness";

const target = useTarget();
jest.setTimeout(30_000);

const okSim = { id: "ok", simulate: { latencyMs: 0, value: { fine: true } } };

/** Runs a gather of one URL recipient `bad` (plus one healthy simulated recipient) and returns bad's response. */
async function faultOf(recipient: Record<string, unknown>): Promise<{ status: AnyJson; bad: AnyJson }> {
  const status = await runGather(target, { request: { q: 1 }, recipients: [{ id: "bad", ...recipient }, okSim] });
  expect(status.runtimeStatus).toBe("Completed");
  expect(status.result).toMatchObject({ outcome: "complete", closedBy: "all-responded" });
  expect(status.result.counts).toEqual({ total: 2, succeeded: 1, failed: 1, timedOut: 0, abandoned: 0 });
  const bad = status.result.responses[0];
  expect(bad).toMatchObject({ recipientId: "bad", status: "failed", attempts: 1 });
  expect(bad.value).toBeUndefined();
  expect(status.result.aggregate).toEqual({ kind: "collect", values: { ok: { fine: true } }, count: 1 });
  return { status, bad };
}

describe("URL recipients", () => {
  test("a 2xx JSON answer is the value; the recipient receives {requestId, recipientId, request} with its method and headers", async () => {
    const srv = await recipientServer(() => ({ json: { quote: { price: 12.5 } } }));
    const status = await runGather(target, {
      request: { item: "widget", qty: 3 },
      recipients: [
        { id: "p", url: `${srv.url}/quote?x=1`, method: "PUT", headers: { "x-api-key": "k1" }, timeoutMs: 5000 },
        { id: "q", url: `${srv.url}/other` },
      ],
      aggregate: { kind: "best", field: "quote.price" },
    });
    expect(status.result).toMatchObject({ outcome: "complete", closedBy: "all-responded" });
    expect(status.result.responses[0]).toMatchObject({
      recipientId: "p",
      status: "succeeded",
      value: { quote: { price: 12.5 } },
      attempts: 1,
    });
    expect(srv.count).toBe(2);
    const put = srv.calls.find((c) => c.url === "/quote?x=1")!;
    expect(put.method).toBe("PUT");
    expect(put.headers["x-api-key"]).toBe("k1");
    expect(put.headers["content-type"]).toMatch(/application\/json/);
    expect(put.body).toEqual({ requestId: status.id, recipientId: "p", request: { item: "widget", qty: 3 } });
    const post = srv.calls.find((c) => c.url === "/other")!;
    expect(post.method).toBe("POST");
    expect(post.body).toEqual({ requestId: status.id, recipientId: "q", request: { item: "widget", qty: 3 } });
  });

  test("non-2xx status: failed with the HTTP status", async () => {
    const srv = await recipientServer(() => ({ status: 503, json: { error: "busy" } }));
    const { bad } = await faultOf({ url: `${srv.url}/q` });
    expect(bad.error).toBe("HTTP 503");
    expect(srv.count).toBe(1);
  });

  test("timeout: a hanging recipient fails after its timeoutMs", async () => {
    const srv = await recipientServer(() => ({ hang: true }));
    const t0 = Date.now();
    const { bad } = await faultOf({ url: `${srv.url}/q`, timeoutMs: 400 });
    expect(bad.error).toMatch(/timed out after 400 ms/);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(srv.count).toBe(1);
  });

  test("invalid JSON body: failed", async () => {
    const srv = await recipientServer(() => ({ text: "{not json", headers: { "content-type": "application/json" } }));
    const { bad } = await faultOf({ url: `${srv.url}/q` });
    expect(bad.error).toMatch(/not JSON/i);
  });

  test("oversize body (declared Content-Length over MAX_RESPONSE_BYTES): failed", async () => {
    const big = JSON.stringify({ blob: "x".repeat(70_000) });
    const srv = await recipientServer(() => ({ text: big }));
    const { bad } = await faultOf({ url: `${srv.url}/q` });
    expect(bad.error).toMatch(/larger than 65536 bytes/);
  });

  test("oversize body (chunked, no Content-Length): failed while streaming", async () => {
    const big = JSON.stringify({ blob: "y".repeat(200_000) });
    const srv = await recipientServer(() => ({ text: big, chunked: true }));
    const { bad } = await faultOf({ url: `${srv.url}/q` });
    expect(bad.error).toMatch(/larger than 65536 bytes/);
  });

  test("connection refused: failed", async () => {
    const port = await freePort(); // bound then released: nobody listens there
    const { bad } = await faultOf({ url: `http://127.0.0.1:${port}/q`, timeoutMs: 3000 });
    expect(bad.error).toMatch(/connection refused/i);
  });

  test("a redirect is not followed: failed, and the redirect target is never called", async () => {
    const elsewhere = await recipientServer(() => ({ json: { hijacked: true } }));
    const srv = await recipientServer(() => ({ status: 302, headers: { location: `${elsewhere.url}/steal` }, text: "" }));
    const { bad } = await faultOf({ url: `${srv.url}/q` });
    expect(bad.error).toMatch(/HTTP 302/);
    expect(bad.error).toMatch(/redirect/i);
    expect(srv.count).toBe(1);
    expect(elsewhere.count).toBe(0);
  });
});

describe("retry", () => {
  test("fails twice, then succeeds: succeeded with attempts 3; the server saw 3 calls", async () => {
    const srv = await recipientServer((_call, n) => (n <= 2 ? { status: 500, json: { n } } : { json: { price: 7, n } }));
    const status = await runGather(target, {
      request: { r: 1 },
      recipients: [{ id: "flaky", url: `${srv.url}/q`, timeoutMs: 2000 }],
      retry: { maxAttempts: 3, firstRetryIntervalMs: 100, backoffCoefficient: 1 },
    });
    expect(status.runtimeStatus).toBe("Completed");
    expect(status.result).toMatchObject({ outcome: "complete", closedBy: "all-responded" });
    expect(status.result.responses).toEqual([
      expect.objectContaining({ recipientId: "flaky", status: "succeeded", value: { price: 7, n: 3 }, attempts: 3 }),
    ]);
    expect(srv.count).toBe(3);
    expect(srv.calls.map((c) => c.body)).toEqual(Array(3).fill({ requestId: status.id, recipientId: "flaky", request: { r: 1 } }));
  });

  test("every attempt fails: failed with attempts = maxAttempts and the last error", async () => {
    const srv = await recipientServer(() => ({ status: 502, text: "" }));
    const status = await runGather(target, {
      request: {},
      recipients: [{ id: "down", url: `${srv.url}/q` }],
      retry: { maxAttempts: 2, firstRetryIntervalMs: 100 },
    });
    expect(status.runtimeStatus).toBe("Completed");
    expect(status.result).toMatchObject({ outcome: "failed", closedBy: "all-failed" });
    expect(status.result.responses[0]).toMatchObject({ recipientId: "down", status: "failed", attempts: 2, error: "HTTP 502" });
    expect(srv.count).toBe(2);
  });
});
