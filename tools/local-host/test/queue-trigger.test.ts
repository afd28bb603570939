/**
 * Queue triggers against a real Azurite queue service: the host's own (started with the host) or, for the
 * host-down case, one this file starts with the compiled payload store. The fixture app (fixture-queues) is copied
 * to a temp folder per host so each test writes its own host.json `extensions.queues`; it records every invocation.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { QueueServiceClient, type QueueClient } from "@azure/storage-queue";
import { azuriteConnectionString } from "../payload-store";
import { buildHost, outputMatching, repoRoot, startHostProcess, tempDir, type HostProcess } from "./harness";

jest.setTimeout(120000);

const fixture = path.join(__dirname, "fixture-queues");

interface Entry {
  fn: string;
  value?: any;
  bytes?: number[];
  meta: Record<string, any>;
  inFlight?: number;
  at: number;
}

/** A copy of the fixture with this host.json `extensions.queues`, resolving packages from the project. */
function queueApp(queues: Record<string, unknown> | undefined): { appDir: string; log: string } {
  const appDir = tempDir("local-host-queues-app-");
  fs.cpSync(fixture, appDir, { recursive: true });
  fs.writeFileSync(
    path.join(appDir, "host.json"),
    JSON.stringify({ version: "2.0", ...(queues ? { extensions: { queues } } : {}) }, null, 2),
  );
  fs.symlinkSync(path.join(repoRoot, "node_modules"), path.join(appDir, "node_modules"), "dir");
  return { appDir, log: path.join(appDir, "invocations.jsonl") };
}

function entries(log: string, fn = "processWork"): Entry[] {
  if (!fs.existsSync(log)) return [];
  return fs
    .readFileSync(log, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Entry)
    .filter((e) => e.fn === fn);
}

async function waitFor<T>(what: string, get: () => T | Promise<T>, ok: (v: T) => boolean, timeoutMs = 20000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await get();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The connection string of the host's Azurite, from its banner. */
function connectionOf(host: HostProcess): string {
  const m = /Azurite blob service http:\/\/127\.0\.0\.1:(\d+)\/devstoreaccount1, queue service http:\/\/127\.0\.0\.1:(\d+)\//.exec(
    host.output(),
  );
  if (!m) throw new Error(`no Azurite in the banner:\n${host.output()}`);
  return azuriteConnectionString(Number(m[1]), Number(m[2]));
}

function queueOf(cs: string, name: string): QueueClient {
  return QueueServiceClient.fromConnectionString(cs).getQueueClient(name);
}

const b64 = (text: string | Buffer) => Buffer.from(text).toString("base64");

/** Puts a message (creating the queue), as a producer using the SDK would; returns its id. */
async function put(q: QueueClient, text: string): Promise<string> {
  await q.createIfNotExists();
  return (await q.sendMessage(text)).messageId;
}

async function messageCount(q: QueueClient): Promise<number> {
  if (!(await q.exists())) return 0;
  return (await q.getProperties()).approximateMessagesCount ?? 0;
}

async function peekAll(q: QueueClient): Promise<string[]> {
  if (!(await q.exists())) return [];
  return (await q.peekMessages({ numberOfMessages: 32 })).peekedMessageItems.map((m) => m.messageText);
}

function startQueueHost(app: { appDir: string; log: string }, dataDir: string, env: Record<string, string> = {}): Promise<HostProcess> {
  return startHostProcess({ appDir: app.appDir, dataDir, env: { AzureWebJobsStorage: "", QUEUE_LOG: app.log, ...env } });
}

beforeAll(() => {
  buildHost();
});

describe("queue trigger with the extension's defaults", () => {
  let host: HostProcess;
  let app: { appDir: string; log: string };
  beforeAll(async () => {
    app = queueApp(undefined);
    host = await startQueueHost(app, tempDir("local-host-queues-"));
  });
  afterAll(async () => {
    await host?.stop();
  });

  test("the banner names the queue endpoint, the settings (2 s polling in Development) and each queue", () => {
    const out = host.output();
    expect(out).toMatch(
      /Payload store: Azurite blob service http:\/\/127\.0\.0\.1:\d+\/devstoreaccount1, queue service http:\/\/127\.0\.0\.1:\d+\/devstoreaccount1, data /,
    );
    expect(out).toMatch(
      /Queue triggers \(host\.json extensions\.queues: batchSize 16, newBatchThreshold \d+, maxPollingInterval 00:00:02, visibilityTimeout 00:00:00, maxDequeueCount 5, messageEncoding base64\):/,
    );
    const queuePort = /queue service http:\/\/127\.0\.0\.1:(\d+)\//.exec(out)![1];
    expect(out).toContain(
      `processWork: queue 'work-items' at http://127.0.0.1:${queuePort}/devstoreaccount1 (AzureWebJobsStorage); poison queue 'work-items-poison'`,
    );
    expect(out).toContain(`processBytes: queue 'byte-items' at http://127.0.0.1:${queuePort}/devstoreaccount1`);
  });

  test("a message is processed once and deleted; the handler gets the decoded body and the trigger metadata", async () => {
    const cs = connectionOf(host);
    const q = queueOf(cs, "work-items");
    const body = { mode: "ok", tag: "first", Upper: { Inner: 1 } };
    await new Promise((r) => setTimeout(r, 2500)); // idle: the poll interval has backed off to its maximum
    const id = await put(q, b64(JSON.stringify(body)));
    const sentAt = Date.now(); // visible from here on
    const [e] = await waitFor(
      "the invocation",
      () => entries(app.log),
      (l) => l.length >= 1,
    );
    // Polling backs off to maxPollingInterval (2 s here) at most.
    expect(e.at - sentAt).toBeLessThan(3500);
    expect(e.value).toEqual(body);
    const meta = e.meta;
    expect(meta.id).toBe(id);
    expect(meta.dequeueCount).toBe(1);
    expect(typeof meta.popReceipt).toBe("string");
    // The library JSON-parses QueueTrigger and camel-cases its keys (the handler's own input keeps them).
    expect(meta.queueTrigger).toEqual({ mode: "ok", tag: "first", upper: { inner: 1 } });
    for (const k of ["insertionTime", "expirationTime", "nextVisibleTime"])
      expect(meta[k]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$/);
    const day = 86_400_000;
    expect(Date.parse(meta.expirationTime) - Date.parse(meta.insertionTime)).toBe(7 * day);
    // Received invisible for 10 minutes (QueueListener's visibility while the function runs).
    expect(Date.parse(meta.nextVisibleTime) - Date.now()).toBeGreaterThan(9 * 60_000);
    expect(meta.sys).toEqual({ methodName: "processWork", utcNow: expect.any(String), randGuid: expect.any(String) });
    await waitFor(
      "the message's deletion",
      () => messageCount(q),
      (n) => n === 0,
    );
    await new Promise((r) => setTimeout(r, 500));
    expect(entries(app.log)).toHaveLength(1);
  });

  test("dataType binary: the handler gets the bytes, and no queueTrigger when they are not UTF-8", async () => {
    const q = queueOf(connectionOf(host), "byte-items");
    await put(q, b64(Buffer.from([0xff, 0x00, 0x7f])));
    const [e] = await waitFor(
      "the invocation",
      () => entries(app.log, "processBytes"),
      (l) => l.length >= 1,
    );
    expect(e.bytes).toEqual([0xff, 0x00, 0x7f]);
    expect(e.meta.queueTrigger).toBeUndefined();
    expect(e.meta.dequeueCount).toBe(1);
    // Polling an empty or missing queue is no error.
    expect(host.output()).not.toMatch(/Error: queue trigger/);
  });
});

describe("failures, visibility timeout and the poison queue", () => {
  let host: HostProcess;
  let app: { appDir: string; log: string };
  let q: QueueClient;
  let poison: QueueClient;
  beforeAll(async () => {
    app = queueApp({ visibilityTimeout: "00:00:01", maxDequeueCount: 3, maxPollingInterval: "00:00:00.200" });
    host = await startQueueHost(app, tempDir("local-host-queues-fail-"));
    const cs = connectionOf(host);
    q = queueOf(cs, "work-items");
    poison = queueOf(cs, "work-items-poison");
  });
  afterAll(async () => {
    await host?.stop();
  });
  const tagged = (tag: string) => entries(app.log).filter((e) => e.value?.tag === tag);

  test("a failing message becomes visible again after visibilityTimeout with its dequeueCount raised, until it succeeds", async () => {
    await put(q, b64(JSON.stringify({ mode: "failTimes", n: 2, tag: "twice" })));
    const seen = await waitFor(
      "three attempts",
      () => tagged("twice"),
      (l) => l.length >= 3,
    );
    expect(seen.map((e) => e.meta.dequeueCount)).toEqual([1, 2, 3]);
    // Released with a 1 s visibility timeout after each failure (the poll runs at most every 200 ms).
    expect(seen[1].at - seen[0].at).toBeGreaterThanOrEqual(900);
    expect(seen[2].at - seen[1].at).toBeGreaterThanOrEqual(900);
    await waitFor(
      "the message's deletion",
      () => messageCount(q),
      (n) => n === 0,
    );
    expect(await peekAll(poison)).toEqual([]);
  });

  test("after maxDequeueCount failures the message is copied to <queue>-poison (created) with the same body and deleted", async () => {
    const text = b64(JSON.stringify({ mode: "fail", tag: "always" }));
    await put(q, text);
    const seen = await waitFor(
      "three attempts",
      () => tagged("always"),
      (l) => l.length >= 3,
    );
    expect(seen.map((e) => e.meta.dequeueCount)).toEqual([1, 2, 3]);
    expect(
      await waitFor(
        "the poison copy",
        () => peekAll(poison),
        (l) => l.includes(text),
      ),
    ).toEqual([text]);
    await waitFor(
      "the message's deletion",
      () => messageCount(q),
      (n) => n === 0,
    );
    await new Promise((r) => setTimeout(r, 1500));
    expect(tagged("always")).toHaveLength(3);
    expect(host.output()).toContain("Warning: Message has reached MaxDequeueCount of 3. Moving message to queue 'work-items-poison'.");
  });

  test("a message that is not base64 goes to the poison queue as it is, without running the function", async () => {
    const before = entries(app.log).length;
    await put(q, "this is not base64!");
    await waitFor(
      "the poison copy",
      () => peekAll(poison),
      (l) => l.includes("this is not base64!"),
    );
    await waitFor(
      "the message's deletion",
      () => messageCount(q),
      (n) => n === 0,
    );
    expect(entries(app.log)).toHaveLength(before);
    expect(host.output()).toMatch(/is not valid base64/);
  });

  test("a body that is not UTF-8 fails the binding each time (the handler never runs), then goes to the poison queue", async () => {
    const before = entries(app.log).length;
    const text = b64(Buffer.from([0xff, 0xfe, 0x00]));
    await put(q, text);
    await waitFor(
      "the poison copy",
      () => peekAll(poison),
      (l) => l.includes(text),
    );
    expect(entries(app.log)).toHaveLength(before);
    await outputMatching(host, "Exception binding parameter");
    // The library names the trigger binding queueTrigger<hash>.
    expect(host.output().match(/Exception binding parameter 'queueTrigger[0-9a-f]+'/g)?.length).toBeGreaterThanOrEqual(3);
  });
});

describe("batchSize, newBatchThreshold and a host that was down", () => {
  test("messages put while the host is down are processed after its restart, at most batchSize + newBatchThreshold at once; one already dequeued over maxDequeueCount goes to the poison queue unprocessed", async () => {
    // A separate Azurite (the compiled payload store), so that messages can arrive while the host is down.
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- the compiled module forks itself (a .ts file cannot)
    const { startPayloadStore } = require(path.join(buildHost(), "payload-store.js")) as typeof import("../payload-store");
    const store = await startPayloadStore({ location: tempDir("local-host-queues-azurite-"), resolveFrom: [repoRoot] });
    try {
      const app = queueApp({ batchSize: 2, newBatchThreshold: 0, maxPollingInterval: "00:00:00.200", maxDequeueCount: 2 });
      const dataDir = tempDir("local-host-queues-down-");
      const env = { AzureWebJobsStorage: store.connectionString };
      const q = queueOf(store.connectionString, "work-items");
      const first = await startQueueHost(app, dataDir, env);
      expect(first.output()).toContain("AzureWebJobsStorage: external account 'devstoreaccount1' (no Azurite started).");
      expect(first.output()).toContain("batchSize 2, newBatchThreshold 0, maxPollingInterval 00:00:00.2000000");
      await put(q, b64(JSON.stringify({ mode: "ok", tag: "up" })));
      await waitFor(
        "the first message",
        () => entries(app.log),
        (l) => l.length === 1,
      );
      expect(await first.stop()).toBe(0);

      // Dequeued three times by another consumer that never deleted it (dequeueCount 3 > maxDequeueCount 2).
      const stale = b64(JSON.stringify({ mode: "ok", tag: "stale" }));
      await put(q, stale);
      for (let i = 0; i < 3; i++) {
        expect((await q.receiveMessages({ visibilityTimeout: 1 })).receivedMessageItems.map((m) => m.dequeueCount)).toEqual([i + 1]);
        await new Promise((r) => setTimeout(r, 1100));
      }
      for (let i = 0; i < 6; i++) await put(q, b64(JSON.stringify({ mode: "ok", tag: `down-${i}`, sleepMs: 400 })));
      await new Promise((r) => setTimeout(r, 300));
      expect(await messageCount(q)).toBe(7);

      const second = await startQueueHost(app, dataDir, env);
      try {
        const all = await waitFor(
          "six invocations",
          () => entries(app.log).filter((e) => e.value?.tag?.startsWith("down-")),
          (l) => l.length === 6,
        );
        expect(new Set(all.map((e) => e.value.tag)).size).toBe(6);
        // batchSize 2 and newBatchThreshold 0: two at a time, the next batch only once both are done.
        expect(Math.max(...all.map((e) => e.inFlight!))).toBe(2);
        await waitFor(
          "the messages' deletion",
          () => messageCount(q),
          (n) => n === 0,
        );
        expect(await peekAll(queueOf(store.connectionString, "work-items-poison"))).toEqual([stale]);
        expect(entries(app.log).filter((e) => e.value?.tag === "stale")).toEqual([]);
      } finally {
        await second.stop();
      }
    } finally {
      await store.stop();
    }
  });
});

describe("messageEncoding none and a short maxPollingInterval", () => {
  let host: HostProcess;
  let app: { appDir: string; log: string };
  beforeAll(async () => {
    app = queueApp({ messageEncoding: "none", maxPollingInterval: "00:00:00.300", maxDequeueCount: 1 });
    host = await startQueueHost(app, tempDir("local-host-queues-none-"));
  });
  afterAll(async () => {
    await host?.stop();
  });

  test("the message text is the body as it is; a failed one goes to the poison queue as it is", async () => {
    const cs = connectionOf(host);
    const q = queueOf(cs, "work-items");
    await put(q, "aGVsbG8="); // base64-looking text is not decoded
    await new Promise((r) => setTimeout(r, 2000)); // idle
    const failing = JSON.stringify({ mode: "fail", tag: "raw" });
    await put(q, failing);
    const sentAt = Date.now(); // visible from here on
    const seen = await waitFor(
      "two invocations",
      () => entries(app.log),
      (l) => l.length >= 2,
    );
    expect(seen[0].value).toBe("aGVsbG8=");
    expect(seen[1].value).toEqual({ mode: "fail", tag: "raw" });
    // maxPollingInterval 300 ms: picked up well within a second even after idling.
    expect(seen[1].at - sentAt).toBeLessThan(1500);
    // maxDequeueCount 1: the first failure moves it.
    expect(
      await waitFor(
        "the poison copy",
        () => peekAll(queueOf(cs, "work-items-poison")),
        (l) => l.length === 1,
      ),
    ).toEqual([failing]);
    await waitFor(
      "the message's deletion",
      () => messageCount(q),
      (n) => n === 0,
    );
  });
});

describe("settings the extension refuses", () => {
  test("an invalid host.json extensions.queues value stops the start, naming the setting", async () => {
    const app = queueApp({ batchSize: 64 });
    await expect(startQueueHost(app, tempDir("local-host-queues-bad-"))).rejects.toThrow(
      /host\.json extensions\.queues\.batchSize is 64; it must be from 1 to 32/,
    );
  });
});
