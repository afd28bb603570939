/**
 * GET /api/openapi.json: a valid OpenAPI 3.1 document (checked by @seriousme/openapi-schema-validator),
 * generated from the zod schemas the functions validate with, naming every route of API.md; and the
 * real answers of a local host (or BASE_URL) match the document's schemas for their status codes.
 */
import Ajv2020 from "ajv/dist/2020";
import addFormats from "ajv-formats";
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { z } from "zod";
import { ApiError, ScatterGatherClient } from "../../src/client";
import { gatherRequestSchema } from "../../src/gather/schema";
import { gatherExamples } from "../../src/openapi/document";
import {
  keyedFetch,
  keysFor,
  pollUntil,
  pollUntilDone,
  recipientServer,
  repoRoot,
  uniqueId,
  useTarget,
  type AnyJson,
} from "../e2e/harness";

const target = useTarget();
jest.setTimeout(60_000);

let doc: AnyJson;
let ajv: Ajv2020;
let client: ScatterGatherClient;

beforeAll(async () => {
  const res = await keyedFetch(`${target.baseUrl}/api/openapi.json`);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/application\/json/);
  doc = await res.json();
  ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema({ ...doc, $id: "openapi.json" });
  client = new ScatterGatherClient({ baseUrl: target.baseUrl, key: keysFor(target.baseUrl).function });
});

/** Runs the validator package's own CLI (an ES module, so outside jest's module registry). */
async function validateDocument(document: unknown): Promise<{ valid: boolean; output: string }> {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "sg-openapi-")), "openapi.json");
  fs.writeFileSync(file, JSON.stringify(document));
  const cli = path.join(repoRoot, "node_modules/@seriousme/openapi-schema-validator/bin/validate-api-cli.js");
  try {
    const { stdout } = await promisify(execFile)(process.execPath, [cli, file]);
    return { valid: JSON.parse(stdout).valid === true, output: stdout };
  } catch (error) {
    return { valid: false, output: String((error as { stdout?: string }).stdout ?? error) };
  } finally {
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
  }
}

function schemaOf(route: string, method: string, status: number): AnyJson {
  const answer = doc.paths[route]?.[method]?.responses?.[String(status)];
  if (!answer) throw new Error(`the document has no ${status} answer for ${method.toUpperCase()} ${route}`);
  return answer.content?.["application/json"]?.schema;
}

/** The body matches the schema the document gives for this route, method and status. */
function expectConforms(route: string, method: string, status: number, body: unknown): void {
  const schema = schemaOf(route, method, status);
  expect(schema?.$ref).toMatch(/^#\/components\/schemas\//);
  const validate = ajv.getSchema(`openapi.json${schema.$ref}`)!;
  const ok = validate(body);
  if (!ok)
    throw new Error(
      `${method.toUpperCase()} ${route} ${status}: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(body).slice(0, 1500)}`,
    );
}

async function raw(method: string, url: string, body?: unknown): Promise<{ status: number; body: AnyJson }> {
  const res = await keyedFetch(url, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

describe("the document", () => {
  test("is a valid OpenAPI 3.1 document; a broken one is not", async () => {
    expect(doc.openapi).toBe("3.1.0");
    const good = await validateDocument(doc);
    expect(good).toEqual({ valid: true, output: expect.any(String) });
    const broken = { ...doc, paths: { ...doc.paths, "/api/scatter-gather": { get: { responses: { "200": { content: {} } } } } } }; // answer without description
    expect((await validateDocument(broken)).valid).toBe(false);
  });

  test("every route of API.md and the added ones, by function name", () => {
    const operations: Record<string, string> = {};
    for (const [route, item] of Object.entries<AnyJson>(doc.paths)) {
      for (const method of ["get", "post", "delete"])
        if (item[method]) operations[item[method].operationId] = `${method.toUpperCase()} ${route}`;
    }
    expect(operations).toEqual({
      startScatterGather: "POST /api/scatter-gather",
      listScatterGathers: "GET /api/scatter-gather",
      getScatterGather: "GET /api/scatter-gather/{id}",
      deleteScatterGather: "DELETE /api/scatter-gather/{id}",
      terminateScatterGather: "POST /api/scatter-gather/{id}/terminate",
      redriveScatterGather: "POST /api/scatter-gather/{id}/redrive",
      getScatterGatherResponses: "GET /api/scatter-gather/{id}/responses",
      submitResponse: "POST /api/scatter-gather/{id}/responses",
      submitAnswer: "POST /api/scatter-gather/{id}/answers",
      getRecipientRequest: "GET /api/scatter-gather/{id}/request",
      openapi: "GET /api/openapi.json",
      ui: "GET /api/ui",
    });
  });

  test("the request schema is the one the function validates with (generated, not written twice)", () => {
    const generated = z.toJSONSchema(gatherRequestSchema, { target: "draft-2020-12", io: "input", unrepresentable: "any" }) as AnyJson;
    delete generated.$schema;
    expect(doc.components.schemas.GatherRequest).toEqual(generated);
    expect(doc.components.schemas.GatherRequest.required).toEqual(["request"]);
    expect(doc.components.schemas.GatherRequest.properties.completion.properties.mode.enum).toEqual(["all", "first", "quorum"]);
    // Every recipient kind's marker is in the generated recipient schema (queue recipients included).
    const recipient = doc.components.schemas.GatherRequest.properties.recipients.items;
    for (const marker of ["url", "simulate", "queue"]) expect(recipient.properties ?? {}).toHaveProperty(marker);
  });

  test("the README's examples conform to the request schema; a wrong mode and an unknown field do not", () => {
    const validate = ajv.getSchema("openapi.json#/components/schemas/GatherRequest")!;
    expect(Object.keys(doc.paths["/api/scatter-gather"].post.requestBody.content["application/json"].examples)).toEqual([
      "all",
      "first",
      "quorum",
      "agreement",
      "auction",
    ]);
    for (const [name, example] of Object.entries(gatherExamples)) expect([name, validate(example.value)]).toEqual([name, true]);
    expect(validate({ request: {}, recipients: [], completion: { mode: "most" } })).toBe(false);
    expect(validate({ request: {}, recipients: [], colour: "red" })).toBe(false);
  });
});

describe("the examples do what their summaries say", () => {
  test("first, quorum and agreement close early; the agreement takes the answer two oracles agree on", async () => {
    const expected = {
      all: { closedBy: "all-responded", outcome: "complete" },
      first: { closedBy: "first-response", outcome: "complete" },
      quorum: { closedBy: "quorum-reached", outcome: "complete" },
      agreement: { closedBy: "quorum-reached", outcome: "complete", aggregate: { kind: "vote", value: { answer: 42 }, count: 2 } },
    } as const;
    for (const [name, result] of Object.entries(expected)) {
      const id = uniqueId(`example-${name}`);
      const started = await raw("POST", `${target.baseUrl}/api/scatter-gather`, { ...(gatherExamples[name].value as object), id });
      expect([name, started.status]).toEqual([name, 202]);
      const done = await pollUntilDone(target, id, 20_000);
      expect([name, done.result]).toEqual([name, expect.objectContaining(result)]);
    }
  });
});

describe("real answers conform to the document", () => {
  const G = "/api/scatter-gather";
  const ID = "/api/scatter-gather/{id}";
  const R = "/api/scatter-gather/{id}/responses";

  test("start (202), get while running and done, responses pages, list, delete (204)", async () => {
    const id = uniqueId("oas");
    const body = { ...(gatherExamples.all.value as object), id };
    const started = await raw("POST", `${target.baseUrl}${G}`, body);
    expect(started.status).toBe(202);
    expectConforms(G, "post", 202, started.body);

    const running = await raw("GET", `${target.baseUrl}${G}/${id}`);
    expect(running.status).toBe(200);
    expectConforms(ID, "get", 200, running.body);
    const pendingPage = await raw("GET", `${target.baseUrl}${G}/${id}/responses?limit=2`);
    expectConforms(R, "get", 200, pendingPage.body);

    const done = await pollUntil(target, id, (b) => b.runtimeStatus === "Completed");
    expectConforms(ID, "get", 200, done);
    expect(done.result).toMatchObject({ outcome: "complete", closedBy: "all-responded", counts: { total: 3, succeeded: 2, failed: 1 } });

    const first = await raw("GET", `${target.baseUrl}${G}/${id}/responses?limit=2`);
    expect(first.status).toBe(200);
    expectConforms(R, "get", 200, first.body);
    expect(first.body).toMatchObject({ offset: 0, limit: 2, total: 3 });
    expect(first.body.items.map((i: AnyJson) => i.recipientId)).toEqual(["acme", "globex"]);
    const second = await raw("GET", first.body.nextUri);
    expectConforms(R, "get", 200, second.body);
    expect(second.body).toMatchObject({ offset: 2, total: 3, nextUri: null, items: [{ recipientId: "flaky", status: "failed" }] });
    const failed = await raw("GET", `${target.baseUrl}${G}/${id}/responses?status=failed`);
    expect(failed.body).toMatchObject({ total: 1, items: [{ recipientId: "flaky" }] });

    const list = await raw("GET", `${target.baseUrl}${G}?top=100`);
    expect(list.status).toBe(200);
    expectConforms(G, "get", 200, list.body);
    expect(list.body.items.find((g: AnyJson) => g.id === id)).toMatchObject({
      runtimeStatus: "Completed",
      outcome: "complete",
      closedBy: "all-responded",
    });

    const deleted = await keyedFetch(`${target.baseUrl}${G}/${id}`, { method: "DELETE" });
    expect(deleted.status).toBe(204);
    const gone = await raw("GET", `${target.baseUrl}${G}/${id}`);
    expect(gone.status).toBe(404);
    expectConforms(ID, "get", 404, gone.body);
  });

  test("errors: 400 with details, 404, 409 with management URLs, terminate 202 then 410, delete 409 while running", async () => {
    const bad = await raw("POST", `${target.baseUrl}${G}`, {
      request: {},
      recipients: [{ id: "a", url: "ftp://x" }],
      completion: { mode: "most" },
    });
    expect(bad.status).toBe(400);
    expectConforms(G, "post", 400, bad.body);
    expect(bad.body.error.details.map((d: AnyJson) => d.path)).toEqual(expect.arrayContaining(["recipients[0].url", "completion.mode"]));

    expectConforms(R, "get", 404, (await raw("GET", `${target.baseUrl}${G}/${uniqueId("nobody")}/responses`)).body);
    const noToken = await raw("GET", `${target.baseUrl}${G}/${uniqueId("nobody")}/request?token=0.${"A".repeat(43)}`);
    expect(noToken.status).toBe(401);
    expectConforms("/api/scatter-gather/{id}/request", "get", 401, noToken.body);
    const badQuery = await raw("GET", `${target.baseUrl}${G}/x/responses?limit=5000`);
    expect(badQuery.status).toBe(400);
    expectConforms(R, "get", 400, badQuery.body);

    const id = uniqueId("oas-long");
    await client.start({ id, request: {}, recipients: [{ id: "slow", simulate: { latencyMs: 30_000, value: 1 } }] });
    const conflict = await raw("POST", `${target.baseUrl}${G}`, { id, request: {}, recipients: [{ id: "a", simulate: {} }] });
    expect(conflict.status).toBe(409);
    expectConforms(G, "post", 409, conflict.body);
    const stillRunning = await raw("DELETE", `${target.baseUrl}${G}/${id}`);
    expect(stillRunning.status).toBe(409);
    expectConforms(ID, "delete", 409, stillRunning.body);

    const terminated = await raw("POST", `${target.baseUrl}${G}/${id}/terminate`);
    expect(terminated.status).toBe(202);
    expectConforms("/api/scatter-gather/{id}/terminate", "post", 202, terminated.body);
    await pollUntil(target, id, (b) => b.runtimeStatus === "Terminated");
    const again = await raw("POST", `${target.baseUrl}${G}/${id}/terminate`);
    expect(again.status).toBe(410);
    expectConforms("/api/scatter-gather/{id}/terminate", "post", 410, again.body);
    const terminatedStatus = await raw("GET", `${target.baseUrl}${G}/${id}`);
    expectConforms(ID, "get", 200, terminatedStatus.body);
    await client.delete(id);
  });

  test("a callback recipient: progress while it waits, its reply 202, a second one 409, a late one 410", async () => {
    const A = "/api/scatter-gather/{id}/answers";
    const server = await recipientServer(() => ({ status: 202, text: "" }));
    const id = uniqueId("oas-cb");
    await client.start({
      id,
      request: 1,
      recipients: [
        { id: "a", url: `${server.url}/cb`, reply: "callback" },
        { id: "b", url: `${server.url}/cb`, reply: "callback" },
      ],
      completion: { mode: "all", timeoutMs: 20_000 },
    });
    await server.waitForCalls(2);
    const waiting = await pollUntil(target, id, (b) => b.progress?.awaitingReply === 2);
    expectConforms(ID, "get", 200, waiting);
    const [a, b] = ["a", "b"].map((r) => server.calls.find((c) => c.body.recipientId === r)!.body.respondUrl as string);
    const replied = await raw("POST", a, { value: { price: 3 } });
    expect(replied.status).toBe(202);
    expectConforms(A, "post", 202, replied.body);
    const again = await raw("POST", a, { error: "changed my mind" });
    expect(again.status).toBe(409);
    expectConforms(A, "post", 409, again.body);
    expect((await raw("POST", b, { value: { price: 4 } })).status).toBe(202);
    await pollUntil(target, id, (s) => s.runtimeStatus === "Completed");
    const late = await raw("POST", b, { value: 1 }); // b has replied, but the gather has closed: 410 comes first
    expect(late.status).toBe(410);
    expectConforms(A, "post", 410, late.body);
    const forged = await raw("POST", b.replace(/token=1\./, "token=0."), { value: 1 });
    expect(forged.status).toBe(401);
    expectConforms(A, "post", 401, forged.body);
  });

  test("auction: submit 202, a late answer 410; the list's paging (continuationToken) conforms", async () => {
    const notify = await recipientServer();
    const id = uniqueId("oas-rfq");
    await client.start({
      id,
      request: { lot: 1 },
      auction: { notify: [`${notify.url}/rfq`], expected: 2 },
      completion: { mode: "all", timeoutMs: 30_000 },
      aggregate: { kind: "best", field: "price" },
    });
    const answers = [
      ["b1", 100, true],
      ["b1", 10, false], // a responder's second answer: the first wins
      ["b2", 90, true],
    ] as const;
    for (const [responder, price, accepted] of answers) {
      const submitted = await raw("POST", `${target.baseUrl}${R.replace("{id}", id)}`, { responder, value: { price } });
      expect(submitted.status).toBe(202);
      expectConforms(R, "post", 202, submitted.body);
      expect(submitted.body.accepted).toBe(accepted);
    }
    const done = await pollUntil(target, id, (b) => b.runtimeStatus === "Completed");
    expectConforms(ID, "get", 200, done);
    expect(done.result.aggregate).toMatchObject({ kind: "best", recipientId: "b2" });
    const late = await raw("POST", `${target.baseUrl}${R.replace("{id}", id)}`, { responder: "b3", value: { price: 1 } });
    expect(late.status).toBe(410);
    expectConforms(R, "post", 410, late.body);

    const other = await client.start({ request: {}, recipients: [{ id: "a", simulate: { value: 1 } }] });
    await client.waitFor(other.id, { intervalMs: 100, timeoutMs: 20_000 });
    const first = await client.list({ top: 1 });
    expectConforms(G, "get", 200, first);
    expect(first.items.length).toBeLessThanOrEqual(1);
    expect(first.continuationToken).not.toBeNull(); // two gathers, one a page
    const next = await raw("GET", first.nextUri!);
    expectConforms(G, "get", 200, next.body);
    expect(next.body.items[0]?.id).not.toBe(first.items[0]?.id);
    const notAuction = await raw("POST", `${target.baseUrl}${R.replace("{id}", other.id)}`, { responder: "b1", value: 1 });
    expect(notAuction.status).toBe(409);
    expectConforms(R, "post", 409, notAuction.body);
    const badTop = await client.list({ top: 1000 }).catch((e) => e);
    expect(badTop).toBeInstanceOf(ApiError);
    expect((badTop as ApiError).status).toBe(400);
  });
});
