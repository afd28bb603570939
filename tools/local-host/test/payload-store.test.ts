/** The payload store and the queues: Azurite's blob and queue services the host starts when AzureWebJobsStorage names no account. */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { BlobServiceClient } from "@azure/storage-blob";
import { QueueServiceClient } from "@azure/storage-queue";
import { parseArgs } from "../cli";
import { azuriteConnectionString, storageTarget, type startPayloadStore as StartPayloadStore } from "../payload-store";
import { buildHost, fixtureApp, json, startHostProcess, tempDir, type HostProcess } from "./harness";

jest.setTimeout(90000);

const REAL = "DefaultEndpointsProtocol=https;AccountName=realacct;AccountKey=aGVsbG8=;EndpointSuffix=core.windows.net";

describe("which account AzureWebJobsStorage names", () => {
  test("unset, empty or UseDevelopmentStorage=true (any case, with a proxy URI) → the local host provides Azurite", () => {
    expect(storageTarget({}).kind).toBe("local");
    expect(storageTarget({ AzureWebJobsStorage: "" }).kind).toBe("local");
    expect(storageTarget({ AzureWebJobsStorage: "  " }).kind).toBe("local");
    expect(storageTarget({ AzureWebJobsStorage: "UseDevelopmentStorage=true" }).kind).toBe("local");
    expect(storageTarget({ AzureWebJobsStorage: "usedevelopmentstorage=TRUE;" }).kind).toBe("local");
    expect(storageTarget({ AzureWebJobsStorage: "UseDevelopmentStorage=true;DevelopmentStorageProxyUri=http://myproxy" }).kind).toBe(
      "local",
    );
  });
  test("a connection string or an identity-based connection → external, nothing started", () => {
    expect(storageTarget({ AzureWebJobsStorage: REAL })).toEqual({ kind: "external", account: "realacct" });
    expect(storageTarget({ AzureWebJobsStorage: "UseDevelopmentStorage=false" }).kind).toBe("external");
    expect(storageTarget({ AzureWebJobsStorage__blobServiceUri: "https://idacct.blob.core.windows.net" })).toEqual({
      kind: "external",
      account: "idacct",
    });
    expect(storageTarget({ AzureWebJobsStorage__accountName: "named" })).toEqual({ kind: "external", account: "named" });
    expect(storageTarget({ AzureWebJobsStorage__credential: "managedidentity" }).kind).toBe("local");
  });
  test("an identity-based queue connection names an account too", () => {
    expect(storageTarget({ AzureWebJobsStorage__queueServiceUri: "https://qacct.queue.core.windows.net" })).toEqual({
      kind: "external",
      account: "qacct",
    });
  });
  test("the explicit Azurite connection string for the blob and queue ports", () => {
    expect(azuriteConnectionString(41000, 41001)).toBe(
      "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;" +
        "BlobEndpoint=http://127.0.0.1:41000/devstoreaccount1;QueueEndpoint=http://127.0.0.1:41001/devstoreaccount1;",
    );
  });
  test("CLI: --no-azurite, --azurite-port, --azurite-queue-port", () => {
    expect(parseArgs([], {}).azurite).toBe(true);
    expect(parseArgs(["--no-azurite"], {}).azurite).toBe(false);
    expect(parseArgs(["--azurite-port", "10010"], {}).azuritePort).toBe(10010);
    expect(parseArgs(["--azurite-queue-port", "10011"], {}).azuriteQueuePort).toBe(10011);
    expect(() => parseArgs(["--azurite-port", "x"], {})).toThrow(/Invalid port/);
    expect(() => parseArgs(["--azurite-queue-port", "-1"], {})).toThrow(/Invalid port/);
  });
});

/** The banner's payload-store line: Azurite's blob and queue ports, data folder and pid. */
function azuriteOf(host: HostProcess): { port: number; queuePort: number; location: string; pid: number } {
  const m =
    /Payload store: Azurite blob service http:\/\/127\.0\.0\.1:(\d+)\/devstoreaccount1, queue service http:\/\/127\.0\.0\.1:(\d+)\/devstoreaccount1, data (.+) \(pid (\d+)\)/.exec(
      host.output(),
    );
  if (!m) throw new Error(`no Azurite in the banner:\n${host.output()}`);
  return { port: Number(m[1]), queuePort: Number(m[2]), location: m[3], pid: Number(m[4]) };
}

async function peekText(cs: string, queue: string): Promise<string[]> {
  const r = await QueueServiceClient.fromConnectionString(cs).getQueueClient(queue).peekMessages({ numberOfMessages: 32 });
  return r.peekedMessageItems.map((m) => m.messageText);
}

async function appSetting(host: HostProcess, name: string): Promise<string | null> {
  return (await json(await fetch(`${host.url}/api/env/${name}`))).value;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function gone(pid: number, withinMs: number): Promise<boolean> {
  const t0 = Date.now();
  while (Date.now() - t0 < withinMs) {
    if (!alive(pid)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return !alive(pid);
}

async function writeBlob(cs: string, container: string, name: string, text: string): Promise<void> {
  const c = BlobServiceClient.fromConnectionString(cs).getContainerClient(container);
  await c.createIfNotExists();
  await c.getBlockBlobClient(name).upload(text, Buffer.byteLength(text));
}

async function readBlob(cs: string, container: string, name: string): Promise<string> {
  const buf = await BlobServiceClient.fromConnectionString(cs).getContainerClient(container).getBlobClient(name).downloadToBuffer();
  return buf.toString("utf8");
}

describe("the host starts Azurite for the app", () => {
  beforeAll(() => {
    buildHost();
  });

  test("the app gets the connection string for Azurite's ports; blobs and queue messages survive a restart and a kill -9 of the host", async () => {
    const dataDir = tempDir("local-host-azurite-");
    const first = await startHostProcess({ appDir: fixtureApp, dataDir, env: { AzureWebJobsStorage: "" } });
    let cs: string;
    try {
      const az = azuriteOf(first);
      expect(az.location).toBe(path.join(dataDir, "azurite"));
      cs = (await appSetting(first, "AzureWebJobsStorage"))!;
      expect(cs).toBe(azuriteConnectionString(az.port, az.queuePort));
      expect(az.queuePort).not.toBe(az.port);
      expect([az.port, az.queuePort]).not.toContain(10000);
      expect([az.port, az.queuePort]).not.toContain(10001);
      await writeBlob(cs, "payloads", "req/1.json", '{"n":1}');
      const q = QueueServiceClient.fromConnectionString(cs).getQueueClient("kept");
      await q.createIfNotExists();
      await q.sendMessage("m1");
      expect(await first.stop("SIGTERM")).toBe(0);
      expect(await gone(az.pid, 2000)).toBe(true);
    } finally {
      await first.stop("SIGKILL");
    }
    expect(fs.existsSync(path.join(dataDir, "azurite", "__azurite_db_blob__.json"))).toBe(true);
    expect(fs.existsSync(path.join(dataDir, "azurite", "__azurite_db_queue__.json"))).toBe(true);

    const second = await startHostProcess({ appDir: fixtureApp, dataDir, env: { AzureWebJobsStorage: "" } });
    try {
      const az = azuriteOf(second);
      const cs2 = (await appSetting(second, "AzureWebJobsStorage"))!;
      expect(await readBlob(cs2, "payloads", "req/1.json")).toBe('{"n":1}');
      expect(await peekText(cs2, "kept")).toEqual(["m1"]);
      // Written less than Azurite's 5 s metadata autosave before the host dies: the child flushes on the way out.
      await writeBlob(cs2, "payloads", "req/2.json", '{"n":2}');
      await QueueServiceClient.fromConnectionString(cs2).getQueueClient("kept").sendMessage("m2");
      await second.stop("SIGKILL");
      expect(await gone(az.pid, 3000)).toBe(true);
    } finally {
      await second.stop("SIGKILL");
    }

    const third = await startHostProcess({ appDir: fixtureApp, dataDir, env: { AzureWebJobsStorage: "UseDevelopmentStorage=true" } });
    try {
      const cs3 = (await appSetting(third, "AzureWebJobsStorage"))!;
      expect(cs3).toBe(azuriteConnectionString(azuriteOf(third).port, azuriteOf(third).queuePort));
      expect(await readBlob(cs3, "payloads", "req/1.json")).toBe('{"n":1}');
      expect(await readBlob(cs3, "payloads", "req/2.json")).toBe('{"n":2}');
      expect(await peekText(cs3, "kept")).toEqual(["m1", "m2"]);
    } finally {
      await third.stop();
    }
  });

  test("a host started at once after a kill -9 of the last one waits for its Azurite to save and exit, and sees every blob", async () => {
    const dataDir = tempDir("local-host-az-restart-");
    const first = await startHostProcess({ appDir: fixtureApp, dataDir, env: { AzureWebJobsStorage: "" } });
    const old = azuriteOf(first);
    const ownerFile = path.join(dataDir, "azurite", "azurite.pid");
    expect(fs.readFileSync(ownerFile, "utf8").split(" ")[0]).toBe(String(old.pid));
    const cs = (await appSetting(first, "AzureWebJobsStorage"))!;
    for (let i = 0; i < 20; i++) await writeBlob(cs, "payloads", `late/${i}.json`, `{"i":${i}}`); // within the 5 s autosave
    // The old Azurite is held (as a busy machine would) so that it cannot save before the new host starts.
    process.kill(old.pid, "SIGSTOP");
    let second: HostProcess | undefined;
    try {
      await first.kill9();
      const starting = startHostProcess({ appDir: fixtureApp, dataDir, env: { AzureWebJobsStorage: "" } }).then((h) => (second = h));
      await new Promise((resolve) => setTimeout(resolve, 2500));
      expect(second).toBeUndefined(); // waiting for the old Azurite, which still owns the location
      expect(fs.readFileSync(ownerFile, "utf8").split(" ")[0]).toBe(String(old.pid));
      process.kill(old.pid, "SIGCONT"); // it sees its host gone, saves and exits; then the new host starts its own
      await starting;
      const cs2 = (await appSetting(second!, "AzureWebJobsStorage"))!;
      for (let i = 0; i < 20; i++) expect(await readBlob(cs2, "payloads", `late/${i}.json`)).toBe(`{"i":${i}}`);
      expect(fs.readFileSync(ownerFile, "utf8").split(" ")[0]).toBe(String(azuriteOf(second!).pid));
    } finally {
      if (alive(old.pid)) process.kill(old.pid, "SIGCONT");
      await second?.stop();
    }
    expect(fs.existsSync(ownerFile)).toBe(false); // saved and gone: the location is free
  });

  test("an Azurite that still serves the location holds a new one off, then a clear error; a dead one's file is ignored", async () => {
    const location = tempDir("local-host-az-owner-");
    // The built module: it runs Azurite in a child process of its own file, which must be JavaScript.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { startPayloadStore } = require(path.join(buildHost(), "payload-store.js")) as { startPayloadStore: typeof StartPayloadStore };
    const sleeper = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)"], { stdio: "ignore" });
    try {
      fs.writeFileSync(path.join(location, "azurite.pid"), String(sleeper.pid));
      const started = Date.now();
      await expect(startPayloadStore({ location, ownerWaitMs: 300 })).rejects.toThrow(
        `Another Azurite (pid ${sleeper.pid}) still serves ${location}: another local host uses this data directory.`,
      );
      expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    } finally {
      sleeper.kill("SIGKILL");
      await new Promise((resolve) => sleeper.once("exit", resolve));
    }
    // Killed itself (kill -9 of Azurite or of the machine): its file names a dead process, and is ignored.
    const store = await startPayloadStore({ location, ownerWaitMs: 300 });
    try {
      expect(fs.readFileSync(path.join(location, "azurite.pid"), "utf8").split(" ")[0]).toBe(String(store.pid));
    } finally {
      await store.stop();
    }
  });

  test("two hosts at once get different Azurite ports (blob and queue)", async () => {
    const [a, b] = await Promise.all([
      startHostProcess({ appDir: fixtureApp, dataDir: tempDir("local-host-az-a-"), env: { AzureWebJobsStorage: "" } }),
      startHostProcess({ appDir: fixtureApp, dataDir: tempDir("local-host-az-b-"), env: { AzureWebJobsStorage: "" } }),
    ]);
    try {
      const [za, zb] = [azuriteOf(a), azuriteOf(b)];
      expect(new Set([za.port, za.queuePort, zb.port, zb.queuePort]).size).toBe(4);
      expect(await appSetting(a, "AzureWebJobsStorage")).toBe(azuriteConnectionString(za.port, za.queuePort));
      expect(await appSetting(b, "AzureWebJobsStorage")).toBe(azuriteConnectionString(zb.port, zb.queuePort));
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  test("a real connection string: no Azurite, the app keeps its setting", async () => {
    const dataDir = tempDir("local-host-az-real-");
    const host = await startHostProcess({ appDir: fixtureApp, dataDir, env: { AzureWebJobsStorage: REAL } });
    try {
      expect(host.output()).toContain("Payload store: AzureWebJobsStorage: external account 'realacct' (no Azurite started).");
      expect(await appSetting(host, "AzureWebJobsStorage")).toBe(REAL);
      expect(fs.existsSync(path.join(dataDir, "azurite"))).toBe(false);
    } finally {
      await host.stop();
    }
  });

  test("--no-azurite: nothing started, the setting left as it was", async () => {
    const dataDir = tempDir("local-host-az-off-");
    const host = await startHostProcess({
      appDir: fixtureApp,
      dataDir,
      env: { AzureWebJobsStorage: "UseDevelopmentStorage=true" },
      args: ["--no-azurite"],
    });
    try {
      expect(host.output()).toContain(
        "Payload store: Azurite not started (--no-azurite); AzureWebJobsStorage is 'UseDevelopmentStorage=true'.",
      );
      expect(await appSetting(host, "AzureWebJobsStorage")).toBe("UseDevelopmentStorage=true");
      expect(fs.existsSync(path.join(dataDir, "azurite"))).toBe(false);
    } finally {
      await host.stop();
    }
  });
});
