const { app } = require("@azure/functions");
const df = require("durable-functions");

df.app.activity("sayHello", {
  handler: (city, context) => {
    context.log(`saying hello to ${city}`);
    return `Hello ${city}!`;
  },
});

df.app.orchestration("fixtureOrchestrator", function* (context) {
  const input = context.df.getInput() || {};
  const sequence = [];
  sequence.push(yield context.df.callActivity("sayHello", "Tokyo"));
  sequence.push(yield context.df.callActivity("sayHello", "Seattle"));
  const cities = input.cities || ["Lisbon", "Oslo", "Quito"];
  const fanOut = yield context.df.Task.all(cities.map((c) => context.df.callActivity("sayHello", c)));
  context.df.setCustomStatus({ phase: "timer" });
  const fireAt = new Date(context.df.currentUtcDateTime.getTime() + (input.timerMs ?? 200));
  yield context.df.createTimer(fireAt);
  let approval = null;
  if (input.waitForEvent) {
    context.df.setCustomStatus({ phase: "waiting" });
    approval = yield context.df.waitForExternalEvent("approval");
  }
  return { sequence, fanOut, approval };
});

app.http("httpStart", {
  route: "orchestrators/{orchestratorName}",
  methods: ["POST"],
  extraInputs: [df.input.durableClient()],
  handler: async (request, context) => {
    const client = df.getClient(context);
    const body = await request.text();
    const instanceId = await client.startNew(request.params.orchestratorName, {
      instanceId: request.query.get("id") || undefined,
      input: body ? JSON.parse(body) : undefined,
    });
    context.log(`Started orchestration with ID = '${instanceId}'.`);
    return client.createCheckStatusResponse(request, instanceId);
  },
});

// Uses the durable client's RPC path (rpcBaseUrl) for status and events.
app.http("clientStatus", {
  route: "client/{id}",
  methods: ["GET"],
  extraInputs: [df.input.durableClient()],
  handler: async (request, context) => {
    const client = df.getClient(context);
    try {
      const status = await client.getStatus(request.params.id);
      return { jsonBody: { taskHubName: client.taskHubName, status } };
    } catch (err) {
      return { status: 404, jsonBody: { error: err.message } };
    }
  },
});

app.http("clientRaise", {
  route: "client/{id}/events/{name}",
  methods: ["POST"],
  extraInputs: [df.input.durableClient()],
  handler: async (request, context) => {
    const client = df.getClient(context);
    await client.raiseEvent(request.params.id, request.params.name, await request.json());
    return { status: 202 };
  },
});

app.http("clientList", {
  route: "client",
  methods: ["GET"],
  extraInputs: [df.input.durableClient()],
  handler: async (request, context) => {
    const client = df.getClient(context);
    const all = await client.getStatusAll();
    return { jsonBody: all.map((s) => ({ instanceId: s.instanceId, runtimeStatus: s.runtimeStatus })) };
  },
});

// suspend / resume / readEntityState through the durable client's RPC path; errors come back as 500 + message.
app.http("clientOp", {
  route: "client/{id}/op/{op}",
  methods: ["POST"],
  extraInputs: [df.input.durableClient()],
  handler: async (request, context) => {
    const client = df.getClient(context);
    const id = request.params.id;
    try {
      if (request.params.op === "suspend") await client.suspend(id, "rpc");
      else if (request.params.op === "resume") await client.resume(id, "rpc");
      else if (request.params.op === "readEntity") return { jsonBody: await client.readEntityState(new df.EntityId("counter", id)) };
      return { status: 202 };
    } catch (err) {
      return { status: 500, jsonBody: { error: err.message } };
    }
  },
});

df.app.entity("counter", (context) => {
  context.df.setState((context.df.getState(() => 0) || 0) + 1);
});

// Payload limits: an activity result of 1.5 MiB is over the Durable Task Scheduler's 1 MiB.
df.app.activity("bigResult", { handler: (bytes) => "x".repeat(bytes) });
df.app.orchestration("bigOrchestrator", function* (context) {
  return yield context.df.callActivity("bigResult", context.df.getInput());
});

// The durableClient binding data as the function gets it, and the management URLs built from it.
const clientInput = df.input.durableClient();
app.http("clientUrls", {
  route: "client/{id}/urls",
  methods: ["GET"],
  extraInputs: [clientInput],
  handler: async (request, context) => {
    const client = df.getClient(context);
    return {
      jsonBody: { binding: context.extraInputs.get(clientInput), payload: client.createHttpManagementPayload(request.params.id) },
    };
  },
});

// Timer limits: a timer `days` after the start (fractions allowed), or an invalid Date (sent as fireAt: null).
df.app.orchestration("timerAfter", function* (context) {
  const { days, invalid } = context.df.getInput() || {};
  const fireAt = invalid ? new Date(NaN) : new Date(context.df.currentUtcDateTime.getTime() + days * 86400000);
  yield context.df.createTimer(fireAt);
  return "fired";
});

// Sub-orchestrations with a chosen instance id; the parent reports the child's failure instead of failing.
df.app.orchestration("parentOf", function* (context) {
  const { childId } = context.df.getInput() || {};
  try {
    return { ok: yield context.df.callSubOrchestrator("fixtureOrchestrator", { timerMs: 10 }, childId) };
  } catch (err) {
    return { failed: err.message };
  }
});
