/**
 * BlobPayloadStore against a real Azurite blob service that this file starts (and stops) on a free
 * loopback port. No SDK stand-in: requests go through @azure/storage-blob over HTTP. A small counting
 * proxy between the SDK and Azurite counts the requests that really leave the process (cache tests).
 * Azurite runs with the loopback guard preloaded: any connection it tried to open elsewhere (its
 * telemetry, for one) would be refused and logged, and the last test checks the log is empty.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { createBlobPayloadStore, type BlobPayloadStore, type BlobPayloadStoreOptions } from "../../src/payload/blobStore";
import { azuriteConnectionString, readPayloadStoreConfig } from "../../src/payload/config";
import { gatherKeys, instancePrefix } from "../../src/payload/keys";
import { PayloadFormatError, PayloadNotFoundError } from "../../src/payload/store";
import type { BlobOperation } from "../../src/telemetry";
import { RunPayloads } from "../../src/gather/runPayloads";
import { startAzurite, type RunningAzurite } from "./azurite";

/** A numbered key under a run's answers folder: test blobs listed in number order. */
function numbered(keys: { answersPrefix: string }, i: number): string {
  return `${keys.answersPrefix}${String(i).padStart(9, "0")}.json`;
}

jest.setTimeout(60_000);

const guardLog = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "payload-guard-")), "guard.log");
let azurite: RunningAzurite;
let proxy: CountingProxy;

beforeAll(async () => {
  azurite = await startAzurite({
    preload: [path.resolve(__dirname, "../telemetry/loopback-guard.cjs")],
    env: { LOOPBACK_GUARD_LOG: guardLog },
  });
  proxy = await startCountingProxy(azurite.port);
});

afterAll(async () => {
  await proxy?.close();
  await azurite?.stop();
  fs.rmSync(path.dirname(guardLog), { recursive: true, force: true });
});

let containerSeq = 0;
/** A store on its own new container, through the counting proxy. */
function newStore(options: BlobPayloadStoreOptions = {}, container = `test-${process.pid}-${++containerSeq}`): BlobPayloadStore {
  return createBlobPayloadStore(
    { connection: readPayloadStoreConfig({ AzureWebJobsStorage: azuriteConnectionString(proxy.port) }).connection, container },
    options,
  );
}

describe("BlobPayloadStore on Azurite", () => {
  test("put/get round trip; the container is created on first write", async () => {
    const store = newStore();
    const keys = gatherKeys("order-42", "run-1");
    const value = { sku: "widget", qty: 10, note: "prix: 42 € ✓", nested: [1, null, { deep: true }] };
    const put = await store.putJson(keys.request, value);
    const text = JSON.stringify(value);
    expect(put).toMatchObject({ key: keys.request, bytes: Buffer.byteLength(text), created: true, identical: true });
    expect(put.md5).toMatch(/^[A-Za-z0-9+/]{22}==$/);
    expect(await store.getJson(keys.request)).toEqual(value);
    expect(await store.getJson(put)).toEqual(value); // by ref
    expect(await store.getText(keys.request)).toBe(text);
    expect(await store.stat(keys.request)).toEqual({ key: keys.request, bytes: put.bytes, md5: put.md5 });
    expect(await store.stat(keys.result)).toBeUndefined();
    // null and strings are JSON too
    await store.putJson(numbered(keys, 0), null);
    expect(await store.getJson(numbered(keys, 0))).toBeNull();
    // not JSON, or not a usable key: a rejected promise, before any request
    await expect(store.putJson(numbered(keys, 1), undefined)).rejects.toThrow(TypeError);
    await expect(store.putJson("a/../b.json", 1)).rejects.toThrow(RangeError);
  });

  test("writes are idempotent: rewriting a key is no error, and the first write wins", async () => {
    const store = newStore();
    const key = numbered(gatherKeys("i", "r"), 3);
    const first = await store.putJson(key, { price: 42 });
    const again = await store.putJson(key, { price: 42 }); // an activity that ran twice
    expect(again).toEqual({ key, bytes: first.bytes, md5: first.md5, created: false, identical: true });
    const other = await store.putJson(key, { price: 41 }); // a second run that got another answer
    expect(other).toEqual({ key, bytes: first.bytes, md5: first.md5, created: false, identical: false });
    expect(await store.getJson(key)).toEqual({ price: 42 });
  });

  test("cached reads: the request is fetched once per process, concurrent first reads included", async () => {
    const store = newStore();
    const keys = gatherKeys("cached", "r");
    await store.putJson(keys.request, { q: "x".repeat(1000) });
    const gets = () => proxy.count("GET", `/${store.container}/${keys.request}`);

    const before = gets();
    const values = await Promise.all(Array.from({ length: 25 }, () => store.getJson<{ q: string }>(keys.request, { cache: true })));
    expect(gets() - before).toBe(1);
    expect(values.every((v) => v === values[0] && v.q.length === 1000)).toBe(true);
    await store.getJson(keys.request, { cache: true });
    await store.getText(keys.request, { cache: true });
    expect(gets() - before).toBe(1);
    // the shared value is frozen: a caller cannot change what the next one reads
    expect(Object.isFrozen(values[0])).toBe(true);
    // uncached reads go to the service each time
    await store.getJson(keys.request);
    await store.getJson(keys.request);
    expect(gets() - before).toBe(3);
    expect(store.cacheStats()).toMatchObject({ misses: 1, entries: 1 });
  });

  test("the cache is bounded in bytes, least recently used first", async () => {
    const store = newStore({ cacheBytes: 2500 });
    const keys = ["a", "b", "c"].map((name) => `lru/r/${name}.json`);
    for (const key of keys) await store.putJson(key, "y".repeat(998)); // 1000 bytes each
    const gets = (key: string) => proxy.count("GET", `/${store.container}/${key}`);
    await store.getText(keys[0], { cache: true });
    await store.getText(keys[1], { cache: true });
    await store.getText(keys[0], { cache: true }); // a is the most recent
    await store.getText(keys[2], { cache: true }); // 3000 > 2500: b goes
    expect(store.cacheStats()).toMatchObject({ entries: 2, bytes: 2000, evictions: 1 });
    await store.getText(keys[0], { cache: true });
    await store.getText(keys[1], { cache: true });
    expect([gets(keys[0]), gets(keys[1]), gets(keys[2])]).toEqual([1, 2, 1]);
  });

  test("a small blob written with { cache: true } serves range reads without a request; other writes do not", async () => {
    const store = newStore();
    const keys = gatherKeys("kept", "r");
    const gets = (key: string) => proxy.count("GET", `/${store.container}/${key}`);
    const kept = numbered(keys, 1);
    const pieces = [Buffer.from('{"index":1,"value":'), Buffer.from('{"price":42,"note":"€"}'), Buffer.from("}")];
    const text = Buffer.concat(pieces).toString("utf8");
    expect(await store.putText(kept, pieces, { cache: true })).toMatchObject({ created: true });
    const valueAt = text.indexOf("{", 1);
    const valueBytes = Buffer.byteLength('{"price":42,"note":"€"}');
    expect(await store.getJsonRange(kept, Buffer.byteLength(text.slice(0, valueAt)), valueBytes)).toEqual({ price: 42, note: "€" });
    expect((await store.getRange(kept, 0, 9)).toString()).toBe('{"index":');
    // a range past the end is the same PayloadRangeError as from the service
    await expect(store.getRange(kept, 10, 1000)).rejects.toMatchObject({ code: "PayloadRange", received: Buffer.byteLength(text) - 10 });
    expect(await store.getText(kept, { cache: true })).toBe(text);
    expect(gets(kept)).toBe(0);
    // another process (another store) reads the service, and sees the same bytes
    expect((await newStore({}, store.container).getRange(kept, 0, 9)).toString()).toBe('{"index":');
    expect(gets(kept)).toBe(1);

    // a taken key keeps the earlier run's bytes: nothing is kept from a write that did not create the blob
    const taken = numbered(keys, 2);
    await newStore({}, store.container).putText(taken, "first");
    expect(await store.putText(taken, "second", { cache: true })).toMatchObject({ created: false, identical: false });
    expect((await store.getRange(taken, 0, 5)).toString()).toBe("first");
    // over CACHED_WRITE_MAX_BYTES (64 KiB: one answer at the default MAX_RESPONSE_BYTES), and writes without the
    // option: read from the service
    const big = numbered(keys, 3);
    await store.putText(big, "b".repeat(64 * 1024 + 1), { cache: true });
    const plain = numbered(keys, 4);
    await store.putText(plain, "plain");
    await store.getRange(big, 0, 1);
    await store.getRange(plain, 0, 1);
    expect([gets(taken), gets(big), gets(plain)]).toEqual([1, 1, 1]);
    // a deleted run's kept blobs go from the cache too
    await store.deleteByPrefix(keys.prefix);
    await expect(store.getRange(kept, 0, 9)).rejects.toBeInstanceOf(PayloadNotFoundError);
  });

  test("list by prefix in key order across pages; readAll streams the values in that order", async () => {
    const operations: BlobOperation[] = [];
    const store = newStore({ onOperation: (op) => operations.push(op) });
    const keys = gatherKeys("fanout", "r");
    const indexes = Array.from({ length: 23 }, (_, i) => i).sort(() => Math.random() - 0.5);
    await Promise.all(indexes.map((i) => store.putJson(numbered(keys, i), { i })));
    await store.putJson(keys.request, {}); // same run, not an answer
    await store.putJson(numbered(gatherKeys("fanout-2", "r"), 0), { other: true }); // another instance with a common name prefix

    operations.length = 0;
    const listed: string[] = [];
    for await (const ref of store.list(keys.answersPrefix, { pageSize: 5 })) listed.push(ref.key);
    expect(listed).toEqual(Array.from({ length: 23 }, (_, i) => numbered(keys, i)));
    expect(operations.filter((op) => op.operation === "ListBlobs")).toHaveLength(5); // 5+5+5+5+3

    const values: number[] = [];
    for await (const { ref, value } of store.readAll<{ i: number }>(keys.answersPrefix, { pageSize: 4, concurrency: 3 })) {
      expect(ref.key).toBe(numbered(keys, value.i));
      values.push(value.i);
    }
    expect(values).toEqual(Array.from({ length: 23 }, (_, i) => i));

    const everything: string[] = [];
    for await (const ref of store.list(instancePrefix("fanout"))) everything.push(ref.key);
    expect(everything).toHaveLength(24); // not fanout-2's
  });

  test("deleteByPrefix removes one instance's payloads (every run), nothing else, and its cached copies", async () => {
    const store = newStore({ listPageSize: 3 });
    const run1 = gatherKeys("purge-me", "r1");
    const run2 = gatherKeys("purge-me", "r2");
    const keep = gatherKeys("purge-me-not", "r1");
    await Promise.all([
      store.putJson(run1.request, { n: 1 }),
      ...Array.from({ length: 7 }, (_, i) => store.putJson(numbered(run1, i), i)),
      store.putJson(run1.result, { done: true }),
      store.putJson(run2.request, { n: 2 }),
      store.putJson(keep.request, { keep: true }),
    ]);
    await store.getJson(run1.request, { cache: true });

    expect(await store.deleteByPrefix(instancePrefix("purge-me"))).toBe(10);
    const left: string[] = [];
    for await (const ref of store.list("purge-me")) left.push(ref.key);
    expect(left).toEqual([keep.request]);
    await expect(store.getJson(run1.request, { cache: true })).rejects.toBeInstanceOf(PayloadNotFoundError);
    expect(await store.deleteByPrefix(instancePrefix("purge-me"))).toBe(0); // purging twice is fine
    await expect(store.deleteByPrefix("")).rejects.toThrow(RangeError);
  });

  test("a missing key is a PayloadNotFoundError; a non-JSON blob a PayloadFormatError", async () => {
    const store = newStore();
    const error = await store.getJson("nobody/r/request.json").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PayloadNotFoundError);
    expect(error).toMatchObject({ code: "PayloadNotFound", key: "nobody/r/request.json", container: store.container });
    await expect(store.getText("nobody/r/request.json", { cache: true })).rejects.toBeInstanceOf(PayloadNotFoundError);
    // listing a container that was never written is empty, not an error
    const none: unknown[] = [];
    for await (const ref of newStore().list("")) none.push(ref);
    expect(none).toEqual([]);
    await store.putText("bad/r/result.json", "{ not json", { contentType: "application/json" });
    await expect(store.getJson("bad/r/result.json")).rejects.toBeInstanceOf(PayloadFormatError);
  });

  test("each request is reported: Azure blob dependency data for telemetry", async () => {
    const operations: BlobOperation[] = [];
    const store = newStore({ onOperation: (op) => operations.push(op) });
    const key = gatherKeys("tele", "r").request;
    await store.putJson(key, { a: 1 });
    await store.putJson(key, { a: 1 });
    await store.getJson(key);
    await store.getJson("tele/r/missing.json").catch(() => undefined);
    const summary = operations.map((op) => [op.operation, op.statusCode, op.success]);
    expect(summary).toEqual([
      ["CreateContainer", 201, true],
      ["PutBlob", 201, true],
      ["PutBlob", 409, true], // the idempotent rewrite is expected, not a failure
      ["GetBlobProperties", 200, true],
      ["GetBlob", undefined, true],
      ["GetBlob", 404, false],
    ]);
    for (const op of operations) {
      expect(op).toMatchObject({ container: store.container, accountHost: `127.0.0.1:${proxy.port}` });
      expect(op.durationMs).toBeGreaterThanOrEqual(0);
    }
    expect(operations[1]).toMatchObject({ key, instanceId: "tele", bytes: 7 });
    expect(operations[4]).toMatchObject({ key, bytes: 7 });
  });

  test("metadata round trip: putText with metadata, list({ metadata: true }) hands it back", async () => {
    const store = newStore();
    const keys = gatherKeys("meta", "r");
    const withMeta = keys.answerGroup("g1");
    const without = keys.answerGroup("g2");
    const metadata = { answers: "0.0.14,z.15.10,2n9c.lfls.1ekg", other: "x y-z" };
    const put = await store.putText(withMeta, '{"a":1}', { contentType: "application/x-ndjson; charset=utf-8", metadata });
    expect(put).toMatchObject({ created: true, bytes: 7 });
    await store.putText(without, "{}");

    const listed: Record<string, unknown> = {};
    for await (const ref of store.list(keys.answersPrefix, { metadata: true })) listed[ref.key] = ref.metadata;
    expect(listed).toEqual({ [withMeta]: metadata, [without]: {} });
    // without asking, a listing carries no metadata
    for await (const ref of store.list(keys.answersPrefix)) expect(ref).not.toHaveProperty("metadata");
    // a rewrite of the key does not change the stored metadata (the first write wins)
    expect(await store.putText(withMeta, '{"a":1}', { metadata: { answers: "9.9.9" } })).toMatchObject({ created: false, identical: true });
    for await (const ref of store.list(withMeta, { metadata: true })) expect(ref.metadata).toEqual(metadata);
  });

  test("getJsonRange reads exactly a byte range (multi-byte characters before it), as one ranged GET", async () => {
    const operations: BlobOperation[] = [];
    const store = newStore({ onOperation: (op) => operations.push(op) });
    const key = gatherKeys("range", "r").answerGroup("g");
    const lines = [JSON.stringify({ index: 0, value: "ü€😀 Zürich" }), JSON.stringify({ index: 1, value: { p: "€", n: [1, 2] } }), "[3]"];
    await store.putText(key, lines.join("\n"));
    const offset = Buffer.byteLength(lines[0], "utf8") + 1;
    expect(offset).toBeGreaterThan(lines[0].length + 1); // byte offsets differ from string offsets here
    const before = proxy.count("GET", `/${store.container}/${key}`);
    operations.length = 0;
    expect(await store.getJsonRange(key, offset, Buffer.byteLength(lines[1], "utf8"))).toEqual({ index: 1, value: { p: "€", n: [1, 2] } });
    expect(proxy.count("GET", `/${store.container}/${key}`) - before).toBe(1);
    // only the range's bytes came back, not the blob
    expect(operations.map((op) => [op.operation, op.bytes])).toEqual([["GetBlob", Buffer.byteLength(lines[1], "utf8")]]);
    expect(await store.getJsonRange(key, 0, Buffer.byteLength(lines[0], "utf8"))).toEqual({ index: 0, value: "ü€😀 Zürich" });
    const last = offset + Buffer.byteLength(lines[1], "utf8") + 1;
    expect(await store.getJsonRange(key, last, 3)).toEqual([3]);
    // a range that cuts a line is not JSON; a missing blob is not found; a bad range is refused before any request
    await expect(store.getJsonRange(key, offset, 5)).rejects.toBeInstanceOf(PayloadFormatError);
    await expect(store.getJsonRange(gatherKeys("range", "r").answerGroup("none"), 0, 5)).rejects.toBeInstanceOf(PayloadNotFoundError);
    await expect(store.getJsonRange(key, -1, 5)).rejects.toThrow(RangeError);
    await expect(store.getJsonRange(key, 0, 0)).rejects.toThrow(RangeError);
  });

  test("putText with pieces stores their concatenation: bytes count and base64 MD5 of the whole", async () => {
    const store = newStore();
    const keys = gatherKeys("pieces", "r");
    const larger = Buffer.from('xxxx"ü€😀"yyyy', "utf8");
    const pieces = [Buffer.from('{"a":', "utf8"), larger.subarray(4, larger.length - 4), new TextEncoder().encode(',"b":[1,2]}')];
    const whole = Buffer.concat(pieces);
    const md5 = createHash("md5").update(whole).digest("base64");
    const put = await store.putText(keys.result, pieces);
    expect(put).toEqual({ key: keys.result, bytes: whole.length, md5, created: true, identical: true });
    expect(whole.length).toBe(Buffer.byteLength('{"a":"ü€😀","b":[1,2]}', "utf8"));
    expect(await store.getText(keys.result)).toBe('{"a":"ü€😀","b":[1,2]}');
    expect(await store.stat(keys.result)).toEqual({ key: keys.result, bytes: whole.length, md5 });
    // the same pieces again: the key is taken and the bytes are the same; other bytes are not
    expect(await store.putText(keys.result, pieces)).toMatchObject({ created: false, identical: true, md5 });
    expect(await store.putText(keys.result, [pieces[0], Buffer.from('"other"}')])).toMatchObject({ created: false, identical: false });
    // one Uint8Array view (not a whole buffer) is stored as its own bytes only
    const view = larger.subarray(4, larger.length - 4);
    expect(await store.putText(keys.request, view)).toMatchObject({
      bytes: view.length,
      md5: createHash("md5").update(view).digest("base64"),
    });
    expect(await store.getJson(keys.request)).toBe("ü€😀");
  });

  test("answer groups on Azurite: stored, listed by metadata, read by range and group by group", async () => {
    const store = newStore();
    const payloads = new RunPayloads(store, { instanceId: "groups", runId: "r" });
    const values = Array.from({ length: 10 }, (_, i) => ({ i, note: `ü€😀 ${"x".repeat(i * 7)}` }));
    const refs = await Promise.all(
      values.map((value, i) => payloads.storeAnswer(i, { recipientId: `r${i}`, attempts: 1 }, Buffer.from(JSON.stringify(value)))),
    );
    expect(new Set(refs.map((ref) => ref.group)).size).toBeLessThan(10); // answers queued behind the first writes shared a group
    const stored = await payloads.storedAnswers();
    expect(new Map([...stored].sort(([a], [b]) => a - b))).toEqual(new Map(refs.map((ref, i) => [i, ref])));
    for (const [i, ref] of refs.entries())
      expect(await payloads.answer(ref)).toEqual({ index: i, recipientId: `r${i}`, attempts: 1, value: values[i] });
    expect((await payloads.answersAt([...refs].reverse())).map((a) => a?.value)).toEqual([...values].reverse());
  });

  test("configured from app settings only (AzureWebJobsStorage + PAYLOAD_CONTAINER)", async () => {
    const store = createBlobPayloadStore(
      readPayloadStoreConfig({ AzureWebJobsStorage: azurite.connectionString, PAYLOAD_CONTAINER: "from-settings" }),
    );
    expect(store.container).toBe("from-settings");
    expect(store.accountHost).toBe(`127.0.0.1:${azurite.port}`);
    await store.putJson("x/r/request.json", { ok: true });
    expect(await store.getJson("x/r/request.json")).toEqual({ ok: true });
  });

  test("Azurite opened no connection beyond loopback (telemetry off)", () => {
    const log = fs.existsSync(guardLog) ? fs.readFileSync(guardLog, "utf8") : "";
    expect(log).toBe("");
  });
});

// ---------------------------------------------------------------------------------------------

interface CountingProxy {
  port: number;
  /** Requests seen with this method and URL path (query string ignored). */
  count(method: string, pathname: string): number;
  close(): Promise<void>;
}

/** An HTTP proxy on 127.0.0.1 that forwards every request to Azurite and counts them. */
async function startCountingProxy(targetPort: number): Promise<CountingProxy> {
  const counts = new Map<string, number>();
  const server = http.createServer((req, res) => {
    const pathname = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname).replace(/^\/devstoreaccount1/, "");
    const id = `${req.method} ${pathname}`;
    counts.set(id, (counts.get(id) ?? 0) + 1);
    const upstream = http.request(
      {
        host: "127.0.0.1",
        port: targetPort,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: `127.0.0.1:${targetPort}` },
      },
      (response) => {
        res.writeHead(response.statusCode ?? 502, response.headers);
        response.pipe(res);
      },
    );
    upstream.on("error", (error) => {
      res.writeHead(502);
      res.end(String(error));
    });
    req.pipe(upstream);
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    count: (method, pathname) => counts.get(`${method} ${pathname}`) ?? 0,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
