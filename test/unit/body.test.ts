/**
 * readJsonBody: the request body read as a stream under the limit (a chunked body is not buffered
 * whole before the 413), UTF-8 checked, JSON parsed and its shape checked.
 */
import { HttpRequest } from "@azure/functions";
import { readJsonBody } from "../../src/http/body";
import { readAtMost } from "../../src/gather/streams";

/** A request whose body is the given stream (what the host hands over for a chunked upload). */
function streamed(stream: ReadableStream<Uint8Array>, headers: Record<string, string> = { "content-type": "application/json" }) {
  return { headers: new Headers(headers), body: stream };
}

/** An endless body: `chunk`-byte chunks on demand; counts what was pulled and whether it was cancelled. */
function endless(chunk = 1024) {
  const state = { pulled: 0, cancelled: false };
  const stream = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        state.pulled += chunk;
        controller.enqueue(new Uint8Array(chunk).fill(0x20));
      },
      cancel() {
        state.cancelled = true;
      },
    },
    { highWaterMark: 0 },
  );
  return { stream, state };
}

function bytesStream(...parts: Uint8Array[]): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    start(controller) {
      for (const p of parts) controller.enqueue(p);
      controller.close();
    },
  });
}

const error = (result: Awaited<ReturnType<typeof readJsonBody>>) => {
  if (result.ok) throw new Error(`expected a refusal, got ${JSON.stringify(result.body)}`);
  return {
    status: result.response.status,
    body: result.response.jsonBody as { error: { code: string; message: string; details?: unknown[] } },
  };
};

describe("readJsonBody: size", () => {
  test("an endless chunked body: 413 after MAX_REQUEST_BYTES + one chunk at most, and the stream is cancelled", async () => {
    const { stream, state } = endless(1024);
    const result = error(await readJsonBody(streamed(stream), 10_000));
    expect(result.status).toBe(413);
    expect(result.body.error).toEqual({ code: "payload_too_large", message: "the body is larger than 10000 bytes (MAX_REQUEST_BYTES)" });
    expect(state.pulled).toBeLessThanOrEqual(10_000 + 1024);
    expect(state.pulled).toBeGreaterThan(10_000);
    expect(state.cancelled).toBe(true);
  });

  test("a declared Content-Length over the limit: 413 without reading the body", async () => {
    const { stream, state } = endless();
    const result = error(await readJsonBody(streamed(stream, { "content-type": "application/json", "content-length": "10001" }), 10_000));
    expect(result.status).toBe(413);
    expect(state.pulled).toBe(0);
  });

  test("exactly the limit is read; the setting named in the 413 can be another", async () => {
    const text = JSON.stringify({ pad: "x".repeat(90) });
    const ok = await readJsonBody(streamed(bytesStream(Buffer.from(text))), Buffer.byteLength(text));
    expect(ok).toEqual({ ok: true, body: { pad: "x".repeat(90) } });
    const over = error(await readJsonBody(streamed(bytesStream(Buffer.from(text))), Buffer.byteLength(text) - 1, "MAX_RESPONSE_BYTES"));
    expect(over.body.error.message).toMatch(/\(MAX_RESPONSE_BYTES\)$/);
  });

  test("readAtMost: no body is empty; the chunks are joined", async () => {
    expect(await readAtMost(null, 10)).toEqual(new Uint8Array(0));
    expect(Buffer.from((await readAtMost(bytesStream(Buffer.from("ab"), Buffer.from("cd")), 4))!).toString()).toBe("abcd");
    expect(await readAtMost(bytesStream(Buffer.from("ab"), Buffer.from("cde")), 4)).toBeUndefined();
  });

  test("through @azure/functions' own HttpRequest too", async () => {
    const request = new HttpRequest({
      method: "POST",
      url: "http://localhost/api/x",
      body: { string: '{"a":1}' },
      headers: { "content-type": "application/json" },
    });
    expect(await readJsonBody(request, 100)).toEqual({ ok: true, body: { a: 1 } });
  });
});

describe("readJsonBody: content", () => {
  test("a body that is not valid UTF-8: 400", async () => {
    const body = Buffer.concat([Buffer.from('{"request":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]);
    const result = error(await readJsonBody(streamed(bytesStream(body)), 1000));
    expect(result.status).toBe(400);
    expect(result.body.error).toEqual({
      code: "invalid_request",
      message: "the body is not valid UTF-8",
      details: [{ path: "", message: "is not valid UTF-8" }],
    });
  });

  test('a body that is not JSON: 400 whose one detail is the body itself (path ""), as every 400 has details', async () => {
    const result = error(await readJsonBody(streamed(bytesStream(Buffer.from("{nope"))), 1000));
    expect(result.status).toBe(400);
    expect(result.body.error.message).toMatch(/^the body is not valid JSON: /);
    expect(result.body.error.details).toEqual([{ path: "", message: expect.stringMatching(/^is not valid JSON: /) }]);
  });

  test("multi-byte characters split across chunks are fine", async () => {
    const bytes = Buffer.from(JSON.stringify({ city: "Zürich €😀" }));
    const cut = bytes.indexOf(Buffer.from("😀")) + 1;
    expect(await readJsonBody(streamed(bytesStream(bytes.subarray(0, cut), bytes.subarray(cut))), 1000)).toEqual({
      ok: true,
      body: { city: "Zürich €😀" },
    });
  });

  test("not JSON, a non-JSON content type, too deep, 1e999", async () => {
    expect(error(await readJsonBody(streamed(bytesStream(Buffer.from("{nope"))), 1000)).status).toBe(400);
    expect(error(await readJsonBody(streamed(bytesStream(Buffer.from("{}")), { "content-type": "text/plain" }), 1000)).status).toBe(415);
    const deep = error(await readJsonBody(streamed(bytesStream(Buffer.from("[".repeat(5000) + "]".repeat(5000)))), 100_000));
    expect(deep.status).toBe(400);
    expect(deep.body.error.details).toEqual([{ path: "[0]".repeat(64), message: "is nested deeper than 64 levels" }]);
    const inf = error(await readJsonBody(streamed(bytesStream(Buffer.from('{"request":{"p":1e999}}'))), 1000));
    expect(inf.body.error).toEqual({
      code: "invalid_request",
      message: "request.p: is a number out of range (JSON numbers must be finite)",
      details: [{ path: "request.p", message: "is a number out of range (JSON numbers must be finite)" }],
    });
  });
});
