/**
 * Payload store pieces that need no storage service: settings resolution, key layout, the LRU cache,
 * the telemetry mapping, the in-memory store's contract, and the packed outcomes that carry answer refs.
 */
import { BlobServiceClient } from "@azure/storage-blob";
import * as fs from "node:fs";
import * as path from "node:path";
import { blockAfter, objectEntries } from "../infra/bicep-static";
import { packOutcomes, publicOutcome, unpackOutcomes, type RecipientOutcome } from "../../src/gather/outcomes";
import { LruByteCache } from "../../src/payload/cache";
import {
  azuriteConnectionString,
  containerName,
  DEFAULT_CONTAINER,
  MIN_PAYLOAD_RETENTION_DAYS,
  payloadRetentionDays,
  readPayloadStoreConfig,
  resolveStorageConnection,
} from "../../src/payload/config";
import { decoratorNumber, paramDecorators, params } from "../infra/bicep-static";
import { answerGroupOf, assertValidKey, gatherKeys, instanceOfKey, instancePrefix, newGroupId, newRunId } from "../../src/payload/keys";
import { MemoryPayloadStore } from "../../src/payload/memoryStore";
import { backoffMs, DEFAULT_STORE_RETRY, isTransient, withRetries, type RetryClock } from "../../src/payload/retry";
import { PayloadFormatError, PayloadNotFoundError, PayloadRangeError, PayloadStoreConfigError } from "../../src/payload/store";

/** A numbered key under a run's answers folder: test blobs listed in number order. */
function numbered(keys: { answersPrefix: string }, i: number): string {
  return `${keys.answersPrefix}${String(i).padStart(9, "0")}.json`;
}

const ROOT = path.resolve(__dirname, "../..");

describe("storage settings (AzureWebJobsStorage, as the Functions host reads them)", () => {
  test("UseDevelopmentStorage=true is Azurite's development account on 127.0.0.1:10000", () => {
    expect(resolveStorageConnection({ AzureWebJobsStorage: "UseDevelopmentStorage=true" })).toEqual({
      kind: "connectionString",
      connectionString: "UseDevelopmentStorage=true",
      blobEndpoint: "http://127.0.0.1:10000/devstoreaccount1",
      development: true,
    });
  });

  test("Azurite on a custom port: a development connection string with BlobEndpoint", () => {
    const cs = azuriteConnectionString(47123);
    expect(cs).toContain("BlobEndpoint=http://127.0.0.1:47123/devstoreaccount1;");
    expect(resolveStorageConnection({ AzureWebJobsStorage: cs })).toMatchObject({
      kind: "connectionString",
      blobEndpoint: "http://127.0.0.1:47123/devstoreaccount1",
      development: true,
    });
    // and the SDK reads it the same way (no request is made)
    const client = BlobServiceClient.fromConnectionString(cs);
    expect(client.url).toBe("http://127.0.0.1:47123/devstoreaccount1");
    expect(client.accountName).toBe("devstoreaccount1");
  });

  test("account key connection strings without BlobEndpoint", () => {
    const key = Buffer.from("not-a-real-key").toString("base64");
    expect(
      resolveStorageConnection({
        AzureWebJobsStorage: `DefaultEndpointsProtocol=https;AccountName=stabc123;AccountKey=${key};EndpointSuffix=core.windows.net`,
      }),
    ).toMatchObject({
      blobEndpoint: "https://stabc123.blob.core.windows.net",
      development: false,
    });
    expect(
      resolveStorageConnection({
        AzureWebJobsStorage: `DefaultEndpointsProtocol=https;AccountName=stabc123;AccountKey=${key};EndpointSuffix=core.chinacloudapi.cn`,
      }).blobEndpoint,
    ).toBe("https://stabc123.blob.core.chinacloudapi.cn");
    expect(() => resolveStorageConnection({ AzureWebJobsStorage: "AccountName=stabc123" })).toThrow(
      /neither AccountKey nor SharedAccessSignature/,
    );
    expect(() => resolveStorageConnection({ AzureWebJobsStorage: "garbage" })).toThrow(PayloadStoreConfigError);
  });

  test("identity-based: blobServiceUri or accountName, managed identity with a client id, else DefaultAzureCredential", () => {
    expect(
      resolveStorageConnection({
        AzureWebJobsStorage__blobServiceUri: "https://stabc.blob.core.windows.net/",
        AzureWebJobsStorage__credential: "managedidentity",
        AzureWebJobsStorage__clientId: "11111111-2222-3333-4444-555555555555",
      }),
    ).toEqual({
      kind: "identity",
      blobEndpoint: "https://stabc.blob.core.windows.net",
      credential: { type: "managedIdentity", clientId: "11111111-2222-3333-4444-555555555555", resourceId: undefined },
    });
    expect(resolveStorageConnection({ AzureWebJobsStorage__serviceUri: "https://stabc.blob.core.windows.net" }).blobEndpoint).toBe(
      "https://stabc.blob.core.windows.net",
    );
    expect(resolveStorageConnection({ AzureWebJobsStorage__accountName: "stabc" })).toEqual({
      kind: "identity",
      blobEndpoint: "https://stabc.blob.core.windows.net",
      credential: { type: "default" },
    });
    expect(() =>
      resolveStorageConnection({ AzureWebJobsStorage__accountName: "stabc", AzureWebJobsStorage__credential: "clientsecret" }),
    ).toThrow(/not supported/);
    expect(() => resolveStorageConnection({ AzureWebJobsStorage__blobServiceUri: "stabc.blob.core.windows.net" })).toThrow(/http\(s\) URL/);
    // a connection string wins, as in the host
    expect(
      resolveStorageConnection({ AzureWebJobsStorage: "UseDevelopmentStorage=true", AzureWebJobsStorage__accountName: "stabc" }).kind,
    ).toBe("connectionString");
  });

  test("the settings infra/app/api.bicep puts on the function app resolve to the user-assigned identity", () => {
    const api = fs.readFileSync(path.join(ROOT, "infra/app/api.bicep"), "utf8");
    const settings = objectEntries(blockAfter(api, /^\s*var\s+appSettings\s*=\s*\{/m)!);
    const env: NodeJS.ProcessEnv = {};
    // stand-in values for the Bicep expressions; the setting names are the template's own
    const stand: Record<string, string> = {
      "storage.name": "stabc",
      "storage.properties.primaryEndpoints.blob": "https://stabc.blob.core.windows.net/",
      identityClientId: "11111111-2222-3333-4444-555555555555",
      payloadContainerName: "scatter-gather-payloads",
    };
    for (const [name, expression] of settings) {
      if (!name.startsWith("AzureWebJobsStorage") && name !== "PAYLOAD_CONTAINER") continue;
      env[name] = stand[expression] ?? expression.replace(/^'(.*)'$/, "$1");
    }
    expect(readPayloadStoreConfig(env)).toEqual({
      connection: {
        kind: "identity",
        blobEndpoint: "https://stabc.blob.core.windows.net",
        credential: { type: "managedIdentity", clientId: "11111111-2222-3333-4444-555555555555", resourceId: undefined },
      },
      container: "scatter-gather-payloads",
      retentionDays: 30,
    });
  });

  test("nothing configured: an error that names the settings", () => {
    let error: unknown;
    try {
      resolveStorageConnection({});
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(PayloadStoreConfigError);
    const message = (error as Error).message;
    for (const name of [
      "AzureWebJobsStorage",
      "UseDevelopmentStorage=true",
      "AzureWebJobsStorage__blobServiceUri",
      "AzureWebJobsStorage__accountName",
      "AzureWebJobsStorage__credential=managedidentity",
      "AzureWebJobsStorage__clientId",
    ]) {
      expect(message).toContain(name);
    }
    expect(() => resolveStorageConnection({ AzureWebJobsStorage: "  " })).toThrow(PayloadStoreConfigError);
  });

  test("PAYLOAD_CONTAINER: default, custom, invalid", () => {
    expect(containerName(undefined)).toBe(DEFAULT_CONTAINER);
    expect(DEFAULT_CONTAINER).toBe("scatter-gather-payloads");
    expect(containerName(" my-payloads ")).toBe("my-payloads");
    for (const bad of ["ab", "Upper", "-x-y", "x--y", "x_y", "a".repeat(64)])
      expect(() => containerName(bad)).toThrow(PayloadStoreConfigError);
  });

  test("PAYLOAD_RETENTION_DAYS: 30 by default, at least 6 days (a gather lives up to 5)", () => {
    expect(MIN_PAYLOAD_RETENTION_DAYS).toBe(6);
    expect(payloadRetentionDays(undefined)).toBe(30);
    expect(payloadRetentionDays(" ")).toBe(30);
    expect(payloadRetentionDays("6")).toBe(6);
    expect(payloadRetentionDays(" 365 ")).toBe(365);
    expect(readPayloadStoreConfig({ AzureWebJobsStorage: "UseDevelopmentStorage=true", PAYLOAD_RETENTION_DAYS: "7" }).retentionDays).toBe(
      7,
    );
    for (const bad of ["5", "0", "-30", "6.5", "1e2", "thirty", "0x10"]) {
      expect(() => payloadRetentionDays(bad)).toThrow(PayloadStoreConfigError);
      // the message names the setting, the value and the minimum
      expect(() => payloadRetentionDays(bad)).toThrow(`PAYLOAD_RETENTION_DAYS is '${bad}': it must be a whole number of at least 6 days`);
    }
    expect(() => readPayloadStoreConfig({ AzureWebJobsStorage: "UseDevelopmentStorage=true", PAYLOAD_RETENTION_DAYS: "3" })).toThrow(
      /PAYLOAD_RETENTION_DAYS is '3'/,
    );
  });

  test("PAYLOAD_RETENTION_DAYS is checked when the app loads (the module that reads the settings)", () => {
    const saved = process.env.PAYLOAD_RETENTION_DAYS;
    // A fresh module registry each time: what the worker does when it loads the app's function files.
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded anew under the setting being tested
    const load = () => jest.isolateModules(() => require("../../src/payload"));
    try {
      process.env.PAYLOAD_RETENTION_DAYS = "2";
      expect(load).toThrow(/PAYLOAD_RETENTION_DAYS is '2': it must be a whole number of at least 6 days/);
      process.env.PAYLOAD_RETENTION_DAYS = "6";
      expect(load).not.toThrow();
    } finally {
      if (saved === undefined) delete process.env.PAYLOAD_RETENTION_DAYS;
      else process.env.PAYLOAD_RETENTION_DAYS = saved;
    }
  });

  test("infra agrees: payloadRetentionDays has @minValue(6) and the default 30", () => {
    for (const file of ["infra/main.bicep", "infra/app/api.bicep"]) {
      const src = fs.readFileSync(path.join(ROOT, file), "utf8");
      expect({ file, min: decoratorNumber(paramDecorators(src).get("payloadRetentionDays"), "minValue") }).toEqual({
        file,
        min: MIN_PAYLOAD_RETENTION_DAYS,
      });
      expect(params(src).get("payloadRetentionDays")?.defaultValue).toBe("30");
    }
  });
});

describe("key layout", () => {
  test("per instance and run: request, answer groups, result", () => {
    const keys = gatherKeys("order-42", "run1");
    expect(keys).toMatchObject({
      prefix: "order-42/run1/",
      request: "order-42/run1/request.json",
      result: "order-42/run1/result.json",
      answersPrefix: "order-42/run1/answers/",
    });
    expect(instancePrefix("order-42")).toBe("order-42/");
    const group = newGroupId();
    expect(group).toMatch(/^[A-Za-z0-9_-]{16}$/);
    expect(newGroupId()).not.toBe(group);
    expect(keys.answerGroup(group)).toBe(`order-42/run1/answers/${group}.json`);
    expect(answerGroupOf(keys.answerGroup(group))).toBe(group);
    expect(answerGroupOf(keys.request)).toBeUndefined();
    // a group id can never leave the answers folder
    for (const bad of ["", "../x", "a/b", "a.b", "x".repeat(65)]) expect(() => keys.answerGroup(bad)).toThrow(RangeError);
  });

  test("instance ids made only of dots stay one literal segment; invalid keys are refused", () => {
    expect(gatherKeys("..", "r").request).toBe("%2E%2E/r/request.json");
    expect(instanceOfKey("%2E%2E/r/request.json")).toBe("..");
    expect(instanceOfKey("a:b.c/r/answers/000000001.json")).toBe("a:b.c");
    expect(() => gatherKeys("a/b", "r")).toThrow(RangeError);
    expect(() => gatherKeys("a", "")).toThrow(RangeError);
    for (const bad of ["", "a//b", "./a", "a/../b", "a/b.", "a\\b", "x".repeat(1025)])
      expect(() => assertValidKey(bad)).toThrow(RangeError);
    assertValidKey("a/b/c.json");
  });

  test("run ids sort by start time and differ between two starts in the same millisecond", () => {
    const t = new Date("2026-11-22T23:15:00.123Z");
    const a = newRunId(t);
    const b = newRunId(t);
    expect(a).toMatch(/^20261122T231500123Z-[0-9a-f]{6}$/);
    expect(a).not.toBe(b);
    expect(newRunId(new Date("2026-11-23T00:00:00.000Z")) > a).toBe(true);
  });
});

describe("LRU byte cache", () => {
  test("evicts the least recently used entries to stay within the byte bound", () => {
    const cache = new LruByteCache<string>(10);
    cache.set("a", "A", 4);
    cache.set("b", "B", 4);
    expect(cache.get("a")).toBe("A"); // a is now the most recent
    cache.set("c", "C", 4); // 12 > 10: b goes
    expect(cache.get("b")).toBeUndefined();
    expect(cache.get("a")).toBe("A");
    expect(cache.get("c")).toBe("C");
    expect(cache.stats()).toMatchObject({ bytes: 8, entries: 2, evictions: 1 });
    cache.set("huge", "H", 11); // larger than the whole cache: not kept, nothing evicted
    expect(cache.get("huge")).toBeUndefined();
    expect(cache.stats().entries).toBe(2);
    cache.deletePrefix("a");
    expect(cache.stats()).toMatchObject({ bytes: 4, entries: 1 });
  });

  test("concurrent first reads share one load; a failed load is not cached", async () => {
    const cache = new LruByteCache<string>(100);
    let loads = 0;
    const load = async () => {
      loads++;
      await new Promise((resolve) => setTimeout(resolve, 10));
      return { value: "v", bytes: 1 };
    };
    const values = await Promise.all(Array.from({ length: 20 }, () => cache.getOrLoad("k", load)));
    expect(values).toEqual(Array(20).fill("v"));
    expect(loads).toBe(1);
    await cache.getOrLoad("k", load);
    expect(loads).toBe(1);
    await expect(cache.getOrLoad("bad", async () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    await expect(cache.getOrLoad("bad", async () => ({ value: "ok", bytes: 1 }))).resolves.toBe("ok");
  });
});

describe("trackBlobOperation (SDK stand-in)", () => {
  function load(connectionString: string | undefined) {
    const calls: unknown[] = [];
    const saved = process.env.APPLICATIONINSIGHTS_CONNECTION_STRING;
    if (connectionString === undefined) delete process.env.APPLICATIONINSIGHTS_CONNECTION_STRING;
    else process.env.APPLICATIONINSIGHTS_CONNECTION_STRING = connectionString;
    let mod!: typeof import("../../src/telemetry");
    jest.isolateModules(() => {
      jest.doMock("applicationinsights", () => ({
        TelemetryClient: class {
          config: Record<string, unknown> = {};
          initialize() {}
          trackDependency(t: unknown) {
            calls.push(t);
          }
        },
      }));
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded after jest.doMock, in this isolated registry
      mod = require("../../src/telemetry");
    });
    const restore = () => {
      if (saved === undefined) delete process.env.APPLICATIONINSIGHTS_CONNECTION_STRING;
      else process.env.APPLICATIONINSIGHTS_CONNECTION_STRING = saved;
    };
    return { mod, calls, restore };
  }

  const op = {
    operation: "PutBlob",
    container: "scatter-gather-payloads",
    accountHost: "stabc.blob.core.windows.net",
    key: "order-42/r/request.json",
    instanceId: "order-42",
    durationMs: 12.4,
    success: true,
    statusCode: 201,
    bytes: 321,
  };

  test("an Azure blob dependency: target the account host, name operation + container", () => {
    const { mod, calls, restore } = load("InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://127.0.0.1:9/");
    try {
      mod.trackBlobOperation(op);
      expect(calls).toEqual([
        {
          name: "PutBlob scatter-gather-payloads",
          dependencyTypeName: "Azure blob",
          target: "stabc.blob.core.windows.net",
          data: "PutBlob scatter-gather-payloads/order-42/r/request.json",
          duration: 12,
          resultCode: 201,
          success: true,
          properties: {
            container: "scatter-gather-payloads",
            instanceId: "order-42",
            bytes: "321",
            "db.system": "Azure blob",
            "db.statement": "PutBlob scatter-gather-payloads/order-42/r/request.json",
          },
        },
      ]);
    } finally {
      restore();
    }
  });

  test("no connection string: nothing", () => {
    const { mod, calls, restore } = load(undefined);
    try {
      mod.trackBlobOperation(op);
      expect(calls).toEqual([]);
    } finally {
      restore();
    }
  });
});

describe("MemoryPayloadStore keeps the store's contract", () => {
  test("create-only writes, key-ordered listing, NotFound, prefix delete", async () => {
    const store = new MemoryPayloadStore();
    const keys = gatherKeys("i", "r");
    const first = await store.putJson(keys.request, { q: 1 });
    expect(first).toMatchObject({ key: keys.request, created: true, identical: true, bytes: 7 });
    expect(await store.putJson(keys.request, { q: 1 })).toMatchObject({ created: false, identical: true, md5: first.md5 });
    expect(await store.putJson(keys.request, { q: 2 })).toMatchObject({ created: false, identical: false, md5: first.md5 });
    expect(await store.getJson(keys.request)).toEqual({ q: 1 });
    for (const i of [3, 1, 2]) await store.putJson(numbered(keys, i), { i });
    const listed: number[] = [];
    for await (const { value } of store.readAll<{ i: number }>(keys.answersPrefix)) listed.push(value.i);
    expect(listed).toEqual([1, 2, 3]);
    await store.putText("i/r/broken.json", "{");
    await expect(store.getJson("i/r/broken.json")).rejects.toBeInstanceOf(PayloadFormatError);
    await expect(store.getJson("nope/x.json")).rejects.toBeInstanceOf(PayloadNotFoundError);
    expect(await store.deleteByPrefix(instancePrefix("i"))).toBe(5);
    expect(await store.stat(keys.request)).toBeUndefined();
  });

  test("range reads are exact or fail, naming the blob and the range (as on Blob Storage)", async () => {
    const store = new MemoryPayloadStore();
    const key = gatherKeys("i", "r").answerGroup("g");
    await store.putText(key, "0123456789");
    expect((await store.getRange(key, 2, 3)).toString()).toBe("234");
    const short = await store.getRange(key, 4, 20).catch((e: unknown) => e);
    expect(short).toBeInstanceOf(PayloadRangeError);
    expect(short).toMatchObject({ key, offset: 4, length: 20, received: 6 });
    expect((short as Error).message).toBe(
      `payload '${key}' in container 'memory' is shorter than the range read: 20 bytes at offset 4 asked, 6 there`,
    );
    await expect(store.getJsonRange(key, 10, 1)).rejects.toBeInstanceOf(PayloadRangeError);
    const missing = await store.getRange("i/r/answers/none.json", 7, 3).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(PayloadNotFoundError);
    expect((missing as Error).message).toBe(
      "payload 'i/r/answers/none.json' not found in container 'memory' (reading 3 bytes at offset 7)",
    );
    await expect(store.getRange(key, -1, 3)).rejects.toThrow(RangeError);
    await expect(store.getRange(key, 0, 0)).rejects.toThrow(RangeError);
  });
});

describe("the store's retry policy (retry.ts)", () => {
  const networkError = (code: string, message = `connect ${code} 127.0.0.1:10000`) => Object.assign(new Error(message), { code });
  const restError = (statusCode: number, code?: string) =>
    Object.assign(new Error(`status ${statusCode}`), { name: "RestError", statusCode, code });

  test("transient: connections refused, reset or cut, timeouts, aborted bodies, 408/429/500/502/503/504", () => {
    for (const code of ["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "ECONNABORTED", "EAI_AGAIN", "UND_ERR_SOCKET"]) {
      expect([code, isTransient(networkError(code))]).toEqual([code, true]);
    }
    // as @azure/core-rest-pipeline reports them: a RestError without a status, the code of the socket error
    expect(isTransient(Object.assign(new Error("write EPIPE"), { name: "RestError", code: "EPIPE" }))).toBe(true);
    expect(isTransient(Object.assign(new Error("read ECONNRESET"), { name: "RestError", code: "REQUEST_SEND_ERROR" }))).toBe(true);
    expect(isTransient(new Error("socket hang up"))).toBe(true);
    expect(isTransient(Object.assign(new Error("The operation was aborted."), { name: "AbortError" }))).toBe(true);
    expect(isTransient(new Error("wrapped", { cause: networkError("ECONNRESET") }))).toBe(true);
    expect(isTransient(Object.assign(new Error('Error "Error: Unclosed root tag" occurred'), { code: "PARSE_ERROR" }))).toBe(true);
    expect(isTransient(Object.assign(new Error("Error reading response as text: aborted"), { code: "PARSE_ERROR" }))).toBe(true);
    for (const status of [408, 429, 500, 502, 503, 504]) expect([status, isTransient(restError(status))]).toEqual([status, true]);
  });

  test("final: any other status (400, 403, 404, 409, 412, 416), a missing or short blob, bad JSON, programming errors", () => {
    for (const status of [400, 401, 403, 404, 409, 412, 416, 501])
      expect([status, isTransient(restError(status))]).toEqual([status, false]);
    // a status decides even when the message looks like a network failure
    expect(isTransient(Object.assign(restError(404), { message: "ECONNRESET" }))).toBe(false);
    expect(isTransient(new PayloadNotFoundError("k", "c"))).toBe(false);
    expect(isTransient(new PayloadRangeError("k", "c", 0, 10, 5))).toBe(false);
    expect(isTransient(new PayloadFormatError("k", new SyntaxError("x")))).toBe(false);
    expect(isTransient(new RangeError("bad byte range"))).toBe(false);
    expect(isTransient(networkError("ENOTFOUND", "getaddrinfo ENOTFOUND nosuchaccount.blob.core.windows.net"))).toBe(false);
    expect(isTransient(undefined)).toBe(false);
  });

  /** A clock that only moves when the policy sleeps. */
  function fakeClock(random = 0.5): RetryClock & { slept: number[]; t: number } {
    const clock = {
      t: 0,
      slept: [] as number[],
      now: () => clock.t,
      sleep: async (ms: number) => {
        clock.slept.push(ms);
        clock.t += ms;
      },
      random: () => random,
    };
    return clock;
  }

  test("defaults: exponential back-off with jitter, giving up after about 2 minutes (longer than a 20 s outage)", async () => {
    expect(DEFAULT_STORE_RETRY).toEqual({ maxElapsedMs: 120_000, firstDelayMs: 500, maxDelayMs: 10_000, tryTimeoutMs: 30_000 });
    // equal jitter: between half and all of the capped exponential delay
    expect([1, 2, 3, 4, 5, 6, 10].map((n) => backoffMs(DEFAULT_STORE_RETRY, n, () => 0))).toEqual([250, 500, 1000, 2000, 4000, 5000, 5000]);
    expect([1, 2, 3, 4, 5, 6, 10].map((n) => backoffMs(DEFAULT_STORE_RETRY, n, () => 1))).toEqual([
      500, 1000, 2000, 4000, 8000, 10000, 10000,
    ]);

    for (const random of [0, 0.5, 1]) {
      const clock = fakeClock(random);
      let attempts = 0;
      const refused = networkError("ECONNREFUSED");
      await expect(
        withRetries(
          async () => {
            attempts++;
            throw refused;
          },
          DEFAULT_STORE_RETRY,
          clock,
        ),
      ).rejects.toBe(refused);
      // no attempt starts after 2 minutes; the last one starts less than one back-off before
      expect(clock.t).toBeLessThan(120_000);
      expect(clock.t).toBeGreaterThan(120_000 - 10_000);
      expect(attempts).toBe(clock.slept.length + 1);
      // a store back after 20 s is reached by an attempt within one back-off (at most 10 s) of its return
      let t = 0;
      const next = clock.slept.find((ms) => (t += ms) >= 20_000);
      expect(next).toBeDefined();
      expect(t).toBeLessThanOrEqual(30_000);
    }
  });

  test("the first success ends it; a final failure is thrown at once, unretried", async () => {
    const clock = fakeClock();
    let calls = 0;
    const value = await withRetries(
      async (_signal, n) => {
        calls++;
        if (n < 3) throw networkError("ECONNRESET");
        return "stored";
      },
      DEFAULT_STORE_RETRY,
      clock,
    );
    expect([value, calls, clock.slept]).toEqual(["stored", 3, [375, 750]]);

    const conflict = restError(409);
    const again = fakeClock();
    calls = 0;
    await expect(
      withRetries(
        async () => {
          calls++;
          throw conflict;
        },
        DEFAULT_STORE_RETRY,
        again,
      ),
    ).rejects.toBe(conflict);
    expect([calls, again.slept]).toEqual([1, []]);
  });

  test("each attempt gets a signal that aborts after tryTimeoutMs (a stalled request is given up and retried)", async () => {
    const signals: AbortSignal[] = [];
    const result = await withRetries(
      (signal, n) =>
        new Promise<string>((resolve, reject) => {
          signals.push(signal);
          if (n === 2) resolve("second");
          else
            signal.addEventListener("abort", () => reject(Object.assign(new Error("The operation was aborted."), { name: "AbortError" })));
        }),
      { ...DEFAULT_STORE_RETRY, tryTimeoutMs: 30, firstDelayMs: 1 },
    );
    expect(result).toBe("second");
    expect(signals.map((s) => s.aborted)).toEqual([true, false]);
    expect(String((signals[0].reason as Error).message)).toBe("the storage request took longer than 30 ms");
  });
});

describe("packed outcomes with answer refs", () => {
  const groupA = "AAAAAAAAAAAAAAAA";
  const groupB = "BBBBBBBBBBBBBBBB";
  const outcomes: RecipientOutcome[] = [
    { status: "succeeded", attempts: 1, durationMs: 12, answer: { group: groupA, offset: 0, length: 40 } },
    { status: "failed", attempts: 3, durationMs: 8, error: "HTTP 503" },
    { status: "succeeded", attempts: 2, durationMs: 30, answer: { group: groupA, offset: 41, length: 38 } },
    { status: "succeeded", answer: { group: groupB, offset: 0, length: 7 } },
    { status: "timedOut", attempts: 1, error: "timed out after 2000 ms" },
    { status: "succeeded", attempts: 1, durationMs: 5, answer: { group: groupA, offset: 80, length: 1 } },
    { status: "abandoned" },
  ];

  test("round trip: each group stored once, outcomes sharing a group point at it by number", () => {
    const packed = packOutcomes(outcomes);
    expect(packed.groups).toEqual([groupA, groupB]);
    expect(packed.errors).toEqual(["HTTP 503", "timed out after 2000 ms"]);
    expect(packed.rows).toEqual([
      ["s", 1, 12, -1, 0, 0, 40],
      ["f", 3, 8, 0],
      ["s", 2, 30, -1, 0, 41, 38],
      ["s", -1, -1, -1, 1, 0, 7],
      ["t", 1, -1, 1],
      ["s", 1, 5, -1, 0, 80, 1],
      ["a"],
    ]);
    const json = JSON.stringify(packed); // as durable payloads carry it
    expect(json.split(groupA)).toHaveLength(2);
    expect(json.split(groupB)).toHaveLength(2);
    expect(unpackOutcomes(JSON.parse(json))).toEqual(outcomes);
  });

  test("outcomes without refs pack as before: no groups table, no answer when unpacked", () => {
    const plain: RecipientOutcome[] = [
      { status: "succeeded", attempts: 1, durationMs: 4 },
      { status: "failed", attempts: 2, error: "HTTP 500" },
      { status: "abandoned" },
    ];
    const packed = packOutcomes(plain);
    expect(packed).toEqual({ rows: [["s", 1, 4], ["f", 2, -1, 0], ["a"]], errors: ["HTTP 500"] });
    expect("groups" in packed).toBe(false);
    const unpacked = unpackOutcomes(JSON.parse(JSON.stringify(packed)));
    expect(unpacked).toEqual(plain);
    for (const outcome of unpacked) expect("answer" in outcome).toBe(false);
    expect(packOutcomes([])).toEqual({ rows: [], errors: [] });
  });

  test("publicOutcome strips the answer ref and keeps everything else, without changing its input", () => {
    const entry = { recipientId: "acme", ...outcomes[2] };
    expect(publicOutcome(entry)).toEqual({ recipientId: "acme", status: "succeeded", attempts: 2, durationMs: 30 });
    expect("answer" in publicOutcome(entry)).toBe(false);
    expect(entry.answer).toEqual({ group: groupA, offset: 41, length: 38 });
    expect(publicOutcome({ recipientId: "b", ...outcomes[1] })).toEqual({ recipientId: "b", ...outcomes[1] });
    expect(unpackOutcomes(packOutcomes(outcomes)).map(publicOutcome)).toEqual(outcomes.map(({ answer: _answer, ...rest }) => rest));
  });
});
