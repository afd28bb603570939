/**
 * What a hostile user tried against the service, over HTTP: each is refused with a clear answer (or,
 * for a recipient's answer, a failed attempt with its reason) instead of amplifying, leaking or breaking.
 */
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import {
  gatherUrl,
  getGather,
  ownsHost,
  pollUntil,
  pollUntilDone,
  postJson,
  recipientServer,
  request,
  runGather,
  startGather,
  startHostProcess,
  startOk,
  uniqueId,
  useTarget,
  type HostProcess,
  type HttpAnswer,
  type Target,
} from "./harness";

const target = useTarget();
jest.setTimeout(30_000);

const sim = (id: string, latencyMs = 0, value: unknown = 1) => ({ id, simulate: { latencyMs, value } });

function expectError(res: HttpAnswer, status: number, code: string): void {
  expect(res.status).toBe(status);
  expect(res.headers.get("content-type")).toMatch(/application\/json/);
  expect(res.body?.error?.code).toBe(code);
  expect(typeof res.body.error.message).toBe("string");
}

function detailPaths(res: HttpAnswer): string[] {
  return (res.body?.error?.details ?? []).map((d: { path: string }) => d.path);
}

describe("retry amplification", () => {
  test("retry.maxAttempts above 10 is a 400, nothing started", async () => {
    const id = uniqueId("amplify");
    const server = await recipientServer(() => ({ status: 503, text: "" }));
    const recipients = Array.from({ length: 100 }, (_, i) => ({ id: `r${i}`, url: `${server.url}/q` }));
    const res = await startGather(target, { id, request: {}, recipients, retry: { maxAttempts: 100, firstRetryIntervalMs: 1 } });
    expectError(res, 400, "invalid_request");
    expect(detailPaths(res)).toEqual(["retry.maxAttempts"]);
    expect((await getGather(target, id)).status).toBe(404);
    expect(server.count).toBe(0);
  });

  test("recipients × maxAttempts over MAX_ATTEMPTS_PER_GATHER is a 400 naming the setting", async () => {
    // 10000 recipients (MAX_RECIPIENTS's default) × 10 attempts = 100000 > 50000 (the default budget).
    const id = uniqueId("budget");
    const recipients = Array.from({ length: 10_000 }, (_, i) => ({ id: `r${i}`, simulate: {} }));
    const res = await startGather(target, { id, request: {}, recipients, retry: { maxAttempts: 10 } });
    expectError(res, 400, "invalid_request");
    // Under BASE_URL the host may have other settings; on our own host the defaults hold.
    expect(res.body.error.message).toMatch(ownsHost ? /MAX_ATTEMPTS_PER_GATHER \(50000\)/ : /MAX_ATTEMPTS_PER_GATHER|MAX_RECIPIENTS/);
    expect((await getGather(target, id)).status).toBe(404);
  });
});

describe("recipient headers", () => {
  test("invalid names, CR/LF in values and framing headers are a 400 at their paths, nothing started", async () => {
    const id = uniqueId("headers");
    const server = await recipientServer();
    const url = `${server.url}/q`;
    const res = await startGather(target, {
      id,
      request: {},
      recipients: [
        { id: "a", url, headers: { "bad name": "x" } },
        { id: "b", url, headers: { "x-ok": "v\r\nX-Injected: 1" } },
        { id: "c", url, headers: { "Transfer-Encoding": "chunked" } },
        { id: "d", url, headers: { Host: "internal.example" } },
        { id: "e", url, headers: { "": "x" } },
      ],
    });
    expectError(res, 400, "invalid_request");
    expect(detailPaths(res)).toEqual([
      "recipients[0].headers.bad name",
      "recipients[1].headers.x-ok",
      "recipients[2].headers.Transfer-Encoding",
      "recipients[3].headers.Host",
      "recipients[4].headers.",
    ]);
    expect((await getGather(target, id)).status).toBe(404);
    expect(server.count).toBe(0);
  });

  test("a recipient's own Content-Type does not merge with ours: the recipient receives application/json", async () => {
    const server = await recipientServer(() => ({ json: { ok: true } }));
    const done = await runGather(target, {
      request: { q: 1 },
      recipients: [{ id: "a", url: `${server.url}/q`, headers: { "Content-Type": "text/plain", "X-Api-Key": "k1" } }],
    });
    expect(done.result).toMatchObject({ outcome: "complete", counts: { succeeded: 1 } });
    expect(server.calls[0].headers["content-type"]).toBe("application/json");
    expect(server.calls[0].headers["x-api-key"]).toBe("k1");
    expect(server.calls[0].body).toMatchObject({ request: { q: 1 }, recipientId: "a" });
  });
});

function postRaw(url: string, text: string): Promise<HttpAnswer> {
  return request(url, { method: "POST", headers: { "content-type": "application/json" }, body: text });
}

describe("numbers out of range (1e999)", () => {
  test("in request: a 400 naming the path, nothing started", async () => {
    const id = uniqueId("inf");
    const res = await postRaw(gatherUrl(target), `{"id":"${id}","request":{"price":1e999},"recipients":[{"id":"a","simulate":{}}]}`);
    expectError(res, 400, "invalid_request");
    expect(detailPaths(res)).toEqual(["request.price"]);
    expect((await getGather(target, id)).status).toBe(404);
  });

  test("anywhere else in the body too", async () => {
    const res = await postRaw(gatherUrl(target), `{"request":{},"recipients":[{"id":"a","simulate":{"value":[1,-1e999]}}]}`);
    expectError(res, 400, "invalid_request");
    expect(detailPaths(res)).toEqual(["recipients[0].simulate.value[1]"]);
  });

  test("in a recipient's answer: a failed attempt with its reason, not a value passed on as null", async () => {
    const server = await recipientServer(() => ({ text: '{"price":1e999}' }));
    const done = await runGather(target, { request: {}, recipients: [{ id: "a", url: `${server.url}/q` }] });
    expect(done.result.responses).toEqual([
      expect.objectContaining({ recipientId: "a", status: "failed", error: "response body has a number out of range" }),
    ]);
    expect(done.result.outcome).toBe("failed");
  });
});

describe("nesting depth", () => {
  const nested = (levels: number) => "[".repeat(levels) + "]".repeat(levels);

  test.each([65, 5_000, 100_000])("a request nested %i levels deep is a 400 with the error shape, not a 500", async (levels) => {
    const id = uniqueId("deep");
    const res = await postRaw(gatherUrl(target), `{"id":"${id}","request":${nested(levels)},"recipients":[{"id":"a","simulate":{}}]}`);
    expectError(res, 400, "invalid_request");
    expect(res.body.error.details).toEqual([{ path: `request${"[0]".repeat(63)}`, message: "is nested deeper than 64 levels" }]);
    expect((await getGather(target, id)).status).toBe(404);
  });

  test("64 levels in all (the body object counts as one) are accepted", async () => {
    const res = await postRaw(gatherUrl(target), `{"request":${nested(63)},"recipients":[{"id":"a","simulate":{}}]}`);
    expect(res.status).toBe(202);
    expect((await pollUntilDone(target, res.body.id)).runtimeStatus).toBe("Completed");
  });

  test("a recipient's answer nested deeper than 64 levels is a failed attempt with its reason", async () => {
    const server = await recipientServer(() => ({ text: nested(65) }));
    const done = await runGather(target, { request: {}, recipients: [{ id: "a", url: `${server.url}/q` }] });
    expect(done.result.responses).toEqual([
      expect.objectContaining({ recipientId: "a", status: "failed", error: "response body nested deeper than 64 levels" }),
    ]);
  });

  test("an auction answer nested too deep, or with 1e999, is a 400 and not counted", async () => {
    const { id } = await startOk(target, { request: {}, auction: { expected: 1 }, completion: { timeoutMs: 20_000 } });
    const url = `${gatherUrl(target, id)}/responses`;
    // 30000 levels: 60 KB, under MAX_RESPONSE_BYTES (the limit of answer bodies).
    const deep = await postRaw(url, `{"responder":"r1","value":${nested(30_000)}}`);
    expectError(deep, 400, "invalid_request");
    expect(deep.body.error.details[0].message).toBe("is nested deeper than 64 levels");
    const inf = await postRaw(url, `{"responder":"r1","value":{"bid":1e999}}`);
    expectError(inf, 400, "invalid_request");
    expect(detailPaths(inf)).toEqual(["value.bid"]);
    // A good answer still closes it: nothing was counted before.
    expect((await postJson(url, { responder: "r1", value: { bid: 3 } })).status).toBe(202);
    const done = await pollUntilDone(target, id);
    expect(done.result.responses).toEqual([expect.objectContaining({ recipientId: "r1", value: { bid: 3 } })]);
  });
});

describe("ids that are Object.prototype's names", () => {
  const ids = ["__proto__", "constructor", "toString", "hasOwnProperty"];

  test("recipients named __proto__, constructor, toString keep their answers in collect", async () => {
    const done = await runGather(target, { request: {}, recipients: ids.map((id, i) => sim(id, 0, { n: i })) });
    expect(done.result.outcome).toBe("complete");
    expect(done.result.responses.map((r: { recipientId: string }) => r.recipientId)).toEqual(ids);
    // Read from the JSON text: the key must be there, as an own key, whatever the parser does with it.
    const text = (await getGather(target, done.id)).text;
    const values = JSON.parse(text).result.aggregate.values;
    expect(Object.keys(values).sort()).toEqual([...ids].sort());
    ids.forEach((id, i) => expect(Object.getOwnPropertyDescriptor(values, id)?.value).toEqual({ n: i }));
    expect(text).toContain('"__proto__":{"n":0}');
  });

  test("an auction responder named __proto__ keeps its answer in collect", async () => {
    const { id } = await startOk(target, { request: {}, auction: { expected: 2 }, completion: { timeoutMs: 20_000 } });
    const url = `${gatherUrl(target, id)}/responses`;
    expect((await postJson(url, { responder: "__proto__", value: { bid: 1 } })).status).toBe(202);
    expect((await postJson(url, { responder: "constructor", value: 2 })).status).toBe(202);
    await pollUntilDone(target, id);
    const values = JSON.parse((await getGather(target, id)).text).result.aggregate.values;
    expect(Object.keys(values).sort()).toEqual(["__proto__", "constructor"]);
    expect(Object.getOwnPropertyDescriptor(values, "__proto__")?.value).toEqual({ bid: 1 });
  });

  test("vote and best with a field named after a prototype property read own fields only", async () => {
    const vote = await runGather(target, {
      request: {},
      recipients: [sim("a", 0, { x: 1 }), sim("b", 0, { x: 2 })],
      aggregate: { kind: "vote", field: "constructor" },
    });
    expect(vote.result.aggregate).toMatchObject({ kind: "vote", value: null, count: 0 });
    const best = await runGather(target, {
      request: {},
      recipients: [sim("a", 0, { x: 1 })],
      aggregate: { kind: "best", field: "__proto__" },
    });
    expect(best.result.aggregate).toMatchObject({ kind: "best", recipientId: null, value: null });
  });
});

describe("route ids outside the instance id pattern", () => {
  test("GET with an encoded path (x%2F..%2F<victim>) is a 404, not the other instance's status", async () => {
    const { id: victim } = await startOk(target, { request: { secret: "s3" }, recipients: [sim("a")] });
    await pollUntilDone(target, victim);
    expect((await getGather(target, victim)).status).toBe(200);
    for (const path of [`x%2F..%2F${victim}`, `x%2F%2E%2E%2F${victim}`, `${victim}%3Fx%3D1`, `${victim}%23frag`, `a%20b`]) {
      const res = await request(`${gatherUrl(target)}/${path}`);
      expectError(res, 404, "not_found");
      expect(res.text).not.toContain("s3");
    }
  });

  test("POST /responses with an id holding ?, / or a space is a 404, not a 500", async () => {
    const { id } = await startOk(target, { request: {}, auction: {}, completion: { timeoutMs: 5_000 } });
    for (const path of [`${id}%3Fx%3D1`, `x%2F..%2F${id}`, `${id}%20`]) {
      const res = await postJson(`${gatherUrl(target)}/${path}/responses`, { responder: "r", value: 1 });
      expectError(res, 404, "not_found");
    }
  });

  test("an id made only of dots is refused at start", async () => {
    for (const id of [".", "..", "..."]) {
      const res = await startGather(target, { id, request: {}, recipients: [sim("a")] });
      expectError(res, 400, "invalid_request");
      expect(detailPaths(res)).toEqual(["id"]);
    }
  });
});

describe("POST /responses admits answers to auctions only", () => {
  test("a gather started with recipients answers 409 conflict, running or finished, and raises nothing", async () => {
    const { id } = await startOk(target, { request: {}, recipients: [sim("slow", 3_000)] });
    const url = `${gatherUrl(target, id)}/responses`;
    const running = await postJson(url, { responder: "intruder", value: 1 });
    expectError(running, 409, "conflict");
    expect(running.body.error.message).toMatch(/not an auction/);
    const done = await pollUntilDone(target, id);
    expect(done.result.responses.map((r: { recipientId: string }) => r.recipientId)).toEqual(["slow"]);
    expectError(await postJson(url, { responder: "late", value: 1 }), 409, "conflict");
  });
});

// Needs its own host with a small MAX_RECIPIENTS; under BASE_URL the host's settings are not ours to set.
(ownsHost ? describe : describe.skip)("an auction without `expected` takes at most MAX_RECIPIENTS answers", () => {
  let small: HostProcess | undefined;
  const smallTarget: Target = { baseUrl: "" };
  beforeAll(async () => {
    small = await startHostProcess({ env: { MAX_RECIPIENTS: "3" } });
    smallTarget.baseUrl = small.url;
  }, 60_000);
  afterAll(async () => {
    await small?.stop();
    if (small) fs.rmSync(small.dataDir, { recursive: true, force: true });
  }, 30_000);

  test("answers beyond MAX_RECIPIENTS are refused: 409 naming the setting while it runs, 410 once it closed", async () => {
    const { id } = await startOk(smallTarget, { request: {}, auction: {}, completion: { timeoutMs: 20_000 } });
    const url = `${gatherUrl(smallTarget, id)}/responses`;
    for (const responder of ["r1", "r2", "r3"]) expect((await postJson(url, { responder, value: 1 })).status).toBe(202);
    await pollUntil(smallTarget, id, (b) => b.progress?.succeeded === 3);
    const fourth = await postJson(url, { responder: "r4", value: 1 });
    // The orchestrator closes the auction once it holds MAX_RECIPIENTS answers; until that episode has run,
    // the function refuses from the progress it reads.
    if (fourth.status === 409) {
      expectError(fourth, 409, "conflict");
      expect(fourth.body.error.message).toMatch(/MAX_RECIPIENTS \(3\)/);
    } else {
      expectError(fourth, 410, "gone");
    }
    const done = await pollUntilDone(smallTarget, id);
    expect(done.result.responses.map((r: { recipientId: string }) => r.recipientId)).toEqual(["r1", "r2", "r3"]);
  });
});

describe("final progress", () => {
  test("a Completed gather's progress says phase done, with its counts", async () => {
    const done = await runGather(target, { request: {}, recipients: [sim("a"), { id: "b", simulate: { failureRate: 1 } }] });
    expect(done.runtimeStatus).toBe("Completed");
    expect(done.progress).toMatchObject({ phase: "done", total: 2, succeeded: 1, failed: 1, pending: 0 });
  });
});

describe("answers that are not valid UTF-8", () => {
  let server: http.Server | undefined;
  afterAll(() => new Promise<void>((resolve) => (server ? (server.closeAllConnections(), server.close(() => resolve())) : resolve())));

  test("are a failed attempt with its reason, not a value with U+FFFD in it", async () => {
    // Raw bytes: the harness's servers write strings, which are always valid UTF-8.
    server = http.createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        const body = Buffer.concat([Buffer.from('{"name":"'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"}')]);
        res.writeHead(200, { "content-type": "application/json", "content-length": String(body.length) });
        res.end(body);
      });
    });
    await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    const done = await runGather(target, { request: {}, recipients: [{ id: "a", url: `http://127.0.0.1:${port}/q` }] });
    expect(done.result.responses).toEqual([
      expect.objectContaining({ recipientId: "a", status: "failed", error: "response body is not valid UTF-8" }),
    ]);
  });
});

describe("start bodies", () => {
  test("a body that is not valid UTF-8 is a 400, nothing started", async () => {
    const id = uniqueId("utf8");
    const body = Buffer.concat([
      Buffer.from(`{"id":"${id}","request":{"name":"`),
      Buffer.from([0xc3, 0x28, 0xff]),
      Buffer.from('"},"recipients":[{"id":"a","simulate":{}}]}'),
    ]);
    const res = await request(gatherUrl(target), { method: "POST", headers: { "content-type": "application/json" }, body });
    expectError(res, 400, "invalid_request");
    expect(res.body.error.message).toMatch(/UTF-8/);
    expect((await getGather(target, id)).status).toBe(404);
  });

  test("a chunked body (no Content-Length) over MAX_REQUEST_BYTES is a 413", async () => {
    const chunk = new Uint8Array(64 * 1024).fill(0x20);
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent === 0) controller.enqueue(new TextEncoder().encode('{"request":"'));
        if (sent > 2 * 1024 * 1024) return controller.close();
        sent += chunk.length;
        controller.enqueue(chunk);
      },
    });
    const res = await request(gatherUrl(target), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: stream,
      duplex: "half",
    } as RequestInit);
    expectError(res, 413, "payload_too_large");
  });
});
