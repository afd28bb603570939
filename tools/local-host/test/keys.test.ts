/** Key-enforcing mode (--require-keys): the secrets file, which key opens what, and the host over HTTP. */
import * as fs from "node:fs";
import * as path from "node:path";
import { authLevelOf, presentedKey, satisfies } from "../auth";
import { parseArgs } from "../cli";
import { generateKeyValue, hostSecretsPath, KeyStore, readHostKeys } from "../keys";
import { buildHost, fixtureApp, json, pollUntil, startHostProcess, tempDir, type HostProcess } from "./harness";

jest.setTimeout(60000);

describe("keys.ts: the host's secrets file", () => {
  test("a key is 40 random bytes in URL-safe base64 with its padding, as SecretGenerator makes them", () => {
    const k = generateKeyValue();
    expect(k).toMatch(/^[A-Za-z0-9_-]{54}==$/);
    expect(generateKeyValue()).not.toBe(k);
  });

  test("made on first open in <data-dir>/secrets/host.json, in the host's shape; reused after", () => {
    const dataDir = tempDir("local-host-keys-");
    const store = KeyStore.open(dataDir, "localhost:7071");
    const file = hostSecretsPath(dataDir);
    expect(file).toBe(path.join(dataDir, "secrets", "host.json"));
    const json = JSON.parse(fs.readFileSync(file, "utf8"));
    expect(json).toEqual({
      masterKey: { name: "master", value: store.keys.master, encrypted: false },
      functionKeys: [{ name: "default", value: store.keys.function, encrypted: false }],
      systemKeys: [{ name: "durabletask_extension", value: store.keys.system, encrypted: false }],
      hostName: "localhost:7071",
      instanceId: process.env.WEBSITE_INSTANCE_ID ?? null,
      source: "runtime",
      decryptionKeyId: "",
    });
    expect(new Set(Object.values(store.keys)).size).toBe(3);
    expect(KeyStore.open(dataDir, "other:1").keys).toEqual(store.keys);
    expect(readHostKeys(dataDir)).toEqual(store.keys);
  });

  test("match: master (admin), system, host function keys, then the function's own keys (made on first use)", () => {
    const dataDir = tempDir("local-host-keys-");
    const store = KeyStore.open(dataDir, "localhost:1");
    expect(store.match(store.keys.master, "f")).toEqual({ level: "admin", name: "master" });
    expect(store.match(store.keys.system)).toEqual({ level: "system", name: "durabletask_extension" });
    expect(store.match(store.keys.function, "f")).toEqual({ level: "function", name: "default" });
    expect(store.match("nope", "f")).toBeUndefined();
    const own = JSON.parse(fs.readFileSync(path.join(dataDir, "secrets", "f.json"), "utf8"));
    expect(own).toMatchObject({ keys: [{ name: "default", encrypted: false }], source: "runtime" });
    expect(store.match(own.keys[0].value, "F")).toEqual({ level: "function", name: "default" });
    expect(store.match(own.keys[0].value, "g")).toBeUndefined();
    expect(store.match(own.keys[0].value)).toBeUndefined();
  });

  test("keys added to the file by hand count; a file of another shape is refused, not overwritten", () => {
    const dataDir = tempDir("local-host-keys-");
    const file = hostSecretsPath(dataDir);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const master = { name: "master", value: "m", encrypted: false };
    fs.writeFileSync(file, JSON.stringify({ masterKey: master, functionKeys: [{ name: "ci", value: "c", encrypted: false }] }));
    const store = KeyStore.open(dataDir, "localhost:1");
    expect(store.match("c", "f")).toEqual({ level: "function", name: "ci" });
    expect(store.keys.master).toBe("m");
    expect(JSON.parse(fs.readFileSync(file, "utf8")).systemKeys[0].name).toBe("durabletask_extension");

    fs.writeFileSync(file, JSON.stringify({ masterKey: "m" }));
    expect(() => KeyStore.open(dataDir, "localhost:1")).toThrow(/is not a host secrets file of the Functions host's shape; delete it/);
    fs.writeFileSync(file, JSON.stringify({ masterKey: { ...master, encrypted: true }, functionKeys: [] }));
    expect(() => KeyStore.open(dataDir, "localhost:1")).toThrow(/encrypted keys/);
    expect(() => readHostKeys(tempDir("local-host-keys-"))).toThrow(/does not exist: start the local host with --require-keys/);
  });
});

describe("auth.ts: which key opens what", () => {
  const url = (q: string) => new URL(`http://h/api/x${q}`);
  test("the x-functions-key header wins whenever it is there; else the first `code`, any case", () => {
    expect(presentedKey({ "x-functions-key": "h" }, url("?code=q"))).toBe("h");
    expect(presentedKey({ "x-functions-key": "" }, url("?code=q"))).toBeUndefined();
    expect(presentedKey({}, url("?CODE=a&code=b"))).toBe("a");
    expect(presentedKey({}, url("?codes=a"))).toBeUndefined();
  });

  test("levels as AuthUtility.PrincipalHasAuthLevelClaim: master opens all; a system key is no function key", () => {
    const admin = { level: "admin" as const, name: "master" };
    const system = { level: "system" as const, name: "durabletask_extension" };
    const fn = { level: "function" as const, name: "default" };
    expect(satisfies(undefined, "anonymous")).toBe(true);
    expect(satisfies(undefined, "function")).toBe(false);
    expect(satisfies(admin, "function")).toBe(true);
    expect(satisfies(fn, "function")).toBe(true);
    expect(satisfies(system, "function")).toBe(false);
    expect(satisfies(fn, "admin")).toBe(false);
    expect(satisfies(system, "system", "durabletask_extension")).toBe(true);
    expect(satisfies(system, "system", "other_extension")).toBe(false);
    expect(satisfies(admin, "system", "other_extension")).toBe(true);
    expect(authLevelOf(undefined)).toBe("function");
    expect(authLevelOf("Anonymous")).toBe("anonymous");
    expect(authLevelOf("bogus")).toBe("admin");
  });

  test("CLI: --require-keys, else LOCAL_HOST_REQUIRE_KEYS", () => {
    expect(parseArgs([], {}).requireKeys).toBe(false);
    expect(parseArgs(["--require-keys"], {}).requireKeys).toBe(true);
    expect(parseArgs([], { LOCAL_HOST_REQUIRE_KEYS: "1" }).requireKeys).toBe(true);
    expect(parseArgs([], { LOCAL_HOST_REQUIRE_KEYS: "0" }).requireKeys).toBe(false);
    expect(() => parseArgs([], { LOCAL_HOST_REQUIRE_KEYS: "maybe" })).toThrow(/Invalid LOCAL_HOST_REQUIRE_KEYS/);
  });
});

describe("the host with --require-keys", () => {
  let host: HostProcess;
  const dataDir = tempDir("local-host-keyed-");
  beforeAll(async () => {
    buildHost();
    host = await startHostProcess({ appDir: fixtureApp, dataDir, requireKeys: true });
  });
  afterAll(async () => {
    if (host) await host.stop();
  });
  const keys = () => host.keys!;
  const get = (p: string, headers: Record<string, string> = {}) => fetch(`${host.url}${p}`, { headers });

  test("the banner prints the keys and their file; the harness reads the same keys", () => {
    expect(host.keys).toEqual(readHostKeys(dataDir));
    const out = host.output();
    expect(out).toContain(`Keys are required (--require-keys), as in Azure; they are kept in ${hostSecretsPath(dataDir)}:`);
    expect(out).toContain(`\tmaster key (admin routes, /admin/*, every function): ${keys().master}`);
    expect(out).toContain(`\tsystem key 'durabletask_extension' (/runtime/webhooks/durabletask): ${keys().system}`);
  });

  test("authLevel function: a host function key, the function's own key or the master key; else 401 with no body", async () => {
    for (const res of [await get("/api/keyed"), await get("/api/keyed?code=wrong"), await get(`/api/keyed?code=${keys().system}`)]) {
      expect(res.status).toBe(401);
      expect(await res.text()).toBe("");
      expect(res.headers.get("www-authenticate")).toBeNull();
    }
    expect(await (await get("/api/keyed", { "x-functions-key": keys().function })).text()).toBe("keyed ok");
    expect((await get(`/api/keyed?CODE=${keys().function}`)).status).toBe(200);
    expect((await get(`/api/keyed?code=${keys().master}`)).status).toBe(200);
    // The header wins over the query: a wrong header fails even with a good code.
    expect((await get(`/api/keyed?code=${keys().function}`, { "x-functions-key": "wrong" })).status).toBe(401);
    const own = JSON.parse(fs.readFileSync(path.join(dataDir, "secrets", "keyed.json"), "utf8")).keys[0].value;
    expect((await get(`/api/keyed?code=${own}`)).status).toBe(200);
    expect((await get(`/api/admin-only?code=${own}`)).status).toBe(401);
  });

  test("authLevel admin: the master key only; anonymous routes need nothing; unmatched routes stay 404", async () => {
    expect((await get(`/api/admin-only?code=${keys().function}`)).status).toBe(401);
    expect(await (await get(`/api/admin-only?code=${keys().master}`)).text()).toBe("admin ok");
    expect((await get("/api/hello/anon")).status).toBe(200);
    expect((await get("/api/hello/anon?code=wrong")).status).toBe(200);
    expect((await get("/api/nowhere")).status).toBe(404);
  });

  test("/admin/*: the master key; none → 401 + WWW-Authenticate: Bearer, another valid key → 403", async () => {
    const none = await get("/admin/host/status");
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toBe("Bearer");
    expect(await none.text()).toBe("");
    expect((await get("/admin/host/status", { "x-functions-key": keys().function })).status).toBe(403);
    expect((await get(`/admin/host/status?code=${keys().system}`)).status).toBe(403);
    const ok = await get("/admin/host/status", { "x-functions-key": keys().master });
    expect(await json(ok)).toMatchObject({ state: "Running" });
  });

  test("Durable webhooks: the system key durabletask_extension or the master key", async () => {
    const list = "/runtime/webhooks/durabletask/instances";
    const none = await get(list);
    expect([none.status, none.headers.get("www-authenticate")]).toEqual([401, "Bearer"]);
    expect((await get(`${list}?code=${keys().function}`)).status).toBe(403);
    expect((await get(`${list}?code=${keys().system}`)).status).toBe(200);
    expect((await get(list, { "x-functions-key": keys().master })).status).toBe(200);
    // Another extension's webhook wants its own system key.
    expect((await get(`/runtime/webhooks/eventgrid?code=${keys().system}`)).status).toBe(403);
  });

  test("the binding carries code=<system key>; check-status URLs work against this host; the RPC endpoint needs no key", async () => {
    const urls = await json(await get("/api/client/abc/urls"));
    expect(urls.binding.requiredQueryStringParameters).toBe(`code=${keys().system}`);
    expect(urls.binding.creationUrls.createNewInstancePostUri).toMatch(
      new RegExp(`/orchestrators/\\{functionName\\}\\[/\\{instanceId\\}\\]\\?code=${keys().system}$`),
    );
    expect(urls.payload.statusQueryGetUri).toBe(
      `http://localhost:${host.port}/runtime/webhooks/durabletask/instances/abc?taskHub=FixtureHub&connection=Storage&code=${keys().system}`,
    );

    const res = await fetch(`${host.url}/api/orchestrators/fixtureOrchestrator?id=keyed-1`, { method: "POST", body: "{}" });
    expect(res.status).toBe(202);
    const started = await json(res);
    expect(started.statusQueryGetUri).toContain(`code=${keys().system}`);
    const { body } = await pollUntil(started.statusQueryGetUri, (b) => b?.runtimeStatus === "Completed");
    expect(body.output.sequence).toEqual(["Hello Tokyo!", "Hello Seattle!"]);

    const rpc = await fetch(`${host.rpcBaseUrl}instances/keyed-1`);
    expect(rpc.status).toBe(200);
    const webhookStart = await fetch(`${host.url}/runtime/webhooks/durabletask/orchestrators/fixtureOrchestrator?code=${keys().system}`, {
      method: "POST",
      body: "{}",
    });
    expect(webhookStart.status).toBe(202);
    expect((await json(webhookStart)).purgeHistoryDeleteUri).toContain(`code=${keys().system}`);
  });

  test("the same keys after a restart on the same data dir", async () => {
    const before = host.keys;
    await host.stop();
    host = await startHostProcess({ appDir: fixtureApp, dataDir, requireKeys: true });
    expect(host.keys).toEqual(before);
    expect((await get(`/api/keyed?code=${before!.function}`)).status).toBe(200);
  });
});

test("without --require-keys nothing is enforced and no secrets are written", async () => {
  buildHost();
  const dataDir = tempDir("local-host-nokeys-");
  const host = await startHostProcess({ appDir: fixtureApp, dataDir });
  try {
    expect(host.keys).toBeUndefined();
    expect((await fetch(`${host.url}/api/admin-only`)).status).toBe(200);
    expect((await fetch(`${host.url}/admin/host/status`)).status).toBe(200);
    const urls = await json(await fetch(`${host.url}/api/client/abc/urls`));
    expect(urls.binding.requiredQueryStringParameters).toBe("");
    expect(fs.existsSync(path.join(dataDir, "secrets"))).toBe(false);
  } finally {
    await host.stop();
  }
});
