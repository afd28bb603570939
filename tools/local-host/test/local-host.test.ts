/**
 * End-to-end tests of the local host over real HTTP on a free loopback port: the worker stand-in,
 * HTTP trigger routing, settings, the durableClient binding and the Durable webhooks it points to.
 */
import { hostForSuite, fixtureApp, json, outputMatching, pollUntil, tempDir, type HostProcess } from "./harness";

jest.setTimeout(60000);

let host: HostProcess;

hostForSuite(
  {
    appDir: fixtureApp,
    dataDir: tempDir("local-host-data-"),
    env: { FIXTURE_OVERRIDDEN: "from-real-env", FIXTURE_HUB: "" },
  },
  (h) => (host = h),
);

const webhooks = () => `${host.url}/runtime/webhooks/durabletask`;

async function start(input: unknown, id?: string): Promise<{ res: Response; body: any }> {
  const res = await fetch(`${host.url}/api/orchestrators/fixtureOrchestrator${id ? `?id=${id}` : ""}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(input),
  });
  return { res, body: await json(res) };
}

describe("host", () => {
  test("GET /admin/host/status answers Running", async () => {
    const res = await fetch(`${host.url}/admin/host/status`);
    expect(res.status).toBe(200);
    expect(await json(res)).toMatchObject({ state: "Running" });
  });

  test("prints the banner and the function table like func start", () => {
    const out = host.output();
    expect(out).toContain("NOT the Azure Functions host");
    expect(out).toMatch(/Functions:\n\n\thttpStart: \[POST\] http:\/\/localhost:\d+\/api\/orchestrators\/\{orchestratorName\}/);
    expect(out).toMatch(/\titems: \[GET,DELETE\] http:\/\/localhost:\d+\/api\/items\/\{id:int\}\/\{tag\?\}/);
    expect(out).toContain("\tfixtureOrchestrator: orchestrationTrigger");
    expect(out).toContain("\tsayHello: activityTrigger");
  });

  test("context.log lines carry the function name", async () => {
    await fetch(`${host.url}/api/hello/logcheck`);
    expect(await outputMatching(host, /\[hello\] hello called for logcheck/)).toMatch(/\[hello\] hello called for logcheck/);
  });
});

describe("HTTP triggers", () => {
  test("route parameters and query", async () => {
    const res = await fetch(`${host.url}/api/hello/World?q=42`);
    expect(res.status).toBe(200);
    expect(await json(res)).toEqual({ greeting: "Hello, World", q: "42" });
  });

  test("constraints, optional parameters, methods and headers", async () => {
    let res = await fetch(`${host.url}/api/items/12/red`);
    expect(res.status).toBe(200);
    expect(res.headers.get("x-item-id")).toBe("12");
    expect(await json(res)).toEqual({ method: "GET", params: { id: "12", tag: "red" } });

    res = await fetch(`${host.url}/api/items/7`, { method: "DELETE" });
    expect(res.status).toBe(202);
    expect(await json(res)).toEqual({ method: "DELETE", params: { id: "7" } });

    expect((await fetch(`${host.url}/api/items/abc`)).status).toBe(404); // {id:int}
    expect((await fetch(`${host.url}/api/items/1`, { method: "PUT" })).status).toBe(404); // method not registered
    expect((await fetch(`${host.url}/api/hello/x`, { method: "POST" })).status).toBe(404);
  });

  test("unknown routes and paths outside the route prefix are 404", async () => {
    expect((await fetch(`${host.url}/api/nope`)).status).toBe(404);
    expect((await fetch(`${host.url}/hello/World`)).status).toBe(404);
  });

  test("request body, status, content type and cookies round-trip", async () => {
    const res = await fetch(`${host.url}/api/echo`, { method: "POST", body: "hi there" });
    expect(res.status).toBe(201);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain/);
    expect(res.headers.get("set-cookie")).toBe("seen=1; path=/");
    expect(await res.text()).toBe("echo:hi there");
  });

  test("a throwing function answers 500", async () => {
    const res = await fetch(`${host.url}/api/boom`);
    expect(res.status).toBe(500);
    expect(await outputMatching(host, "boom on purpose")).toContain("boom on purpose");
  });
});

describe("settings", () => {
  const env = async (name: string) => (await json(await fetch(`${host.url}/api/env/${name}`))).value;

  test("local.settings.json Values reach the app", async () => {
    expect(await env("FIXTURE_GREETING")).toBe("Hello");
  });

  test("real environment variables win over local.settings.json", async () => {
    expect(await env("FIXTURE_OVERRIDDEN")).toBe("from-real-env");
    expect(host.output()).toContain(
      "Skipping 'FIXTURE_OVERRIDDEN' from local settings as it's already defined in current environment variables.",
    );
  });

  test("an empty real variable does not hide the local setting; WEBSITE_HOSTNAME is set like Core Tools", async () => {
    expect(await env("FIXTURE_HUB")).toBe("FixtureHub");
    expect(await env("WEBSITE_HOSTNAME")).toBe(`localhost:${host.port}`);
  });
});

describe("durable: createCheckStatusResponse and the management URLs", () => {
  test("start answers 202 with management URLs, Location and Retry-After", async () => {
    const { res, body } = await start({ cities: ["A", "B"] });
    expect(res.status).toBe(202);
    expect(res.headers.get("location")).toBe(body.statusQueryGetUri);
    expect(res.headers.get("retry-after")).toBe("10");
    const id = body.id as string;
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    const q = "taskHub=FixtureHub&connection=Storage";
    const base = `${host.url}/runtime/webhooks/durabletask/instances/${id}`;
    expect(body).toEqual({
      id,
      statusQueryGetUri: `${base}?${q}`,
      sendEventPostUri: `${base}/raiseEvent/{eventName}?${q}`,
      terminatePostUri: `${base}/terminate?reason={text}&${q}`,
      rewindPostUri: `${base}/rewind?reason={text}&${q}`,
      purgeHistoryDeleteUri: `${base}?${q}`,
      restartPostUri: `${base}/restart?${q}`,
      suspendPostUri: `${base}/suspend?reason={text}&${q}`,
      resumePostUri: `${base}/resume?reason={text}&${q}`,
    });
  });

  test("statusQueryGetUri answers 202 while running and 200 with the output when completed", async () => {
    const { body: started } = await start({ cities: ["Lisbon", "Oslo"], timerMs: 300 });
    const running = await fetch(started.statusQueryGetUri);
    expect(running.status).toBe(202);
    expect(running.headers.get("retry-after")).toBe("5");
    expect(running.headers.get("location")).toBe(started.statusQueryGetUri);
    const { res, body } = await pollUntil(started.statusQueryGetUri, (b) => b.runtimeStatus === "Completed");
    expect(res.status).toBe(200);
    expect(res.headers.get("location")).toBeNull();
    expect(body).toMatchObject({
      name: "fixtureOrchestrator",
      instanceId: started.id,
      runtimeStatus: "Completed",
      input: { cities: ["Lisbon", "Oslo"], timerMs: 300 },
      output: { sequence: ["Hello Tokyo!", "Hello Seattle!"], fanOut: ["Hello Lisbon!", "Hello Oslo!"], approval: null },
    });
    expect(body.createdTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(body.historyEvents).toBeUndefined();

    const noInput = await json(await fetch(`${started.statusQueryGetUri}&showInput=false`));
    expect(noInput.input).toBeNull();
    const withHistory = await json(await fetch(`${started.statusQueryGetUri}&showHistory=true`));
    expect(Array.isArray(withHistory.historyEvents)).toBe(true);
    expect(withHistory.historyEvents.length).toBeGreaterThan(0);
  });

  test("sendEventPostUri raises an event the orchestration waits for", async () => {
    const { body: started } = await start({ cities: ["X"], waitForEvent: true, timerMs: 10 });
    await pollUntil(started.statusQueryGetUri, (b) => b.customStatus?.phase === "waiting");
    const eventUrl = started.sendEventPostUri.replace("{eventName}", "approval");

    const wrongType = await fetch(eventUrl, { method: "POST", headers: { "content-type": "text/plain" }, body: "yes" });
    expect(wrongType.status).toBe(400);
    expect(await json(wrongType)).toEqual({ Message: "Only application/json request content is supported" });

    const raised = await fetch(eventUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ ok: true }),
    });
    expect(raised.status).toBe(202);
    const { body } = await pollUntil(started.statusQueryGetUri, (b) => b.runtimeStatus === "Completed");
    expect(body.output.approval).toEqual({ ok: true });

    const late = await fetch(eventUrl, { method: "POST", headers: { "content-type": "application/json" }, body: "1" });
    expect(late.status).toBe(410);
    const unknown = await fetch(`${webhooks()}/instances/no-such-instance/raiseEvent/approval`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "1",
    });
    expect(unknown.status).toBe(404);
  });

  test("terminatePostUri terminates a running instance; a second terminate is 410", async () => {
    const { body: started } = await start({ waitForEvent: true, timerMs: 10 });
    await pollUntil(started.statusQueryGetUri, (b) => b.customStatus?.phase === "waiting");
    const url = started.terminatePostUri.replace("{text}", "enough");
    expect((await fetch(url, { method: "POST" })).status).toBe(202);
    const { res, body } = await pollUntil(started.statusQueryGetUri, (b) => b.runtimeStatus === "Terminated");
    expect(res.status).toBe(200);
    expect(body.output).toBe("enough");
    expect((await fetch(url, { method: "POST" })).status).toBe(410);
    expect((await fetch(`${webhooks()}/instances/nope/terminate?reason=x`, { method: "POST" })).status).toBe(404);
  });

  test("suspendPostUri / resumePostUri", async () => {
    const { body: started } = await start({ waitForEvent: true, timerMs: 10 });
    await pollUntil(started.statusQueryGetUri, (b) => b.customStatus?.phase === "waiting");
    expect((await fetch(started.suspendPostUri.replace("{text}", "pause"), { method: "POST" })).status).toBe(202);
    const { res } = await pollUntil(started.statusQueryGetUri, (b) => b.runtimeStatus === "Suspended");
    expect(res.status).toBe(202);
    expect((await fetch(started.resumePostUri.replace("{text}", "go"), { method: "POST" })).status).toBe(202);
    await pollUntil(started.statusQueryGetUri, (b) => b.runtimeStatus === "Running");
    await fetch(started.terminatePostUri.replace("{text}", "done"), { method: "POST" });
  });

  test("purgeHistoryDeleteUri deletes a finished instance; then the instance is 404", async () => {
    const { body: started } = await start({ cities: ["P"], timerMs: 10 });
    await pollUntil(started.statusQueryGetUri, (b) => b.runtimeStatus === "Completed");
    const del = await fetch(started.purgeHistoryDeleteUri, { method: "DELETE" });
    expect(del.status).toBe(200);
    expect(await json(del)).toEqual({ instancesDeleted: 1 });
    expect((await fetch(started.statusQueryGetUri)).status).toBe(404);
    expect((await fetch(started.purgeHistoryDeleteUri, { method: "DELETE" })).status).toBe(404);
  });

  test("unknown instance status is 404", async () => {
    expect((await fetch(`${webhooks()}/instances/does-not-exist`)).status).toBe(404);
  });
});

describe("durable: webhook start, instances list, purge by filter", () => {
  test("POST orchestrators/{name}/{id} starts with a chosen id; a running id answers 500; unknown names 400", async () => {
    const url = `${webhooks()}/orchestrators/fixtureOrchestrator/chosen-id-1`;
    const first = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ waitForEvent: true, timerMs: 10 }),
    });
    expect(first.status).toBe(202);
    const body = await json(first);
    expect(body.id).toBe("chosen-id-1");
    expect(Object.keys(body)).toEqual([
      "id",
      "statusQueryGetUri",
      "sendEventPostUri",
      "terminatePostUri",
      "purgeHistoryDeleteUri",
      "restartPostUri",
      "suspendPostUri",
      "resumePostUri",
    ]);
    expect(first.headers.get("location")).toBe(body.statusQueryGetUri);

    const again = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(again.status).toBe(500);
    expect((await json(again)).ExceptionType).toBe("DurableTask.Core.Exceptions.OrchestrationAlreadyExistsException");

    const unknown = await fetch(`${webhooks()}/orchestrators/noSuchOrchestrator`, { method: "POST" });
    expect(unknown.status).toBe(400);
    const err = await json(unknown);
    expect(err.Message).toBe("One or more of the arguments submitted is incorrect");
    expect(err.ExceptionMessage).toContain("The function 'noSuchOrchestrator' doesn't exist");

    const bad = await fetch(`${webhooks()}/orchestrators/fixtureOrchestrator`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{not json",
    });
    expect(bad.status).toBe(400);
    expect((await json(bad)).Message).toBe("Invalid JSON content");

    await fetch(body.terminatePostUri.replace("{text}", "cleanup"), { method: "POST" });
  });

  test("instances list with filters and continuation tokens", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const { body } = await start({ cities: ["L"], timerMs: 10 }, `list-${i}`);
      ids.push(body.id);
    }
    for (const id of ids) await pollUntil(`${webhooks()}/instances/${id}`, (b) => b.runtimeStatus === "Completed");

    const all = await fetch(`${webhooks()}/instances?instanceIdPrefix=list-`);
    expect(all.status).toBe(200);
    const listed = (await json(all)) as any[];
    expect(listed.map((s) => s.instanceId).sort()).toEqual(ids);
    expect(listed[0]).toMatchObject({ name: "fixtureOrchestrator", runtimeStatus: "Completed" });

    const running = (await json(await fetch(`${webhooks()}/instances?instanceIdPrefix=list-&runtimeStatus=Running,Pending`))) as any[];
    expect(running).toEqual([]);

    // paging: top=1 and the continuation token header
    const seen: string[] = [];
    let token: string | null = null;
    for (let page = 0; page < 10; page++) {
      const res: Response = await fetch(`${webhooks()}/instances?instanceIdPrefix=list-&top=1`, {
        headers: token ? { "x-ms-continuation-token": token } : {},
      });
      const items = (await json(res)) as any[];
      expect(items.length).toBeLessThanOrEqual(1);
      seen.push(...items.map((s) => s.instanceId));
      token = res.headers.get("x-ms-continuation-token");
      if (!token) break;
    }
    expect(seen.sort()).toEqual(ids);
  });

  test("DELETE instances needs createdTimeFrom; purges by filter", async () => {
    const noFrom = await fetch(`${webhooks()}/instances`, { method: "DELETE" });
    expect(noFrom.status).toBe(400);
    expect(await json(noFrom)).toBe("Please provide value for 'createdTimeFrom' parameter.");

    const { body } = await start({ cities: ["F"], timerMs: 10 }, "purge-filter-1");
    await pollUntil(body.statusQueryGetUri, (b) => b.runtimeStatus === "Completed");
    const from = new Date(Date.now() - 60000).toISOString();
    const res = await fetch(`${webhooks()}/instances?createdTimeFrom=${from}&runtimeStatus=Completed,Terminated`, { method: "DELETE" });
    expect(res.status).toBe(200);
    expect((await json(res)).instancesDeleted).toBeGreaterThanOrEqual(1);
    expect((await fetch(body.statusQueryGetUri)).status).toBe(404);
    const none = await fetch(`${webhooks()}/instances?createdTimeFrom=${from}&runtimeStatus=Completed`, { method: "DELETE" });
    expect(none.status).toBe(404);
  });
});

describe("durable client over rpcBaseUrl (the out-of-proc client's fast local path)", () => {
  test("getStatus, raiseEvent and getStatusAll from inside functions", async () => {
    const { body: started } = await start({ waitForEvent: true, timerMs: 10 }, "rpc-1");
    await pollUntil(started.statusQueryGetUri, (b) => b.customStatus?.phase === "waiting");

    const st = await json(await fetch(`${host.url}/api/client/rpc-1`));
    expect(st.taskHubName).toBe("FixtureHub");
    expect(st.status).toMatchObject({ instanceId: "rpc-1", runtimeStatus: "Running", name: "fixtureOrchestrator" });

    const raised = await fetch(`${host.url}/api/client/rpc-1/events/approval`, { method: "POST", body: JSON.stringify("via-rpc") });
    expect(raised.status).toBe(202);
    const { body } = await pollUntil(started.statusQueryGetUri, (b) => b.runtimeStatus === "Completed");
    expect(body.output.approval).toBe("via-rpc");

    const missing = await fetch(`${host.url}/api/client/not-there`);
    expect(missing.status).toBe(404);

    const list = (await json(await fetch(`${host.url}/api/client`))) as any[];
    expect(list.find((s) => s.instanceId === "rpc-1")).toEqual({ instanceId: "rpc-1", runtimeStatus: "Completed" });
  });
});
