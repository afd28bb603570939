/**
 * WEBSITE_HOSTNAME, when already set, names the Durable webhook URLs (binding data, management URLs) as in Azure,
 * while the durable client keeps using the loopback RPC endpoint. Here it names a port that refuses connections: the
 * app works all the same, so it never calls the public webhook URLs.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { applyAppSettings } from "../settings";
import { extensionWebhookUri } from "../webhook-uri";
import { buildHost, fixtureApp, freePort, json, pollUntil, startHostProcess, tempDir, type HostProcess } from "./harness";

jest.setTimeout(60000);

test("the scheme rule of DefaultScriptWebHookProvider: http for localhost:<port>, https otherwise; ?code= with a key", () => {
  expect(extensionWebhookUri("localhost:7071", "durabletask").href).toBe("http://localhost:7071/runtime/webhooks/durabletask");
  expect(extensionWebhookUri("LocalHost:1", "durabletask").protocol).toBe("http:");
  expect(extensionWebhookUri("myapp.azurewebsites.net", "durabletask", "k_-==").href).toBe(
    "https://myapp.azurewebsites.net/runtime/webhooks/durabletask?code=k_-==",
  );
  expect(extensionWebhookUri("127.0.0.1:7071", "durabletask").protocol).toBe("https:");
  expect(() => extensionWebhookUri("http://x/y", "durabletask")).toThrow(/WEBSITE_HOSTNAME 'http:\/\/x\/y' does not make a webhook URL/);
});

test("applyAppSettings keeps a WEBSITE_HOSTNAME from local.settings.json or the environment, else localhost:<port>", () => {
  const appDir = tempDir("local-host-settings-");
  const write = (values: Record<string, string>) =>
    fs.writeFileSync(path.join(appDir, "local.settings.json"), JSON.stringify({ IsEncrypted: false, Values: values }));
  const run = (env: NodeJS.ProcessEnv) => (applyAppSettings(appDir, 7071, env, () => undefined), env.WEBSITE_HOSTNAME);
  write({ WEBSITE_HOSTNAME: "app.example.net" });
  expect(run({})).toBe("app.example.net");
  expect(run({ WEBSITE_HOSTNAME: "real.example.net" })).toBe("real.example.net");
  write({ WEBSITE_HOSTNAME: "" });
  expect(run({})).toBe("localhost:7071");
});

describe("the host with WEBSITE_HOSTNAME=localhost:<refused port>", () => {
  let host: HostProcess;
  let publicPort: number;
  beforeAll(async () => {
    buildHost();
    publicPort = await freePort(); // nothing listens there: calls to it are refused
    host = await startHostProcess({
      appDir: fixtureApp,
      dataDir: tempDir("local-host-hostname-"),
      env: { WEBSITE_HOSTNAME: `localhost:${publicPort}` },
    });
  });
  afterAll(async () => {
    if (host) await host.stop();
  });

  test("the binding's URLs use WEBSITE_HOSTNAME; rpcBaseUrl stays the loopback listener", async () => {
    const { binding, payload } = await json(await fetch(`${host.url}/api/client/abc/urls`));
    const base = `http://localhost:${publicPort}/runtime/webhooks/durabletask`;
    expect(binding.baseUrl).toBe(base);
    expect(binding.creationUrls.createNewInstancePostUri).toBe(`${base}/orchestrators/{functionName}[/{instanceId}]?`);
    expect(binding.managementUrls.statusQueryGetUri).toBe(`${base}/instances/INSTANCEID?taskHub=FixtureHub&connection=Storage`);
    expect(binding.rpcBaseUrl).toBe(host.rpcBaseUrl);
    expect(binding.rpcBaseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/durabletask\/$/);
    expect(payload.sendEventPostUri).toBe(`${base}/instances/abc/raiseEvent/{eventName}?taskHub=FixtureHub&connection=Storage`);
    expect(host.output()).toContain(`Durable webhook URLs use WEBSITE_HOSTNAME: ${base} (the durable client uses the local RPC endpoint).`);
  });

  test("start, status, events through the durable client all work: the app never calls the public URLs", async () => {
    const res = await fetch(`${host.url}/api/orchestrators/fixtureOrchestrator?id=hn-1`, {
      method: "POST",
      body: JSON.stringify({ waitForEvent: true, timerMs: 10 }),
    });
    expect(res.status).toBe(202);
    const started = await json(res);
    // createCheckStatusResponse puts the request's origin on the binding's URLs (durable-functions getClientResponseLinks).
    expect(started.statusQueryGetUri).toBe(`${host.url}/runtime/webhooks/durabletask/instances/hn-1?taskHub=FixtureHub&connection=Storage`);
    expect(res.headers.get("location")).toBe(started.statusQueryGetUri);
    await pollUntil(`${host.url}/api/client/hn-1`, (b) => b?.status?.customStatus?.phase === "waiting");
    expect((await fetch(`${host.url}/api/client/hn-1/events/approval`, { method: "POST", body: '"yes"' })).status).toBe(202);
    const { body } = await pollUntil(`${host.url}/api/client/hn-1`, (b) => b?.status?.runtimeStatus === "Completed");
    expect(body.status.output.approval).toBe("yes");
    // The public webhooks themselves still answer on this host, with Location at the request's origin.
    const status = await fetch(`${host.url}/runtime/webhooks/durabletask/instances/hn-1`);
    expect(status.status).toBe(200);
  });
});
