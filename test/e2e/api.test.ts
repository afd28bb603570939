/**
 * The HTTP contract around a gather: the 202 check-status answer and its management URLs, 404s,
 * every 4xx of POST /api/scatter-gather (nothing started), 409 on a running id, restart of a finished id,
 * terminate and purge through the management URLs.
 */
import {
  gatherUrl,
  getGather,
  listInstanceIds,
  ownsHost,
  pollUntil,
  pollUntilDone,
  postJson,
  recipientServer,
  request,
  startGather,
  startOk,
  uniqueId,
  useTarget,
  type HttpAnswer,
} from "./harness";

const target = useTarget();
jest.setTimeout(30_000);

const MANAGEMENT_URLS = [
  "statusQueryGetUri",
  "sendEventPostUri",
  "terminatePostUri",
  "purgeHistoryDeleteUri",
  "suspendPostUri",
  "resumePostUri",
  "rewindPostUri",
];
const sim = (id: string, latencyMs = 0, value: unknown = 1) => ({ id, simulate: { latencyMs, value } });

function expectManagementUrls(body: Record<string, unknown>, id: string): void {
  for (const key of MANAGEMENT_URLS) {
    expect(typeof body[key]).toBe("string");
    const url = new URL(body[key] as string); // absolute, or this throws
    expect(["http:", "https:"]).toContain(url.protocol);
    expect(decodeURIComponent(url.pathname)).toContain(id);
  }
}

describe("202 Accepted", () => {
  test("the body carries every management URL of docs/api.md, with Location and Retry-After; statusQueryGetUri works", async () => {
    const id = uniqueId("accepted");
    const res = await startGather(target, { id, request: { x: 1 }, recipients: [sim("a", 600, { v: 1 })] });
    expect(res.status).toBe(202);
    expect(res.body.id).toBe(id);
    expectManagementUrls(res.body, id);
    expect(res.body.sendEventPostUri).toContain("{eventName}");
    expect(res.headers.get("location")).toBe(res.body.statusQueryGetUri);
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);

    // While running: the Durable status endpoint answers 202.
    const running = await request(res.body.statusQueryGetUri);
    expect(running.status).toBe(202);
    expect(running.body).toMatchObject({ instanceId: id, name: "scatterGatherOrchestrator" });
    expect(["Pending", "Running"]).toContain(running.body.runtimeStatus);

    // pollUntilDone accepts the statusQueryGetUri too.
    const friendly = await pollUntilDone(target, res.body.statusQueryGetUri);
    expect(friendly).toMatchObject({ id, runtimeStatus: "Completed" });
    expect(typeof friendly.createdTime).toBe("string");
    expect(typeof friendly.lastUpdatedTime).toBe("string");

    const done = await request(res.body.statusQueryGetUri);
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ instanceId: id, runtimeStatus: "Completed" });
    expect(done.body.output).toEqual(friendly.result);
    expect(done.body.output).toMatchObject({ id, outcome: "complete", closedBy: "all-responded", counts: { total: 1, succeeded: 1 } });
  });
});

describe("404", () => {
  test("GET of an unknown id", async () => {
    const res = await getGather(target, uniqueId("nobody"));
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe("not_found");
    expect(typeof res.body.error.message).toBe("string");
  });

  test("POST responses to an unknown id", async () => {
    const res = await postJson(gatherUrl(target, uniqueId("nobody")) + "/responses", { responder: "r", value: 1 });
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe("not_found");
  });
});

describe("rejected starts: a clear 4xx, nothing started", () => {
  let before: string[] = [];
  beforeEach(async () => {
    if (ownsHost) before = await listInstanceIds(target);
  });

  async function expectNothingStarted(id?: string): Promise<void> {
    if (id) expect((await getGather(target, id)).status).toBe(404);
    // The full list is only stable on our own host (under BASE_URL other suites may start instances).
    if (ownsHost) expect(await listInstanceIds(target)).toEqual(before);
  }

  function expectErrorShape(res: HttpAnswer, status: number, code: string): void {
    expect(res.status).toBe(status);
    expect(res.headers.get("content-type")).toMatch(/application\/json/);
    expect(res.body.error.code).toBe(code);
    expect(typeof res.body.error.message).toBe("string");
    expect(res.body.error.message.length).toBeGreaterThan(0);
  }

  test("400: the body is not JSON", async () => {
    const res = await request(gatherUrl(target), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"id": "x", "request": ',
    });
    expectErrorShape(res, 400, "invalid_request");
    await expectNothingStarted("x");
  });

  test("400: wrong types and unknown enum values, with a detail per path", async () => {
    const id = uniqueId("bad-types");
    const res = await startGather(target, {
      id,
      request: {},
      recipients: [
        { id: "a", simulate: { latencyMs: -5 } },
        { id: "b", url: "ftp://127.0.0.1/x" },
      ],
      completion: { mode: "most" },
      aggregate: { kind: "median" },
    });
    expectErrorShape(res, 400, "invalid_request");
    const paths = res.body.error.details.map((d: { path: string }) => d.path);
    expect(paths).toEqual(
      expect.arrayContaining(["recipients[0].simulate.latencyMs", "recipients[1].url", "completion.mode", "aggregate.kind"]),
    );
    for (const d of res.body.error.details) expect(typeof d.message).toBe("string");
    await expectNothingStarted(id);
  });

  test("400: cross-field rules (duplicate ids, quorum out of range, best without field, auction without timeoutMs)", async () => {
    const id = uniqueId("bad-rules");
    const res = await startGather(target, {
      id,
      request: {},
      recipients: [sim("a"), sim("a")],
      completion: { mode: "quorum", quorum: 3 },
      aggregate: { kind: "best" },
    });
    expectErrorShape(res, 400, "invalid_request");
    const paths = res.body.error.details.map((d: { path: string }) => d.path);
    expect(paths).toEqual(expect.arrayContaining(["recipients[1].id", "completion.quorum", "aggregate.field"]));

    const auction = await startGather(target, { id, request: {}, auction: { expected: 2 } });
    expectErrorShape(auction, 400, "invalid_request");
    expect(auction.body.error.details).toEqual(expect.arrayContaining([expect.objectContaining({ path: "completion.timeoutMs" })]));
    await expectNothingStarted(id);
  });

  test("400: a URL outside RECIPIENT_URL_ALLOWLIST (recipient and auction notify), nobody called", async () => {
    const id = uniqueId("bad-url");
    const res = await startGather(target, {
      id,
      request: {},
      recipients: [sim("ok"), { id: "evil", url: "https://quotes.example.invalid/q" }],
    });
    expectErrorShape(res, 400, "invalid_request");
    expect(res.body.error.details).toEqual([
      expect.objectContaining({ path: "recipients[1].url", message: expect.stringMatching(/RECIPIENT_URL_ALLOWLIST/) }),
    ]);

    const notify = await startGather(target, {
      id,
      request: {},
      auction: { notify: ["http://10.1.2.3:80/rfq"] },
      completion: { timeoutMs: 1000 },
    });
    expectErrorShape(notify, 400, "invalid_request");
    expect(notify.body.error.details).toEqual([expect.objectContaining({ path: "auction.notify[0]" })]);
    await expectNothingStarted(id);
  });

  test("415: a non-JSON content type", async () => {
    const id = uniqueId("bad-type");
    const res = await request(gatherUrl(target), {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: JSON.stringify({ id, request: {}, recipients: [sim("a")] }),
    });
    expectErrorShape(res, 415, "unsupported_media_type");
    await expectNothingStarted(id);
  });

  test("413: a body over MAX_REQUEST_BYTES (1 MiB)", async () => {
    const id = uniqueId("too-big");
    const body = JSON.stringify({ id, request: { pad: "z".repeat(1_048_576) }, recipients: [sim("a")] });
    expect(Buffer.byteLength(body)).toBeGreaterThan(1_048_576);
    const res = await request(gatherUrl(target), { method: "POST", headers: { "content-type": "application/json" }, body });
    expectErrorShape(res, 413, "payload_too_large");
    await expectNothingStarted(id);
  });

  test("just under the limit is accepted (the limit is MAX_REQUEST_BYTES, not lower)", async () => {
    const id = uniqueId("big-ok");
    const skeleton = JSON.stringify({ id, request: { pad: "" }, recipients: [sim("a")] });
    const body = JSON.stringify({ id, request: { pad: "z".repeat(1_048_576 - Buffer.byteLength(skeleton)) }, recipients: [sim("a")] });
    expect(Buffer.byteLength(body)).toBe(1_048_576);
    const res = await request(gatherUrl(target), { method: "POST", headers: { "content-type": "application/json" }, body });
    expect(res.status).toBe(202);
    expect((await pollUntilDone(target, id)).runtimeStatus).toBe("Completed");
  });
});

describe("instance lifecycle", () => {
  async function startRunning(id: string) {
    const hang = await recipientServer(() => ({ hang: true }));
    const started = await startOk(target, { id, request: {}, recipients: [{ id: "hang", url: `${hang.url}/q`, timeoutMs: 3000 }] });
    await pollUntil(target, id, (b) => b.runtimeStatus === "Running");
    return started;
  }

  test("409 when starting an id that is running, with its management URLs", async () => {
    const id = uniqueId("conflict");
    const first = await startRunning(id);
    const res = await startGather(target, { id, request: {}, recipients: [sim("a")] });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe("conflict");
    expectManagementUrls(res.body, id);
    // Same instance endpoint (the 202 takes its host from the request, the 409 from the host's webhook base URL).
    const path = (u: string) => new URL(u).pathname + new URL(u).search;
    expect(path(res.body.statusQueryGetUri)).toBe(path(first.body.statusQueryGetUri));
    // The running instance was not replaced.
    const status = await getGather(target, id);
    expect(status.body.runtimeStatus).toBe("Running");
    await request(first.body.terminatePostUri.replace("{text}", "cleanup"), { method: "POST" });
  });

  test("terminate through terminatePostUri: status Terminated", async () => {
    const id = uniqueId("terminate");
    const started = await startRunning(id);
    const res = await request(started.body.terminatePostUri.replace("{text}", encodeURIComponent("e2e stop")), { method: "POST" });
    expect(res.status).toBe(202);
    const done = await pollUntilDone(target, id);
    expect(done.runtimeStatus).toBe("Terminated");
    expect(done.result).toBeNull();
    const durable = await request(started.body.statusQueryGetUri);
    expect(durable.status).toBe(200);
    expect(durable.body).toMatchObject({ runtimeStatus: "Terminated", output: "e2e stop" });
  });

  test("a finished id can be started again", async () => {
    const id = uniqueId("again");
    const first = await startOk(target, { id, request: { run: 1 }, recipients: [sim("a", 0, "one")] });
    expect((await pollUntilDone(target, first.id)).result.aggregate.values).toEqual({ a: "one" });
    const second = await startGather(target, { id, request: { run: 2 }, recipients: [sim("b", 0, "two")] });
    expect(second.status).toBe(202);
    expect(second.body.id).toBe(id);
    const done = await pollUntilDone(target, id);
    expect(done.runtimeStatus).toBe("Completed");
    expect(done.result.aggregate.values).toEqual({ b: "two" });
  });

  test("purge through purgeHistoryDeleteUri, then 404", async () => {
    const id = uniqueId("purge");
    const started = await startOk(target, { id, request: {}, recipients: [sim("a")] });
    await pollUntilDone(target, id);
    const res = await request(started.body.purgeHistoryDeleteUri, { method: "DELETE" });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ instancesDeleted: 1 });
    expect((await getGather(target, id)).status).toBe(404);
    expect((await request(started.body.statusQueryGetUri)).status).toBe(404);
    if (ownsHost) expect(await listInstanceIds(target)).not.toContain(id);
  });
});

describe("GET /api/scatter-gather", () => {
  test("the newest gathers first; nextUri goes on to older ones, none twice", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const id = uniqueId(`listed-${i}`);
      await startOk(target, { id, request: 1, recipients: [{ id: "r", simulate: { value: 1 } }] });
      ids.push(id);
      // Whole seconds apart: the list orders by created time (seconds), then by id.
      await new Promise((resolve) => setTimeout(resolve, 1100));
    }
    const createdFrom = new Date(Date.now() - 60_000).toISOString();
    const first = await request(`${target.baseUrl}/api/scatter-gather?top=2&createdFrom=${encodeURIComponent(createdFrom)}`);
    const mine = (items: { id: string }[]) => items.map((g) => g.id).filter((id) => ids.includes(id));
    expect(first.status).toBe(200);
    const seen = [...first.body.items.map((g: { id: string }) => g.id)];
    let next: string | null = first.body.nextUri;
    while (next) {
      const page = await request(next.replace(/^https?:\/\/[^/]+/, target.baseUrl));
      seen.push(...page.body.items.map((g: { id: string }) => g.id));
      next = page.body.nextUri;
    }
    expect(mine(seen.map((id) => ({ id })))).toEqual([...ids].reverse());
    expect(new Set(seen).size).toBe(seen.length);
  });
});
