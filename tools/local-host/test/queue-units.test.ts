/** The queue trigger's parts that need no queue service: host.json settings, back-off, decoding, trigger data, names. */
import {
  RandomizedExponentialBackoff,
  decodeMessageText,
  encodeMessageBody,
  jsonDateTimeOffset,
  poisonQueueName,
  queueConnectionString,
  queueNameError,
  queueTriggerData,
  validUtf8,
} from "../queue-listener";
import { describeQueuesOptions, formatTimeSpan, parseTimeSpan, readQueuesOptions } from "../queue-options";
import { withHostJsonOverrides } from "../settings";
import type { RegisteredFunction } from "../worker";

const DEV = { AZURE_FUNCTIONS_ENVIRONMENT: "Development" };

describe("host.json extensions.queues (QueuesOptions)", () => {
  test("defaults: batchSize 16, newBatchThreshold batchSize/2 x processors, 1 min polling (2 s in Development), 0 visibility, 5 dequeues, base64", () => {
    expect(readQueuesOptions(undefined, {}, 4).options).toEqual({
      batchSize: 16,
      newBatchThreshold: 32,
      maxPollingIntervalMs: 60_000,
      visibilityTimeoutMs: 0,
      maxDequeueCount: 5,
      messageEncoding: "base64",
    });
    expect(readQueuesOptions({}, DEV, 2).options.maxPollingIntervalMs).toBe(2000);
    expect(readQueuesOptions({}, { AZURE_FUNCTIONS_ENVIRONMENT: "Production" }, 2).options.maxPollingIntervalMs).toBe(60_000);
    // The Development rule replaces the default value, even when written out.
    expect(readQueuesOptions({ maxPollingInterval: "00:01:00" }, DEV, 2).options.maxPollingIntervalMs).toBe(2000);
    expect(readQueuesOptions({ maxPollingInterval: "00:00:30" }, DEV, 2).options.maxPollingIntervalMs).toBe(30_000);
    // WEBSITE_SKU=Dynamic counts one processor; an odd batch size halves downwards.
    expect(readQueuesOptions({ batchSize: 5 }, { WEBSITE_SKU: "Dynamic" }, 8).options.newBatchThreshold).toBe(2);
    expect(readQueuesOptions({ batchSize: 5, newBatchThreshold: 0 }, {}, 8).options.newBatchThreshold).toBe(0);
  });

  test("keys are case-insensitive, numbers may be strings; unknown keys and integer time spans warn", () => {
    const r = readQueuesOptions(
      { BatchSize: "4", MAXDEQUEUECOUNT: 2, visibilitytimeout: "00:00:03", MessageEncoding: "None", maxPollingInterval: 1, extra: true },
      {},
      1,
    );
    expect(r.options).toMatchObject({ batchSize: 4, maxDequeueCount: 2, visibilityTimeoutMs: 3000, messageEncoding: "none" });
    expect(r.options.maxPollingIntervalMs).toBe(86_400_000);
    expect(r.warnings.join("\n")).toMatch(/extensions\.queues\.extra is not a setting/);
    expect(r.warnings.join("\n")).toMatch(/maxPollingInterval is 1, which \.NET reads as 1 DAYS \(1\.00:00:00\)/);
  });

  test("what the extension refuses stops the start", () => {
    expect(() => readQueuesOptions({ batchSize: 0 }, {})).toThrow(/batchSize is 0; it must be from 1 to 32/);
    expect(() => readQueuesOptions({ batchSize: 33 }, {})).toThrow(/from 1 to 32/);
    expect(() => readQueuesOptions({ batchSize: 1.5 }, {})).toThrow(/not an integer/);
    expect(() => readQueuesOptions({ newBatchThreshold: -1 }, {})).toThrow(/0 or more/);
    expect(() => readQueuesOptions({ maxPollingInterval: "00:00:00.05" }, {})).toThrow(/must not be less than 00:00:00.1000000/);
    expect(() => readQueuesOptions({ maxPollingInterval: "2s" }, {})).toThrow(/not a TimeSpan/);
    expect(() => readQueuesOptions({ maxDequeueCount: 0 }, {})).toThrow(/must not be less than 1/);
    expect(() => readQueuesOptions({ visibilityTimeout: "8.00:00:00" }, {})).toThrow(/00:00:00 to 7.00:00:00/);
    expect(() => readQueuesOptions({ visibilityTimeout: "-00:00:01" }, {})).toThrow(/00:00:00 to 7.00:00:00/);
    expect(() => readQueuesOptions({ messageEncoding: "utf8" }, {})).toThrow(/"base64" or "none"/);
    expect(() => readQueuesOptions([], {})).toThrow(/must be an object/);
  });

  test(".NET TimeSpan strings", () => {
    expect(parseTimeSpan("00:00:02")).toBe(2000);
    expect(parseTimeSpan(" 00:00:00.2500000 ")).toBe(250);
    expect(parseTimeSpan("00:02")).toBe(120_000);
    expect(parseTimeSpan("1.02:03:04")).toBe(((26 * 60 + 3) * 60 + 4) * 1000);
    expect(parseTimeSpan("1:02:03:04.5")).toBe(((26 * 60 + 3) * 60 + 4) * 1000 + 500);
    expect(parseTimeSpan("2")).toBe(2 * 86_400_000);
    expect(parseTimeSpan("-00:00:01")).toBe(-1000);
    for (const bad of ["24:00:00", "00:60:00", "00:00:60", "1.2", "00:00:00.12345678", "abc", ""])
      expect(parseTimeSpan(bad)).toBeUndefined();
    expect(formatTimeSpan(2000)).toBe("00:00:02");
    expect(formatTimeSpan(250)).toBe("00:00:00.2500000");
    expect(formatTimeSpan(86_400_000 + 61_000)).toBe("1.00:01:01");
    expect(describeQueuesOptions(readQueuesOptions(undefined, DEV, 1).options)).toBe(
      "batchSize 16, newBatchThreshold 8, maxPollingInterval 00:00:02, visibilityTimeout 00:00:00, maxDequeueCount 5, messageEncoding base64",
    );
  });
});

describe("polling back-off (RandomizedExponentialBackoffStrategy)", () => {
  test("100 ms, then 100 ms + 2^(n-1) x 100 ms x [0.8, 1.2), capped at the maximum; back to 100 ms after a find", () => {
    const middle = new RandomizedExponentialBackoff(100, 2000, () => 0.5);
    const delays = Array.from({ length: 8 }, () => middle.nextDelay(false));
    expect(delays).toEqual([100, 200, 300, 500, 900, 1700, 2000, 2000]);
    expect(middle.nextDelay(true)).toBe(100);
    expect(middle.nextDelay(false)).toBe(200);
    const low = new RandomizedExponentialBackoff(100, 60_000, () => 0);
    low.nextDelay(false);
    expect(low.nextDelay(false)).toBeCloseTo(180);
    const high = new RandomizedExponentialBackoff(100, 60_000, () => 0.999999);
    high.nextDelay(false);
    expect(high.nextDelay(false)).toBeCloseTo(220);
    expect(() => new RandomizedExponentialBackoff(200, 100)).toThrow(/must not be greater/);
  });
});

describe("message bodies", () => {
  test("base64 by Convert.FromBase64String's rules; none = the text itself", () => {
    expect(decodeMessageText("aGVsbG8=", "base64")!.toString()).toBe("hello");
    expect(decodeMessageText("aGVs\r\nbG8=", "base64")!.toString()).toBe("hello");
    expect(decodeMessageText("", "base64")!.length).toBe(0);
    for (const bad of ["aGVsbG8", "hello world!", "aGVs=G8=", "aGVsbG8-", "aGVsbG8_", '{"a":1}']) {
      expect(decodeMessageText(bad, "base64")).toBeUndefined();
    }
    expect(decodeMessageText("not base64!", "none")!.toString()).toBe("not base64!");
    expect(encodeMessageBody(Buffer.from("hello"), "base64")).toBe("aGVsbG8=");
    expect(encodeMessageBody(Buffer.from("hello"), "none")).toBe("hello");
  });
  test("strict UTF-8, BOM kept", () => {
    expect(validUtf8(Buffer.from([0xef, 0xbb, 0xbf, 0x61]))).toBe("\uFEFFa");
    expect(validUtf8(Buffer.from([0xff, 0xfe]))).toBeUndefined();
  });
  test("times as Newtonsoft writes a DateTimeOffset", () => {
    expect(jsonDateTimeOffset(new Date("2024-01-02T03:04:05Z"), "x")).toBe('"2024-01-02T03:04:05+00:00"');
    expect(jsonDateTimeOffset(new Date("2024-01-02T03:04:05.120Z"), "x")).toBe('"2024-01-02T03:04:05.12+00:00"');
    expect(jsonDateTimeOffset(undefined, "9999-12-31T23:59:59.9999999+00:00")).toBe('"9999-12-31T23:59:59.9999999+00:00"');
  });
});

describe("trigger data (QueueTriggerBinding.CreateBindingData through the host's ToRpc)", () => {
  const fn = (dataType?: string) =>
    ({
      name: "work",
      triggerName: "queueItem",
      bindings: { queueItem: { type: "queueTrigger", direction: "in", queueName: "q", dataType } },
    }) as unknown as RegisteredFunction;
  const message = {
    messageId: "id-1",
    popReceipt: "pop",
    dequeueCount: 2,
    insertedOn: new Date("2024-01-01T00:00:00Z"),
    expiresOn: new Date("2024-01-08T00:00:00Z"),
    nextVisibleOn: new Date("2024-01-01T00:10:00Z"),
  };
  test("the body as string; every metadata value typed as the host sends it", () => {
    const now = new Date("2024-01-01T00:00:01.500Z");
    const d = queueTriggerData(fn(), message, Buffer.from('{"A":1}'), now);
    expect(d.inputData).toEqual([{ name: "queueItem", data: { string: '{"A":1}' } }]);
    const { sys, ...rest } = d.triggerMetadata;
    expect(rest).toEqual({
      QueueTrigger: { string: '{"A":1}' },
      DequeueCount: { json: "2" },
      ExpirationTime: { json: '"2024-01-08T00:00:00+00:00"' },
      Id: { string: "id-1" },
      InsertionTime: { json: '"2024-01-01T00:00:00+00:00"' },
      NextVisibleTime: { json: '"2024-01-01T00:10:00+00:00"' },
      PopReceipt: { string: "pop" },
    });
    expect(JSON.parse(sys.json!)).toEqual({ MethodName: "work", UtcNow: "2024-01-01T00:00:01.5Z", RandGuid: expect.any(String) });
  });
  test("dataType binary: bytes, and no QueueTrigger when the body is not UTF-8; a string binding refuses it", () => {
    const bytes = Buffer.from([0xff, 0x01]);
    const d = queueTriggerData(fn("binary"), message, bytes);
    expect(Buffer.from(d.inputData[0].data!.bytes!)).toEqual(bytes);
    expect(d.triggerMetadata.QueueTrigger).toBeUndefined();
    expect(() => queueTriggerData(fn(), message, bytes)).toThrow(/Exception binding parameter 'queueItem'/);
  });
});

describe("queue names and connections", () => {
  test("QueueClientExtensions.ValidateQueueName; poison queue names", () => {
    expect(queueNameError("work-items")).toBeUndefined();
    expect(queueNameError("ab")).toMatch(/3 to 63/);
    expect(queueNameError("-ab")).toMatch(/dash/);
    expect(queueNameError("a--b")).toMatch(/consecutive/);
    expect(queueNameError("a_b")).toMatch(/only letters/);
    expect(poisonQueueName("work-items")).toBe("work-items-poison");
    expect(poisonQueueName("work-items-poison")).toBeUndefined();
    expect(poisonQueueName("a".repeat(60))).toBeUndefined();
  });
  test("a binding's connection: AzureWebJobs<name> first, then <name>, any case; identity-based refused", () => {
    expect(queueConnectionString(undefined, { AzureWebJobsStorage: "cs1" })).toEqual({ name: "AzureWebJobsStorage", value: "cs1" });
    expect(queueConnectionString("Storage", { AzureWebJobsStorage: "cs1", Storage: "cs2" }).value).toBe("cs1");
    expect(queueConnectionString("MyConn", { myconn: "cs3" })).toEqual({ name: "myconn", value: "cs3" });
    expect(() => queueConnectionString("MyConn", { MyConn__queueServiceUri: "https://a.queue.core.windows.net" })).toThrow(
      /identity-based \(MyConn__queueServiceUri\)/,
    );
    expect(() => queueConnectionString("Missing", {})).toThrow(/Storage account connection string 'Missing' does not exist/);
  });
});

describe("app settings over host.json (AzureFunctionsJobHost__…)", () => {
  test("a setting wins over host.json, keys match case-insensitively, missing sections are made", () => {
    const hostJson = { version: "2.0", extensions: { queues: { maxDequeueCount: 5, batchSize: 8 } } };
    const merged = withHostJsonOverrides(hostJson, {
      AzureFunctionsJobHost__extensions__queues__maxDequeueCount: "2",
      AZUREFUNCTIONSJOBHOST__Extensions__Queues__visibilityTimeout: "00:00:03",
      AzureFunctionsJobHost__extensions__durableTask__hubName: "hub2",
      AzureFunctionsJobHost____bad: "ignored",
      OTHER: "x",
    }) as { extensions: { queues: Record<string, unknown>; durableTask: Record<string, unknown> } };
    expect(merged.extensions.queues).toEqual({ maxDequeueCount: "2", batchSize: 8, visibilityTimeout: "00:00:03" });
    expect(merged.extensions.durableTask).toEqual({ hubName: "hub2" });
    expect(hostJson.extensions.queues.maxDequeueCount).toBe(5); // host.json itself untouched
    const options = readQueuesOptions(merged.extensions.queues, { AZURE_FUNCTIONS_ENVIRONMENT: "Development" });
    expect(options.options).toMatchObject({ maxDequeueCount: 2, batchSize: 8, visibilityTimeoutMs: 3000 });
  });
});
