/** Pure pieces of the local host: route templates, entry-point globs, settings, CLI arguments. */
import * as path from "node:path";
import { parseArgs } from "../cli";
import { expandBraces, expandGlob } from "../glob";
import { compareRoutes, compileRoute, matchRoute } from "../routes";
import { applySettings, readHostJson, resolveSettingRefs } from "../settings";
import { urlEncode, hostTime } from "../durable-api";

const m = (template: string, p: string) => matchRoute(compileRoute(template), p.split("/").filter(Boolean));

describe("routes", () => {
  test("literals are case-insensitive; parameters capture", () => {
    expect(m("scatter-gather/{id}/responses", "Scatter-Gather/abc/responses")).toEqual({ id: "abc" });
    expect(m("scatter-gather/{id}", "scatter-gather/abc/responses")).toBeUndefined();
  });
  test("constraints", () => {
    expect(m("items/{id:int}", "items/12")).toEqual({ id: "12" });
    expect(m("items/{id:int}", "items/x")).toBeUndefined();
    expect(m("items/{id:int:min(10)}", "items/9")).toBeUndefined();
    expect(m("g/{id:guid}", "g/0f8fad5b-d9cb-469f-a165-70867728950e")).toBeDefined();
    expect(m("a/{s:alpha:maxlength(3)}", "a/abcd")).toBeUndefined();
    expect(m("r/{v:regex(^a+$)}", "r/aaa")).toEqual({ v: "aaa" });
  });
  test("optional, default and catch-all parameters", () => {
    expect(m("items/{id}/{tag?}", "items/1")).toEqual({ id: "1" });
    expect(m("items/{id}/{tag=red}", "items/1")).toEqual({ id: "1", tag: "red" });
    expect(m("files/{*rest}", "files/a/b/c")).toEqual({ rest: "a/b/c" });
    expect(m("file/{name}.{ext}", "file/readme.md")).toEqual({ name: "readme", ext: "md" });
  });
  test("literal segments take precedence over parameters", () => {
    const routes = ["items/{id}", "items/special", "{*all}"].map(compileRoute).sort(compareRoutes);
    expect(routes.map((r) => r.template)).toEqual(["items/special", "items/{id}", "{*all}"]);
  });
});

describe("glob (package.json main)", () => {
  const app = path.join(__dirname, "fixture-app");
  test("expands * within a folder and braces", () => {
    expect(expandGlob("functions/*.js", app)).toEqual(["functions/durable.js", "functions/http.js"]);
    expect(expandGlob("functions/{http,nope}.js", app)).toEqual(["functions/http.js"]);
    expect(expandGlob("**/http.js", app)).toEqual(["functions/http.js"]);
    expect(expandGlob("functions/none/*.js", app)).toEqual([]);
    expect(expandBraces("a/{b,c{d,e}}.js")).toEqual(["a/b.js", "a/cd.js", "a/ce.js"]);
  });
});

describe("settings", () => {
  test("real environment wins, empty real values do not", () => {
    const env: NodeJS.ProcessEnv = { A: "real", B: "" };
    const msgs = applySettings({ A: "local", B: "local-b", C: "local-c" }, env);
    expect(env).toEqual({ A: "real", B: "local-b", C: "local-c" });
    expect(msgs).toEqual(["Skipping 'A' from local settings as it's already defined in current environment variables."]);
  });
  test("%SETTING% references and host.json values", () => {
    expect(resolveSettingRefs("%HUB%x", { HUB: "h" })).toBe("hx");
    expect(() => resolveSettingRefs("%MISSING%", {})).toThrow(/MISSING/);
    const hj = readHostJson(path.join(__dirname, "fixture-app"), { FIXTURE_HUB: "Hub1" });
    expect(hj).toMatchObject({
      routePrefix: "api",
      hubName: "Hub1",
      connectionName: "Storage",
      maxConcurrentActivityFunctions: 4,
      maxConcurrentOrchestratorFunctions: 2,
    });
    const repo = readHostJson(path.resolve(__dirname, "../../.."), { TASKHUB_NAME: "default" });
    expect(repo).toMatchObject({
      hubName: "default",
      connectionName: "DURABLE_TASK_SCHEDULER_CONNECTION_STRING",
      maxConcurrentActivityFunctions: 500,
    });
  });
});

describe("cli arguments", () => {
  test("--port, PORT and defaults", () => {
    expect(parseArgs([], {}).port).toBe(7071);
    expect(parseArgs([], { PORT: "8080" }).port).toBe(8080);
    expect(parseArgs(["--port", "9000"], { PORT: "8080" }).port).toBe(9000);
    expect(parseArgs(["--port=0"], {}).port).toBe(0);
    expect(parseArgs(["--data-dir", "x"], {}).dataDir).toBe(path.resolve("x"));
    expect(() => parseArgs(["--port", "abc"], {})).toThrow(/Invalid port/);
  });
});

describe("host formats", () => {
  test('WebUtility.UrlEncode and DateTime ToString("s")+Z', () => {
    expect(urlEncode("a b/c~'")).toBe("a+b%2Fc%7E%27");
    expect(hostTime("2026-01-02T03:04:05.678Z")).toBe("2026-01-02T03:04:05Z");
  });
});
