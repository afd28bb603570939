/**
 * The HTTP functions through their handlers, with @azure/functions' own HttpRequest and
 * InvocationContext, and a recording durable client in place of the host (e2e tests cover the host).
 */
import { HttpRequest, InvocationContext, type HttpResponseInit } from "@azure/functions";
import * as df from "durable-functions";
import { getScatterGather } from "../../src/functions/getScatterGather";
import { listScatterGathers } from "../../src/functions/listScatterGathers";
import { ui } from "../../src/functions/ui";
import { startScatterGather } from "../../src/functions/startScatterGather";
import { submitAnswer } from "../../src/functions/submitAnswer";
import { submitResponse } from "../../src/functions/submitResponse";
import { resetAppSecrets } from "../../src/http/appSecrets";
import { answerToken } from "../../src/http/answerTokens";
import { MemoryPayloadStore, setPayloadStore } from "../../src/payload";

type Status = {
  runtimeStatus: string;
  createdTime?: string;
  lastUpdatedTime?: string;
  customStatus?: unknown;
  output?: unknown;
  input?: unknown;
};

class RecordingClient {
  started: { name: string; instanceId: string; input: unknown }[] = [];
  lookups: string[] = [];
  showInput: boolean[] = [];
  raised: { instanceId: string; name: string; data: unknown }[] = [];
  constructor(private readonly statuses: Record<string, Status> = {}) {}

  async getStatus(instanceId: string, options: { showInput?: boolean } = {}) {
    this.lookups.push(instanceId);
    this.showInput.push(options.showInput === true);
    const status = this.statuses[instanceId];
    if (!status) throw new Error(`DurableClient error: Durable Functions extension replied with HTTP 404 response. (${instanceId})`);
    const { input, ...rest } = status;
    return { instanceId, ...rest, ...(options.showInput ? { input } : {}) };
  }
  async startNew(name: string, options: { instanceId: string; input: unknown }) {
    this.started.push({ name, ...options });
    return options.instanceId;
  }
  async raiseEvent(instanceId: string, name: string, data: unknown) {
    this.raised.push({ instanceId, name, data });
  }
  createHttpManagementPayload(instanceId: string) {
    const base = `http://localhost:7071/runtime/webhooks/durabletask/instances/${instanceId}`;
    return {
      id: instanceId,
      statusQueryGetUri: base,
      sendEventPostUri: `${base}/raiseEvent/{eventName}`,
      terminatePostUri: `${base}/terminate?reason={text}`,
    };
  }
  createCheckStatusResponse(_request: unknown, instanceId: string): HttpResponseInit {
    const payload = this.createHttpManagementPayload(instanceId);
    return { status: 202, jsonBody: payload, headers: { Location: payload.statusQueryGetUri, "Retry-After": "10" } };
  }
}

let client: RecordingClient;
let store: MemoryPayloadStore;
beforeEach(() => {
  client = new RecordingClient();
  store = new MemoryPayloadStore();
  setPayloadStore(store);
  jest.spyOn(df, "getClient").mockImplementation(() => client as unknown as df.DurableClient);
  process.env.RECIPIENT_URL_ALLOWLIST = "http://127.0.0.1:*";
  delete process.env.MAX_REQUEST_BYTES;
});
afterEach(() => {
  jest.restoreAllMocks();
  setPayloadStore(undefined);
});

function post(url: string, body: string, contentType = "application/json"): HttpRequest {
  return new HttpRequest({ method: "POST", url, body: { string: body }, headers: { "content-type": contentType } });
}
const context = () => new InvocationContext({ functionName: "test" });
const starterUrl = "http://localhost:7071/api/scatter-gather";
const valid = {
  request: { sku: 1 },
  recipients: [
    { id: "a", simulate: { value: 1 } },
    { id: "b", url: "http://127.0.0.1:9001/quote" },
  ],
};

describe("startScatterGather", () => {
  test("202 with the management URLs; the request and recipients go to the payload store, the orchestrator gets references", async () => {
    const response = await startScatterGather(post(starterUrl, JSON.stringify({ ...valid, id: "order-42" })), context());
    expect(response.status).toBe(202);
    expect((response.headers as Record<string, string>).Location).toContain("/instances/order-42");
    expect(client.started).toHaveLength(1);
    expect(client.started[0]).toMatchObject({
      name: "scatterGatherOrchestrator",
      instanceId: "order-42",
      input: {
        run: { instanceId: "order-42", runId: expect.any(String) },
        recipientCount: 2,
        completion: { mode: "all", agree: false },
        aggregate: { kind: "collect", order: "min" },
        fanoutBatchSize: 250,
        responsesUri: "http://localhost:7071/api/scatter-gather/order-42/responses",
      },
    });
    const input = client.started[0].input as { run: { runId: string } };
    expect(JSON.stringify(input)).not.toContain("sku");
    const prefix = `order-42/${input.run.runId}/`;
    expect(await store.getJson(`${prefix}request.json`)).toEqual({ sku: 1 });
    expect(await store.getJson(`${prefix}recipients.json`)).toEqual([
      { id: "a", simulate: { latencyMs: 0, failureRate: 0, value: 1 } },
      { id: "b", url: "http://127.0.0.1:9001/quote", method: "POST", timeoutMs: 10000 },
    ]);
  });

  test("per-recipient inputs go to the stored list only; tolerance goes to the orchestrator as given", async () => {
    const body = {
      id: "work-1",
      request: { job: "thumbnails" },
      recipients: [
        { id: "img-1", simulate: { valueFrom: "input" }, input: { blob: "in/secret-1.png" } },
        { id: "img-2", url: "http://127.0.0.1:9001/thumb", input: null },
      ],
      tolerance: { maxFailurePercent: 50 },
    };
    expect((await startScatterGather(post(starterUrl, JSON.stringify(body)), context())).status).toBe(202);
    const input = client.started[0].input as { run: { runId: string } };
    expect(input).toMatchObject({ recipientCount: 2, tolerance: { maxFailurePercent: 50 } });
    expect(JSON.stringify(input)).not.toContain("secret-1");
    expect(await store.getJson(`work-1/${input.run.runId}/recipients.json`)).toEqual([
      { id: "img-1", simulate: { latencyMs: 0, failureRate: 0, valueFrom: "input" }, input: { blob: "in/secret-1.png" } },
      { id: "img-2", url: "http://127.0.0.1:9001/thumb", method: "POST", timeoutMs: 10000, input: null },
    ]);
  });

  test("generates an id when none is given", async () => {
    await startScatterGather(post(starterUrl, JSON.stringify(valid)), context());
    expect(client.started[0].instanceId).toMatch(/^[0-9a-f]{32}$/);
  });

  test("auction: the orchestrator gets the absolute respond URL, without a token", async () => {
    const body = { id: "rfq-1", request: {}, auction: { notify: [], expected: 2 }, completion: { timeoutMs: 1000 } };
    expect((await startScatterGather(post(starterUrl, JSON.stringify(body)), context())).status).toBe(202);
    expect(client.started[0].input).toMatchObject({
      // The bidders' token route, without the token (notifyResponder adds it: never in history).
      auction: { expected: 2, notify: [], respondUrl: "http://localhost:7071/api/scatter-gather/rfq-1/answers" },
    });
  });

  test.each([
    ["not JSON", "{nope", "application/json", 400, "invalid_request"],
    ["wrong content type", JSON.stringify(valid), "text/plain", 415, "unsupported_media_type"],
    ["invalid request", JSON.stringify({ request: 1, recipients: [] }), "application/json", 400, "invalid_request"],
  ])("%s → %i and nothing is started", async (_name, body, contentType, status, code) => {
    const response = await startScatterGather(post(starterUrl, body, contentType), context());
    expect(response.status).toBe(status);
    expect((response.jsonBody as { error: { code: string } }).error.code).toBe(code);
    expect(client.started).toHaveLength(0);
  });

  test("400 lists every problem with its path", async () => {
    const body = {
      request: 1,
      recipients: [
        { id: "a", url: "http://evil.example.com/" },
        { id: "a", simulate: {} },
      ],
      completion: { mode: "sometimes" },
    };
    const response = await startScatterGather(post(starterUrl, JSON.stringify(body)), context());
    expect(response.status).toBe(400);
    const paths = (response.jsonBody as { error: { details: { path: string }[] } }).error.details.map((d) => d.path);
    expect(paths).toEqual(expect.arrayContaining(["completion.mode"]));
  });

  test("413 above MAX_REQUEST_BYTES", async () => {
    process.env.MAX_REQUEST_BYTES = "100";
    const response = await startScatterGather(post(starterUrl, JSON.stringify({ ...valid, request: "x".repeat(200) })), context());
    expect(response.status).toBe(413);
    expect((response.jsonBody as { error: { code: string } }).error.code).toBe("payload_too_large");
    expect(client.started).toHaveLength(0);
  });

  test("409 with the management URLs when the id is running; a finished id starts again", async () => {
    client = new RecordingClient({ busy: { runtimeStatus: "Running" }, done: { runtimeStatus: "Completed" } });
    const busy = await startScatterGather(post(starterUrl, JSON.stringify({ ...valid, id: "busy" })), context());
    expect(busy.status).toBe(409);
    expect(busy.jsonBody).toMatchObject({
      error: { code: "conflict" },
      id: "busy",
      statusQueryGetUri: expect.stringContaining("/instances/busy"),
    });
    const done = await startScatterGather(post(starterUrl, JSON.stringify({ ...valid, id: "done" })), context());
    expect(done.status).toBe(202);
    expect(client.started.map((s) => s.instanceId)).toEqual(["done"]);
  });
});

describe("getScatterGather", () => {
  const get = (id: string) => new HttpRequest({ method: "GET", url: `${starterUrl}/${id}`, params: { id } });

  test("progress while running, result when done, 404 when unknown", async () => {
    client = new RecordingClient({
      run: { runtimeStatus: "Running", createdTime: "t0", lastUpdatedTime: "t1", customStatus: { phase: "gathering", pending: 2 } },
      fin: {
        runtimeStatus: "Completed",
        createdTime: "t0",
        lastUpdatedTime: "t2",
        customStatus: { phase: "aggregating" },
        output: { outcome: "complete" },
      },
    });
    const running = await getScatterGather(get("run"), context());
    expect(running).toMatchObject({
      status: 200,
      jsonBody: {
        id: "run",
        runtimeStatus: "Running",
        createdTime: "t0",
        lastUpdatedTime: "t1",
        progress: { phase: "gathering", pending: 2 },
        result: null,
      },
    });
    const finished = await getScatterGather(get("fin"), context());
    expect(finished.jsonBody).toMatchObject({ runtimeStatus: "Completed", result: { outcome: "complete" } });
    const unknown = await getScatterGather(get("nope"), context());
    expect(unknown).toMatchObject({ status: 404, jsonBody: { error: { code: "not_found" } } });
  });
});

describe("getScatterGather: progress of a finished instance", () => {
  const get = (id: string) => new HttpRequest({ method: "GET", url: `${starterUrl}/${id}`, params: { id } });
  const counts = { total: 3, succeeded: 2, failed: 1, pending: 0, deadline: null };

  test.each(["Completed", "Failed", "Terminated"])("%s: phase done with the last counts", async (runtimeStatus) => {
    client = new RecordingClient({ x: { runtimeStatus, customStatus: { phase: "aggregating", ...counts }, output: null } });
    expect((await getScatterGather(get("x"), context())).jsonBody).toMatchObject({ runtimeStatus, progress: { phase: "done", ...counts } });
  });

  test.each(["Failed", "Terminated"])(
    "%s while gathering: nobody pending any more (abandoned, as its close event says)",
    async (runtimeStatus) => {
      const gathering = { phase: "gathering", total: 3, succeeded: 1, failed: 0, pending: 2, deadline: null, awaitingReply: 1 };
      client = new RecordingClient({ x: { runtimeStatus, customStatus: gathering, output: null } });
      const { progress } = (await getScatterGather(get("x"), context())).jsonBody as { progress: unknown };
      expect(progress).toEqual({ phase: "done", total: 3, succeeded: 1, failed: 0, abandoned: 2, pending: 0, deadline: null });
    },
  );

  test("already done (set by the orchestrator) stays done", async () => {
    client = new RecordingClient({ x: { runtimeStatus: "Completed", customStatus: { phase: "done", ...counts } } });
    expect((await getScatterGather(get("x"), context())).jsonBody).toMatchObject({ progress: { phase: "done", ...counts } });
  });

  test("finished without counts in its custom status: null", async () => {
    for (const customStatus of [undefined, null, "text", { phase: "aggregating" }, [1, 2]]) {
      client = new RecordingClient({ x: { runtimeStatus: "Completed", customStatus } });
      expect((await getScatterGather(get("x"), context())).jsonBody).toMatchObject({ progress: null });
    }
  });

  test("before the first episode (a start or a redrive just accepted): from the input, never null", async () => {
    const createdTime = "2026-12-07T10:00:00.000Z";
    const start = { recipientCount: 4, completion: { mode: "all", timeoutMs: 30_000 }, run: { instanceId: "x", runId: "r1" } };
    client = new RecordingClient({ x: { runtimeStatus: "Pending", createdTime, customStatus: null, input: start } });
    expect((await getScatterGather(get("x"), context())).jsonBody).toMatchObject({
      progress: { phase: "gathering", total: 4, succeeded: 0, failed: 0, pending: 4, deadline: "2026-12-07T10:00:30.000Z" },
    });
    // A redrive of 2 recipients that keeps 5 earlier answers and 1 failure it does not redrive (?status=timedOut).
    const kept = { total: 6, succeeded: 5, failed: 1, timedOut: 0, abandoned: 0 };
    const redrive = { ...start, recipientCount: 2, completion: { mode: "all" }, redrive: { redrives: 1, listRunId: "r0", kept } };
    client = new RecordingClient({ x: { runtimeStatus: "Running", createdTime, customStatus: null, input: redrive } });
    expect((await getScatterGather(get("x"), context())).jsonBody).toMatchObject({
      progress: { phase: "gathering", total: 8, succeeded: 5, failed: 1, pending: 2, deadline: null },
    });
    // An auction does not know how many answers will come: nothing to show until its first episode.
    client = new RecordingClient({ x: { runtimeStatus: "Pending", createdTime, customStatus: null, input: { ...start, auction: {} } } });
    expect((await getScatterGather(get("x"), context())).jsonBody).toMatchObject({ progress: null });
  });

  test.each(["Pending", "Running", "Suspended", "ContinuedAsNew"])("%s: the custom status as it is", async (runtimeStatus) => {
    client = new RecordingClient({ x: { runtimeStatus, customStatus: { phase: "aggregating", ...counts } } });
    expect((await getScatterGather(get("x"), context())).jsonBody).toMatchObject({ progress: { phase: "aggregating", ...counts } });
  });
});

describe("submitResponse", () => {
  const answer = (id: string, body: unknown) =>
    new HttpRequest({
      method: "POST",
      url: `${starterUrl}/${id}/responses`,
      params: { id },
      body: { string: JSON.stringify(body) },
      headers: { "content-type": "application/json" },
    });

  const auctionInput = {
    run: { instanceId: "open", runId: "r" },
    auction: { notify: [], respondUrl: "http://x/responses" },
    completion: { mode: "all", agree: false, timeoutMs: 1000 },
    aggregate: { kind: "best", field: "price", order: "min" },
  };

  test("202 stores the answer and raises the responder; a second answer of a responder is kept out; 404 unknown; 410 finished; 400 bad body", async () => {
    client = new RecordingClient({
      open: { runtimeStatus: "Running", input: auctionInput },
      shut: { runtimeStatus: "Completed", input: auctionInput },
    });
    expect((await submitResponse(answer("open", { responder: "r1", value: { price: 3 } }), context())).status).toBe(202);
    // The event names the responder only: the gather has the stored answer's facts computed (never trusts an event's).
    expect(client.raised).toEqual([{ instanceId: "open", name: "response", data: { responder: "r1" } }]);
    expect(await store.getJson("open/r/auction/r1.json")).toEqual({ recipientId: "r1", value: { price: 3 } });
    const again = await submitResponse(answer("open", { responder: "r1", value: { price: 1 } }), context());
    expect(again).toMatchObject({ status: 202, jsonBody: { accepted: false } });
    expect(client.raised).toHaveLength(1);
    expect((await submitResponse(answer("nope", { responder: "r1", value: 1 }), context())).status).toBe(404);
    expect((await submitResponse(answer("shut", { responder: "r1", value: 1 }), context())).status).toBe(410);
    const bad = await submitResponse(answer("open", { responder: "has space", value: 1 }), context());
    expect(bad.status).toBe(400);
    expect((bad.jsonBody as { error: { details: { path: string }[] } }).error.details[0].path).toBe("responder");
    expect(client.raised).toHaveLength(1);
  });
});

describe("submitResponse: only auctions, at most MAX_RECIPIENTS answers", () => {
  const answer = (id: string) =>
    new HttpRequest({
      method: "POST",
      url: `${starterUrl}/${id}/responses`,
      params: { id },
      body: { string: '{"responder":"r9","value":1}' },
      headers: { "content-type": "application/json" },
    });
  const auctionInput = {
    run: { instanceId: "a", runId: "r" },
    auction: { notify: [], respondUrl: "http://x/responses" },
    completion: { mode: "all", agree: false, timeoutMs: 1000 },
    aggregate: { kind: "collect", order: "min" },
  };
  const progress = (succeeded: number) => ({
    phase: "gathering",
    total: succeeded,
    succeeded,
    failed: 0,
    pending: 0,
    deadline: "2030-01-01T00:00:00.000Z",
  });
  afterEach(() => delete process.env.MAX_RECIPIENTS);

  test("409 conflict for a gather started with recipients, running or finished; the status is read with its input", async () => {
    const input = {
      request: {},
      recipients: [{ id: "a", simulate: { latencyMs: 0, failureRate: 0, value: 1 } }],
      completion: { mode: "all" },
    };
    client = new RecordingClient({ run: { runtimeStatus: "Running", input }, fin: { runtimeStatus: "Completed", input } });
    for (const id of ["run", "fin"]) {
      const response = await submitResponse(answer(id), context());
      expect(response.status).toBe(409);
      expect((response.jsonBody as { error: { code: string; message: string } }).error).toEqual({
        code: "conflict",
        message: `scatter-gather ${id} is not an auction: it was started with recipients and takes no answers`,
      });
    }
    expect(client.showInput).toEqual([true, true]);
    expect(client.raised).toEqual([]);
  });

  test("409 once the auction holds MAX_RECIPIENTS answers; below that the answer is raised", async () => {
    process.env.MAX_RECIPIENTS = "3";
    client = new RecordingClient({
      two: { runtimeStatus: "Running", input: auctionInput, customStatus: progress(2) },
      full: { runtimeStatus: "Running", input: auctionInput, customStatus: progress(3) },
    });
    expect((await submitResponse(answer("two"), context())).status).toBe(202);
    const full = await submitResponse(answer("full"), context());
    expect(full.status).toBe(409);
    expect((full.jsonBody as { error: { code: string; message: string } }).error).toEqual({
      code: "conflict",
      message: "auction full already holds 3 answers, the most MAX_RECIPIENTS (3) allows: no more are taken",
    });
    expect(client.raised.map((r) => r.instanceId)).toEqual(["two"]);
  });

  test("an auction without customStatus yet (just started) takes the answer", async () => {
    client = new RecordingClient({ new: { runtimeStatus: "Pending", input: auctionInput } });
    expect((await submitResponse(answer("new"), context())).status).toBe(202);
  });
});

describe("route ids outside the instance id pattern: 404 before any lookup", () => {
  const ids = [".", "..", "x/../victim", "victim?x=1", "a b", "", "x".repeat(101), "é"];

  test.each(ids)("GET %j", async (id) => {
    client = new RecordingClient({ victim: { runtimeStatus: "Completed", output: { secret: 1 } } });
    const response = await getScatterGather(new HttpRequest({ method: "GET", url: starterUrl, params: { id } }), context());
    expect(response).toMatchObject({ status: 404, jsonBody: { error: { code: "not_found" } } });
    expect(client.lookups).toEqual([]);
  });

  test.each(ids)("POST responses %j", async (id) => {
    client = new RecordingClient({ victim: { runtimeStatus: "Running" } });
    const request = new HttpRequest({
      method: "POST",
      url: starterUrl,
      params: { id },
      body: { string: '{"responder":"r","value":1}' },
      headers: { "content-type": "application/json" },
    });
    expect(await submitResponse(request, context())).toMatchObject({ status: 404, jsonBody: { error: { code: "not_found" } } });
    expect(client.lookups).toEqual([]);
    expect(client.raised).toEqual([]);
  });
});

describe("submitAnswer: the bidders' route takes the run's token instead of a key", () => {
  const secret = "s".repeat(40);
  const key = Buffer.from(secret);
  beforeEach(() => {
    process.env.ANSWER_TOKEN_SECRET = secret;
    resetAppSecrets();
  });
  afterEach(() => {
    delete process.env.ANSWER_TOKEN_SECRET;
    resetAppSecrets();
  });
  const input = (runId: string) => ({
    run: { instanceId: "open", runId },
    auction: { notify: [], respondUrl: "http://x/answers" },
    completion: { mode: "all", agree: false, timeoutMs: 1000 },
    aggregate: { kind: "collect", order: "min" },
  });
  const answer = (id: string, token: string | undefined, body: unknown = { responder: "r1", value: 1 }) =>
    new HttpRequest({
      method: "POST",
      url: `${starterUrl}/${id}/answers${token === undefined ? "" : `?token=${encodeURIComponent(token)}`}`,
      params: { id },
      body: { string: JSON.stringify(body) },
      headers: { "content-type": "application/json" },
    });
  const tokenOf = (instanceId: string, runId: string) => answerToken(key, { instanceId, runId });

  test("the run's token: 202 and the event; the body rules of the operators' route", async () => {
    client = new RecordingClient({ open: { runtimeStatus: "Running", input: input("r2") } });
    expect(await submitAnswer(answer("open", tokenOf("open", "r2")), context())).toMatchObject({
      status: 202,
      jsonBody: { accepted: true },
    });
    expect(client.raised).toHaveLength(1);
    const bad = await submitAnswer(answer("open", tokenOf("open", "r2"), { responder: "has space", value: 1 }), context());
    expect(bad.status).toBe(400);
  });

  test.each([
    ["no token", undefined],
    ["a wrong token", "x".repeat(43)],
    ["another run's token", "r1"],
    ["another gather's token", "other"],
    ["a token one character longer", "long"],
  ])("%s: 401 with the error shape, nothing raised or stored", async (_name, which) => {
    client = new RecordingClient({ open: { runtimeStatus: "Running", input: input("r2") } });
    const token =
      which === "r1"
        ? tokenOf("open", "r1")
        : which === "other"
          ? tokenOf("other", "r2")
          : which === "long"
            ? `${tokenOf("open", "r2")}A`
            : which;
    const response = await submitAnswer(answer("open", token), context());
    expect(response).toMatchObject({ status: 401, jsonBody: { error: { code: "unauthorized" } } });
    expect(JSON.stringify(response.jsonBody)).not.toContain(tokenOf("open", "r2"));
    expect(client.raised).toEqual([]);
    expect(await store.stat("open/r2/auction/r1.json")).toBeUndefined();
  });

  test("an unknown id and an id outside the pattern are 401 too (nothing to learn); 410 only with the right token", async () => {
    client = new RecordingClient({
      shut: { runtimeStatus: "Completed", input: { ...input("r2"), run: { instanceId: "shut", runId: "r2" } } },
    });
    expect((await submitAnswer(answer("nope", tokenOf("nope", "r2")), context())).status).toBe(401);
    expect((await submitAnswer(answer("../x", tokenOf("../x", "r2")), context())).status).toBe(401);
    expect((await submitAnswer(answer("shut", tokenOf("open", "r2")), context())).status).toBe(401);
    expect((await submitAnswer(answer("shut", tokenOf("shut", "r2")), context())).status).toBe(410);
  });

  test("in Azure (not Development) without ANSWER_TOKEN_SECRET it refuses to work, naming the setting", async () => {
    delete process.env.ANSWER_TOKEN_SECRET;
    const environment = process.env.AZURE_FUNCTIONS_ENVIRONMENT;
    process.env.AZURE_FUNCTIONS_ENVIRONMENT = "Production";
    try {
      client = new RecordingClient({ open: { runtimeStatus: "Running", input: input("r2") } });
      await expect(submitAnswer(answer("open", "t"), context())).rejects.toThrow(/ANSWER_TOKEN_SECRET is not set/);
    } finally {
      if (environment === undefined) delete process.env.AZURE_FUNCTIONS_ENVIRONMENT;
      else process.env.AZURE_FUNCTIONS_ENVIRONMENT = environment;
    }
  });
});

describe("listScatterGathers", () => {
  const list = (query: string) => listScatterGathers(new HttpRequest({ method: "GET", url: `${starterUrl}${query}` }), context());
  const backend = (status: number, body: unknown, token?: string) =>
    jest
      .spyOn(globalThis, "fetch")
      .mockImplementation(
        async () => new Response(JSON.stringify(body), { status, headers: token ? { "x-ms-continuation-token": token } : {} }),
      );

  test("nextUri carries the query on, never a key, whatever the spelling of `code`", async () => {
    const gather = {
      name: "scatterGatherOrchestrator",
      instanceId: "g1",
      runtimeStatus: "Completed",
      createdTime: new Date().toISOString(),
    };
    backend(200, [gather]);
    const response = await list("?top=1&Code=K1&CODE=K2&code=K3&runtimeStatus=Completed");
    const { items, continuationToken, nextUri } = response.jsonBody as {
      items: { id: string }[];
      continuationToken: string;
      nextUri: string;
    };
    expect(items.map((g) => g.id)).toEqual(["g1"]);
    const next = new URL(nextUri);
    expect(Object.fromEntries(next.searchParams)).toEqual({ top: "1", runtimeStatus: "Completed", continuationToken });
  });

  test("a bad query parameter is a 400 naming it", async () => {
    for (const [query, path] of [
      ["?top=0", "top"],
      ["?createdFrom=yesterday", "createdFrom"],
      ["?runtimeStatus=Sleeping", "runtimeStatus"],
    ])
      expect(await list(query)).toMatchObject({ status: 400, jsonBody: { error: { code: "invalid_request", details: [{ path }] } } });
  });

  test("a backend that pages on without end (empty pages, each with a token) is a 502, not a hang", async () => {
    backend(200, [], "again");
    expect(await list("")).toMatchObject({ status: 502, jsonBody: { error: { code: "backend_error" } } });
  });

  test("a garbage continuationToken is a 400 with the error shape; a failing backend a 502", async () => {
    backend(500, "down");
    expect(await list("?continuationToken=garbage")).toMatchObject({
      status: 400,
      jsonBody: { error: { code: "invalid_request", details: [{ path: "continuationToken" }] } },
    });
    expect(await list("")).toMatchObject({ status: 502, jsonBody: { error: { code: "backend_error" } } });
  });
});

describe("ui", () => {
  test.each(["constructor", "__proto__", "toString", "hasOwnProperty", "package.json", "..%2Fpackage.json"])(
    "GET /api/ui/%s is a 404 (the asset table has no inherited names)",
    async (file) => {
      const response = await ui(new HttpRequest({ method: "GET", url: `http://localhost:7071/api/ui/${file}`, params: { file } }));
      expect(response.status).toBe(404);
    },
  );

  test("/api/ui/ and /api/ui/index.html redirect to /api/ui, where the page's relative links resolve (query kept)", async () => {
    for (const [url, params] of [
      ["http://localhost:7071/api/ui/?code=k", {}],
      ["http://localhost:7071/api/ui/index.html?code=k", { file: "index.html" }],
    ] as const) {
      const response = await ui(new HttpRequest({ method: "GET", url, params }));
      expect(response).toMatchObject({ status: 308, headers: { Location: "/api/ui?code=k" } });
    }
    const page = await ui(new HttpRequest({ method: "GET", url: "http://localhost:7071/api/ui" }));
    expect(page.status).toBe(200);
  });

  test("the assets themselves are served", async () => {
    for (const file of ["app.js", "style.css"]) {
      expect((await ui(new HttpRequest({ method: "GET", url: `http://localhost:7071/api/ui/${file}`, params: { file } }))).status).toBe(
        200,
      );
    }
  });
});
