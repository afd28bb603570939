/**
 * The payload store when the store misbehaves (the chaos trial's faults, reproduced on loopback): a real
 * Azurite behind a fault-injecting TCP proxy (faultProxy.ts) that cuts responses mid-body, drops a
 * response after the service did the work, holds a response forever, answers 5xx/429, or refuses every
 * connection for a while. Reads must come back complete or fail; transient failures are retried for
 * longer than an outage; a missing or short blob is an error naming the blob, never a silent null.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { createBlobPayloadStore, type BlobPayloadStore, type BlobPayloadStoreOptions } from "../../src/payload/blobStore";
import { azuriteConnectionString, readPayloadStoreConfig } from "../../src/payload/config";
import { gatherKeys } from "../../src/payload/keys";
import { PayloadNotFoundError, PayloadRangeError } from "../../src/payload/store";
import { AnswerUnreadableError, RunPayloads } from "../../src/gather/runPayloads";
import type { BlobOperation } from "../../src/telemetry";
import { startAzurite, type RunningAzurite } from "./azurite";
import { startFaultProxy, type FaultProxy } from "./faultProxy";

jest.setTimeout(60_000);

let azurite: RunningAzurite;
let proxy: FaultProxy;

beforeAll(async () => {
  azurite = await startAzurite();
  proxy = await startFaultProxy(azurite.port);
});

afterEach(() => proxy.disarm());

afterAll(async () => {
  await proxy?.close();
  await azurite?.stop();
});

/** Retries quick enough for a test; the SDK's own retries as short as they go (they must not be what saves us). */
const FAST: BlobPayloadStoreOptions = {
  retry: { firstDelayMs: 50, maxDelayMs: 500, maxElapsedMs: 15_000, tryTimeoutMs: 2_000 },
  pipeline: { retryOptions: { retryDelayInMs: 50, maxRetryDelayInMs: 100 } },
};

let containerSeq = 0;
/** A store on a new container, or on `container` (another process's view of the same blobs). */
function newStore(options: BlobPayloadStoreOptions = FAST, port = proxy.port, container?: string): BlobPayloadStore {
  return createBlobPayloadStore(
    {
      connection: readPayloadStoreConfig({ AzureWebJobsStorage: azuriteConnectionString(port) }).connection,
      container: container ?? `faults-${process.pid}-${++containerSeq}`,
    },
    options,
  );
}

const blobPath = (store: BlobPayloadStore, key: string) => new RegExp(`/${store.container}/${key.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`);

describe("truncated and stalled downloads (item 4)", () => {
  test("a body cut mid-way is read again: getText and getRange return every byte", async () => {
    const operations: BlobOperation[] = [];
    const store = newStore({ ...FAST, onOperation: (op) => operations.push(op) });
    const key = gatherKeys("cut", "r").answerGroup("g1");
    const text = Array.from({ length: 2000 }, (_, i) => `{"index":${i},"value":"ü€ ${i}"}`).join("\n");
    await store.putText(key, text);
    const bytes = Buffer.from(text, "utf8");

    proxy.cut({ method: "GET", path: blobPath(store, key) }, 2, 100);
    expect(await store.getText(key)).toBe(text);
    expect(proxy.armed()).toBe(0);

    proxy.cut({ method: "GET", path: blobPath(store, key) }, 1, 5);
    const range = await store.getRange(key, 1000, 20_000);
    expect(Buffer.from(range).equals(bytes.subarray(1000, 21_000))).toBe(true);
    expect(proxy.armed()).toBe(0);
    // every request is one dependency: the cut ones failed, the retries succeeded
    const gets = operations.filter((op) => op.operation === "GetBlob").map((op) => op.success);
    expect(gets).toEqual([false, false, true, false, true]);
  });

  test("the aggregation's range reads of answer groups survive cut bodies", async () => {
    const store = newStore();
    const payloads = new RunPayloads(store, { instanceId: "cut-groups", runId: "r" });
    const values = Array.from({ length: 40 }, (_, i) => ({ i, pad: "x".repeat(2000) }));
    const refs = await Promise.all(values.map((v, i) => payloads.storeAnswer(i, { recipientId: `r${i}` }, Buffer.from(JSON.stringify(v)))));
    // Read by another process: the writer serves its own small groups from its cache, without a request.
    const reader = new RunPayloads(newStore(FAST, proxy.port, store.container), { instanceId: "cut-groups", runId: "r" });
    proxy.cut({ method: "GET", path: /\/answers\// }, 3, 50);
    expect((await reader.answersAt(refs)).map((a) => a.value)).toEqual(values);
    expect(proxy.armed()).toBe(0);
  });

  test("a listing cut mid-body is asked again from the same page: nothing is skipped or listed twice", async () => {
    const store = newStore();
    const keys = gatherKeys("cut-list", "r");
    const expected = Array.from({ length: 30 }, (_, i) => `${keys.answersPrefix}${String(i).padStart(3, "0")}.json`);
    await Promise.all(expected.map((key) => store.putText(key, "{}")));
    proxy.cut({ method: "GET", path: /comp=list/ }, 2, 200);
    const listed: string[] = [];
    for await (const ref of store.list(keys.answersPrefix, { pageSize: 7 })) listed.push(ref.key);
    expect(listed).toEqual(expected);
    expect(proxy.armed()).toBe(0);
  });

  test("a response that never comes is abandoned after tryTimeoutMs and asked again", async () => {
    const store = newStore();
    const key = gatherKeys("stall", "r").request;
    await store.putJson(key, { q: 1 });
    proxy.stall({ method: "GET", path: blobPath(store, key) }, 1);
    const started = Date.now();
    expect(await store.getJson(key)).toEqual({ q: 1 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_900);
    expect(proxy.armed()).toBe(0);
  });
});

describe("transient failures are retried, for longer than an outage (item 5)", () => {
  test("a 3 s outage during writes, reads and a listing: everything completes once the store is back", async () => {
    const store = newStore();
    const payloads = new RunPayloads(store, { instanceId: "outage", runId: "r" });
    await store.putJson(payloads.keys.request, { q: "before" }); // container created before the outage
    const outage = proxy.outage(3_000);
    const started = Date.now();
    const writes = Array.from({ length: 12 }, (_, i) =>
      payloads.storeAnswer(i, { recipientId: `r${i}` }, Buffer.from(JSON.stringify({ i }))),
    );
    const read = store.getJson(payloads.keys.request);
    const listing = (async () => {
      const keys: string[] = [];
      for await (const ref of store.list(payloads.keys.prefix)) keys.push(ref.key);
      return keys;
    })();
    const [refs, request, listed] = await Promise.all([Promise.all(writes), read, listing, outage]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(2_900);
    expect(request).toEqual({ q: "before" });
    expect(listed).toContain(payloads.keys.request);
    expect((await payloads.answersAt(refs)).map((a) => a.value)).toEqual(Array.from({ length: 12 }, (_, i) => ({ i })));
    expect((await payloads.storedAnswers()).size).toBe(12);
  });

  test("a 20 s outage (the chaos trial's) with the default policy: answers sent during it are stored once the store is back", async () => {
    // The SDK's own policy gave up after about 16 s (4 tries: 0 + 4 + 12 s of back-off).
    const store = newStore({});
    const payloads = new RunPayloads(store, { instanceId: "outage-20s", runId: "r" });
    await store.putJson(payloads.keys.request, 1);
    const outage = proxy.outage(20_000);
    const started = Date.now();
    const writes = Array.from({ length: 20 }, (_, i) => payloads.storeAnswer(i, { recipientId: `r${i}` }, Buffer.from(`{"i":${i}}`)));
    const [refs] = await Promise.all([Promise.all(writes), outage]);
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(19_900);
    expect(took).toBeLessThan(20_000 + 10_000 + 2_000); // back within one back-off (≤ 10 s) of the store
    expect((await payloads.answersAt(refs)).map((a) => a.value)).toEqual(Array.from({ length: 20 }, (_, i) => ({ i })));
  }, 60_000);

  test("a write whose answer was lost is written again; the 409/412 it meets is 'already stored', compared by MD5", async () => {
    const store = newStore();
    const key = gatherKeys("dropped", "r").result;
    await store.putJson(gatherKeys("dropped", "r").request, 1);
    proxy.drop({ method: "PUT", path: blobPath(store, key) }, 1);
    const put = await store.putText(key, '{"done":true}');
    expect(put).toEqual({
      key,
      bytes: 13,
      md5: createHash("md5").update('{"done":true}').digest("base64"),
      created: false,
      identical: true,
    });
    expect(proxy.count({ method: "PUT", path: blobPath(store, key) })).toBe(2);
    expect(await store.getText(key)).toBe('{"done":true}');
  });

  test("408, 429, 500, 502, 503, 504 are retried; 403 and 404 are final at once", async () => {
    const store = newStore();
    const key = gatherKeys("status", "r").request;
    await store.putJson(key, { ok: true });
    for (const status of [408, 429, 500, 502, 503, 504]) proxy.fail({ method: "GET", path: blobPath(store, key) }, 1, status);
    expect(await store.getJson(key)).toEqual({ ok: true });
    expect(proxy.armed()).toBe(0);

    proxy.fail({ method: "GET", path: blobPath(store, key) }, 1, 403);
    const before = proxy.count({ method: "GET", path: blobPath(store, key) });
    await expect(store.getJson(key)).rejects.toMatchObject({ statusCode: 403 });
    expect(proxy.count({ method: "GET", path: blobPath(store, key) }) - before).toBe(1);

    const missing = gatherKeys("status", "r").result;
    await expect(store.getJson(missing)).rejects.toBeInstanceOf(PayloadNotFoundError);
    expect(proxy.count({ method: "GET", path: blobPath(store, missing) })).toBe(1);
  });

  test("a failure that outlasts maxElapsedMs is reported (bounded), with the last error", async () => {
    const store = newStore({ ...FAST, retry: { ...FAST.retry, maxElapsedMs: 1_000 } });
    const key = gatherKeys("forever", "r").request;
    await store.putJson(key, 1);
    proxy.fail({ method: "GET", path: blobPath(store, key) }, 1_000, 503);
    const started = Date.now();
    await expect(store.getJson(key)).rejects.toMatchObject({ statusCode: 503 });
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(500);
    expect(elapsed).toBeLessThan(3_000);
    proxy.disarm();
  });
});

describe("missing and short blobs are errors naming the blob (item 6)", () => {
  test("a range past the blob's end is a PayloadRangeError; a missing blob names the range too", async () => {
    const store = newStore();
    const key = gatherKeys("short", "r").answerGroup("g");
    await store.putText(key, "0123456789");
    const error = await store.getRange(key, 4, 20).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PayloadRangeError);
    expect(error).toMatchObject({ key, offset: 4, length: 20, received: 6 });
    expect((error as Error).message).toContain(key);
    await expect(store.getRange(key, 10, 5)).rejects.toBeInstanceOf(PayloadRangeError); // starts at the end
    const missing = await store.getRange(gatherKeys("short", "r").answerGroup("none"), 7, 3).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(PayloadNotFoundError);
    expect((missing as Error).message).toMatch(/answers\/none\.json.*offset 7.*3 bytes|3 bytes.*offset 7/);
  });

  test("after a kill -9 of Azurite, every answer reads back as its value or as an error naming its blob, never null", async () => {
    // Azurite saves its metadata every 5 s: blobs written since the last save are gone after a kill -9.
    const location = fs.mkdtempSync(path.join(os.tmpdir(), "azurite-kill-"));
    const own = await startAzurite({ location });
    let restarted: RunningAzurite | undefined;
    try {
      const store = newStore(FAST, own.port);
      const payloads = new RunPayloads(store, { instanceId: "killed", runId: "r" });
      const values = Array.from({ length: 60 }, (_, i) => ({ i }));
      const store30 = (from: number) =>
        Promise.all(
          values
            .slice(from, from + 30)
            .map((v, i) => payloads.storeAnswer(from + i, { recipientId: `r${from + i}` }, Buffer.from(JSON.stringify(v)))),
        );
      const saved = await store30(0);
      await new Promise((resolve) => setTimeout(resolve, 6_000)); // a metadata save passes
      const recent = await store30(30);
      own.process.kill("SIGKILL");
      await new Promise((resolve) => own.process.once("exit", resolve));
      restarted = await startAzurite({ location, port: own.port });

      const refs = [...saved, ...recent];
      const reads = await payloads.readAnswers(refs);
      expect(reads.slice(0, 30).map((r) => r.answer?.value)).toEqual(values.slice(0, 30));
      let lost = 0;
      for (const [i, read] of reads.entries()) {
        if (read.error) {
          lost++;
          expect(read.error).toBeInstanceOf(AnswerUnreadableError);
          expect(read.error.message).toContain(
            `'${payloads.keys.answerGroup(refs[i].group)}' (${refs[i].length} bytes at offset ${refs[i].offset})`,
          );
        } else expect(read.answer.value).toEqual(values[i]);
      }
      if (lost > 0) await expect(payloads.answersAt(refs)).rejects.toBeInstanceOf(AnswerUnreadableError);
      console.log(
        `kill -9 right after 30 more answers were stored: ${lost} of those 30 unreadable after the restart, each an error naming its blob`,
      );
    } finally {
      await restarted?.stop();
      await own.stop();
      fs.rmSync(location, { recursive: true, force: true });
    }
  });
});
