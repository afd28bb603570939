const { app, output } = require("@azure/functions");

// Route parameters, query, methods and settings read at invocation time.
app.http("hello", {
  methods: ["GET"],
  route: "hello/{name}",
  handler: async (request, context) => {
    context.log(`hello called for ${request.params.name}`);
    return { jsonBody: { greeting: `${process.env.FIXTURE_GREETING}, ${request.params.name}`, q: request.query.get("q") } };
  },
});

app.http("items", {
  methods: ["GET", "DELETE"],
  route: "items/{id:int}/{tag?}",
  handler: async (request) => ({
    status: request.method === "DELETE" ? 202 : 200,
    headers: { "x-item-id": request.params.id },
    jsonBody: { method: request.method, params: request.params },
  }),
});

app.post("echo", {
  handler: async (request) => {
    const text = await request.text();
    return { status: 201, body: `echo:${text}`, cookies: [{ name: "seen", value: "1", path: "/" }] };
  },
});

app.get("env", {
  route: "env/{name}",
  handler: async (request) => ({ jsonBody: { name: request.params.name, value: process.env[request.params.name] ?? null } }),
});

app.get("boom", {
  handler: async () => {
    throw new Error("boom on purpose");
  },
});

// A non-HTTP output binding the local host cannot run: setting it must fail, not vanish.
const blobOutput = output.storageBlob({ path: "out/{rand-guid}.txt", connection: "AzureWebJobsStorage" });
app.post("blobOut", {
  extraOutputs: [blobOutput],
  handler: async (request, context) => {
    if (request.query.get("write") === "1") context.extraOutputs.set(blobOutput, "lost?");
    return { body: "handled" };
  },
});

// Key-enforcing mode (--require-keys): a function-level and an admin-level route.
app.get("keyed", { route: "keyed", authLevel: "function", handler: async () => ({ body: "keyed ok" }) });
app.get("adminOnly", { route: "admin-only", authLevel: "admin", handler: async () => ({ body: "admin ok" }) });
