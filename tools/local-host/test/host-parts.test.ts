/** The host's parts, each on its own: the function index, the HTTP-trigger adapter's conversions, the banner, the log lines. */
import { startupBanner } from "../banner";
import { FunctionIndex } from "../function-index";
import { HostLog } from "../host-log";
import { fromRpcHttpResponse, serializeCookie, toRpcHttp } from "../http-trigger";
import type { RegisteredFunction } from "../worker";

function fn(name: string, triggerType: string, trigger: Record<string, unknown> = {}): RegisteredFunction {
  return {
    name,
    functionId: `id-${name}`,
    bindings: { req: { type: triggerType, direction: "in", ...trigger } },
    triggerName: "req",
    triggerType,
    callback: async () => undefined,
    scriptFile: "x.js",
    directory: ".",
  } as unknown as RegisteredFunction;
}

describe("FunctionIndex", () => {
  const index = new FunctionIndex(
    new Map(
      [
        fn("byId", "httpTrigger", { route: "items/{id}", methods: ["get"] }),
        fn("literal", "httpTrigger", { route: "items/new" }),
        fn("noRoute", "httpTrigger"),
        fn("Orch", "orchestrationTrigger"),
        fn("Act", "activityTrigger"),
        fn("Ent", "entityTrigger"),
      ].map((f) => [f.name, f]),
    ),
  );
  test("names by trigger kind; HTTP routes in precedence order (literal before parameter)", () => {
    expect([...index.orchestrators]).toEqual(["Orch"]);
    expect([...index.activities]).toEqual(["Act"]);
    expect([...index.entities]).toEqual(["Ent"]);
    expect(index.httpRoutes.map((r) => r.fn.name).indexOf("literal")).toBeLessThan(index.httpRoutes.map((r) => r.fn.name).indexOf("byId"));
    expect(index.httpRoutes.find((r) => r.fn.name === "byId")!.methods).toEqual(new Set(["GET"]));
  });
  test("find: the host's message for a wrong name or kind", () => {
    expect(index.find("Act", "activityTrigger").name).toBe("Act");
    expect(() => index.find("Act", "orchestrationTrigger")).toThrow(
      "The function 'Act' doesn't exist, is disabled, or is not an orchestrationTrigger function.",
    );
  });
  test("describe: HTTP functions with their URLs first", () => {
    const d = index.describe("api", "http://localhost:7071");
    expect(d[0]).toEqual({
      name: "byId",
      triggerType: "httpTrigger",
      route: "items/{id}",
      methods: ["GET"],
      url: "http://localhost:7071/api/items/{id}",
    });
    expect(d.find((f) => f.name === "noRoute")!.url).toBe("http://localhost:7071/api/noRoute");
    expect(d.slice(3).map((f) => f.name)).toEqual(["Orch", "Act", "Ent"]);
  });
});

describe("HTTP-trigger conversions", () => {
  test("request → RpcHttpData and trigger metadata (repeated query keys joined, params as strings)", () => {
    const req = { method: "POST", headers: { "Content-Type": "text/plain", "x-a": ["1", "2"] } } as never;
    const { rpcHttp, triggerMetadata } = toRpcHttp(req, new URL("http://h/api/items/7?q=1&q=2"), Buffer.from("hi"), { id: "7" });
    expect(rpcHttp.headers).toEqual({ "content-type": "text/plain", "x-a": "1, 2" });
    expect(rpcHttp.query).toEqual({ q: "1,2" });
    expect(rpcHttp.body).toEqual({ bytes: Buffer.from("hi") });
    expect(triggerMetadata.id).toEqual({ string: "7" });
    expect(JSON.parse(String(triggerMetadata.Query.json))).toEqual({ q: "1,2" });
  });
  test("HTTP output → response: none is 204, a plain value is the body, cookies serialized", () => {
    expect(fromRpcHttpResponse(undefined)).toEqual({ status: 204, headers: {} });
    expect(fromRpcHttpResponse({ json: '{"a":1}' })).toEqual({ status: 200, headers: {}, body: '{"a":1}' });
    const r = fromRpcHttpResponse({
      http: { statusCode: "201", headers: { a: "b" }, body: { string: "ok" }, cookies: [{ name: "c", value: "1", path: { value: "/" } }] },
    } as never);
    expect(r).toEqual({ status: 201, headers: { a: "b", "Set-Cookie": ["c=1; path=/"] }, body: "ok" });
    expect(
      serializeCookie({ name: "s", value: "v", secure: { value: true }, httpOnly: { value: true }, sameSite: "strict" } as never),
    ).toBe("s=v; secure; httponly; samesite=strict");
  });
});

test("the banner names the payload store and ends with the line the harness waits for", () => {
  const lines = startupBanner({
    hubName: "Hub",
    dataDir: "/d",
    rpcBaseUrl: "http://127.0.0.1:1/durabletask/",
    payloadStore: "Payload store: AzureWebJobsStorage: external account 'x' (no Azurite started).",
    maxPayloadBytes: 0,
    maxTimerSpanMs: 0,
    maxInstanceIdLength: 0,
    functions: [{ name: "f", triggerType: "httpTrigger", route: "f", url: "http://localhost:2/api/f" }],
    baseUrl: "http://localhost:2",
    port: 2,
  });
  expect(lines).toContain("Payload store: AzureWebJobsStorage: external account 'x' (no Azurite started).");
  expect(lines).toContain("Durable payload size limit: none (--max-payload-bytes 0).");
  expect(lines).toContain("Durable timer span limit: none (--max-timer-span-ms 0).");
  expect(lines).toContain("Keys: not required (as under func start; --require-keys enforces them as in Azure).");
  expect(lines).toContain("\tf: [GET,POST,DELETE,HEAD,PATCH,PUT,OPTIONS,TRACE] http://localhost:2/api/f");
  expect(lines[lines.length - 1]).toBe("Host started on http://localhost:2 (also http://127.0.0.1:2).");
});

test("HostLog: system information only when verbose; engine info only when verbose; prefixes", () => {
  const quiet: string[] = [];
  const q = new HostLog((l) => quiet.push(l), false);
  q.entry({ level: "information", category: "system", message: "sys" });
  q.entry({ level: "warning", category: "user", message: "careful", functionName: "f" });
  q.engine("info", "resumed");
  q.engine("error", "bad");
  expect(quiet.map((l) => l.replace(/^\[[^\]]+\] /, ""))).toEqual(["[f] Warning: careful", "Error: bad"]);
});
