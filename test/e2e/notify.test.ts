/**
 * onClose: the signed close event reaches a loopback receiver, whose check is the README's snippet (run as
 * written there); deliveries are retried durably; a gather terminated through the API sends one too.
 */
import Ajv2020 from "ajv/dist/2020";
import addFormats from "ajv-formats";
import * as fs from "node:fs";
import * as path from "node:path";
import * as vm from "node:vm";
import {
  closeAllServers,
  keyedFetch,
  ownsHost,
  pollUntil,
  recipientServer,
  repoRoot,
  startHostProcess,
  startOk,
  uniqueId,
  type AnyJson,
  type HostProcess,
} from "./harness";

jest.setTimeout(60_000);
const SECRET = `whsec_${Buffer.from("a test secret of 32 bytes, no more").toString("base64")}`;

/** The README's verification snippet, run as written: `verify(secret, headers, body)`. */
function readmeVerifier(): (secret: string, headers: Record<string, string>, body: string) => boolean {
  const readme = fs.readFileSync(path.join(repoRoot, "README.md"), "utf8");
  const block = /```js\n(\/\/ Verify a close event[\s\S]*?)```/.exec(readme);
  if (!block) throw new Error("README.md has no ```js block starting with // Verify a close event");
  const code = block[1].replace(/^import \{ ([^}]+) \} from "node:crypto";$/m, "const { $1 } = require('node:crypto');");
  // Run in a context of its own, as the receiver would run it: only what the snippet uses is there.
  return vm.runInNewContext(`${code}\nverify;`, { require, Buffer, Date, Math, Number }) as ReturnType<typeof readmeVerifier>;
}

(ownsHost ? describe : describe.skip)("close events", () => {
  let host: HostProcess;
  beforeAll(async () => {
    // Batches of 5: a gather of more than 5 recipients runs in batches.
    host = await startHostProcess({ env: { WEBHOOK_SIGNING_SECRET: SECRET, FANOUT_BATCH_SIZE: "5" } });
  }, 60_000);
  afterAll(async () => {
    await closeAllServers();
    await host?.stop();
  });

  test("a receiver answering 500 twice gets the signed CloudEvent on the third try; the result records it", async () => {
    const verify = readmeVerifier();
    const receiver = await recipientServer((_call, n) => (n <= 2 ? { status: 500, text: "busy" } : { status: 204, text: "" }));
    const site = { baseUrl: host.url };
    const id = uniqueId("notify");
    await startOk(site, {
      id,
      request: 1,
      recipients: [{ id: "a", simulate: { value: 1 } }],
      onClose: { url: `${receiver.url}/hooks` },
    });
    const done = await pollUntil(site, id, (s) => s.runtimeStatus === "Completed", 30_000);
    // The receiver answered 204 at last: the status it gave, not a stand-in.
    expect(done.result.notification).toEqual({ delivered: true, attempts: 3, lastStatus: 204 });
    expect(receiver.calls).toHaveLength(3);
    const call = receiver.calls[2];
    expect(call.headers["content-type"]).toBe("application/cloudevents+json");
    expect(call.body).toMatchObject({
      specversion: "1.0",
      type: "scatter-gather.closed",
      subject: id,
      source: `http://localhost:${host.port}/api/scatter-gather`,
      datacontenttype: "application/json",
      data: { id, outcome: "complete", closedBy: "all-responded", counts: { total: 1, succeeded: 1 } },
    });
    expect(call.body.id).toBe(call.headers["webhook-id"]);
    expect(call.body.data.statusUri).toBe(`http://localhost:${host.port}/api/scatter-gather/${id}`);
    expect(verify(SECRET, call.headers as Record<string, string>, call.raw)).toBe(true);
    expect(verify(SECRET, call.headers as Record<string, string>, call.raw.replace("complete", "partial"))).toBe(false);
    const otherSecret = `whsec_${Buffer.from("another secret of thirty-two bytes").toString("base64")}`;
    expect(verify(otherSecret, call.headers as Record<string, string>, call.raw)).toBe(false);
    // Each retry was signed anew, with its own timestamp, for the same event id.
    expect(new Set(receiver.calls.map((c) => c.headers["webhook-id"])).size).toBe(1);

    // The OpenAPI document describes both: the event (its webhooks section) and every field of the result.
    const doc = (await (await keyedFetch(`${host.url}/api/openapi.json`)).json()) as AnyJson;
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats(ajv);
    ajv.addSchema({ ...doc, $id: "openapi.json" });
    const event = doc.webhooks.scatterGatherClosed.post.requestBody.content["application/cloudevents+json"].schema;
    const validate = ajv.getSchema(`openapi.json${event.$ref}`)!;
    expect(validate(call.body) || ajv.errorsText(validate.errors)).toBe(true);
    const declared = doc.components.schemas.GatherResult.properties;
    expect(Object.keys(done.result).filter((field) => !(field in declared))).toEqual([]);
    expect(Object.keys(declared.notification.properties).sort()).toEqual(Object.keys(done.result.notification).sort());
  });

  test("a gather terminated through the API sends a `terminated` event", async () => {
    const receiver = await recipientServer(() => ({ status: 200, json: {} }));
    const site = { baseUrl: host.url };
    const id = uniqueId("notify-term");
    await startOk(site, {
      id,
      request: 1,
      recipients: [{ id: "slow", simulate: { latencyMs: 30_000 } }],
      onClose: { url: `${receiver.url}/hooks` },
    });
    await pollUntil(site, id, (s) => s.runtimeStatus === "Running");
    expect((await keyedFetch(`${host.url}/api/scatter-gather/${id}/terminate`, { method: "POST" })).status).toBe(202);
    await receiver.waitForCalls(1, 20_000);
    const event = receiver.calls[0].body as AnyJson;
    expect(event.data).toMatchObject({ id, outcome: "terminated", closedBy: "terminated", counts: { total: 1 } });
    expect(readmeVerifier()(SECRET, receiver.calls[0].headers as Record<string, string>, receiver.calls[0].raw)).toBe(true);
  });

  test("a batched gather terminated while it gathers: its event counts what the batches had settled", async () => {
    const receiver = await recipientServer(() => ({ status: 200, json: {} }));
    const site = { baseUrl: host.url };
    const id = uniqueId("notify-term-batches");
    const quick = Array.from({ length: 8 }, (_, i) => ({ id: `q${i}`, simulate: { value: i, latencyMs: 50 } }));
    const slow = Array.from({ length: 4 }, (_, i) => ({ id: `s${i}`, simulate: { latencyMs: 60_000 } }));
    // Interleaved: every batch of 5 holds some of each, so none of them ends before the terminate.
    const recipients = [quick[0], quick[1], slow[0], quick[2], quick[3], slow[1], quick[4], slow[2], quick[5], quick[6], slow[3], quick[7]];
    await startOk(site, { id, request: 1, recipients, onClose: { url: `${receiver.url}/hooks` } });
    await pollUntil(site, id, (s) => s.progress?.succeeded === 8, 20_000);
    expect((await keyedFetch(`${host.url}/api/scatter-gather/${id}/terminate`, { method: "POST" })).status).toBe(202);
    await receiver.waitForCalls(1, 20_000);
    expect((receiver.calls[0].body as AnyJson).data).toMatchObject({
      outcome: "terminated",
      counts: { total: 12, succeeded: 8, failed: 0, timedOut: 0, abandoned: 4 },
    });
  });

  test("a gather that has closed and is delivering its close event cannot be terminated (410): its result stands", async () => {
    const receiver = await recipientServer(() => ({ status: 503, text: "down" }));
    const site = { baseUrl: host.url };
    const id = uniqueId("notify-done");
    await startOk(site, { id, request: 1, recipients: [{ id: "a", simulate: { value: 1 } }], onClose: { url: `${receiver.url}/hooks` } });
    await receiver.waitForCalls(1, 20_000);
    const closing = await pollUntil(site, id, (s) => s.progress?.phase === "done");
    expect(closing.runtimeStatus).toBe("Running");
    const refused = await keyedFetch(`${host.url}/api/scatter-gather/${id}/terminate`, { method: "POST" });
    expect(refused.status).toBe(410);
    expect(((await refused.json()) as AnyJson).error.message).toMatch(/has closed .*close event is being delivered/);
    await receiver.waitForCalls(2, 20_000);
    expect(receiver.calls.map((c) => (c.body as AnyJson).data.outcome)).toEqual(receiver.calls.map(() => "complete"));
    expect((await pollUntil(site, id, () => true)).runtimeStatus).toBe("Running");
  });

  test("onClose outside the allowlist, or not an http(s) URL: 400 with the path", async () => {
    const site = { baseUrl: host.url };
    for (const url of ["https://hooks.example.com/x", "ftp://127.0.0.1/x"]) {
      const res = await keyedFetch(`${site.baseUrl}/api/scatter-gather`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ request: 1, recipients: [{ id: "a", simulate: {} }], onClose: { url } }),
      });
      expect(res.status).toBe(400);
      expect(((await res.json()) as AnyJson).error.details[0].path).toBe("onClose.url");
    }
  });
});
