/**
 * The typed client (src/client) against fake servers on 127.0.0.1, no Functions host: it sends its key and
 * bodies only to the origin it was given (redirects to another origin refused, never followed), reads at
 * most maxAnswerBytes of an answer, and refuses answers that are not JSON or not the API's shape.
 */
import type * as http from "node:http";
import { AnswerError, ApiError, MAX_REDIRECTS, ScatterGatherClient } from "../../src/client";
import { fakeApi, fakeServer, gatherStatus, sendJson, type FakeServer } from "./fake-server";

const servers: FakeServer[] = [];
async function serve(...args: Parameters<typeof fakeServer>): Promise<FakeServer> {
  const server = await fakeServer(...args);
  servers.push(server);
  return server;
}
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const SECRET_BODY = {
  request: {},
  recipients: [{ id: "a", url: "https://partner.example/quote", headers: { Authorization: "Bearer recipient-secret" } }],
};

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected a rejection");
}

describe("redirects: the key and the body go only to the origin the client was given", () => {
  test.each([307, 308, 302, 301, 303])(
    "a %i to another origin is refused with the status and that origin; the other origin sees no request",
    async (status) => {
      const other = await serve((_req, res) => sendJson(res, 200, { items: [], continuationToken: null, nextUri: null }));
      const api = await serve((req, res) =>
        res.writeHead(status, { location: `${other.url}/login?from=${encodeURIComponent(req.path)}` }).end(),
      );
      const client = new ScatterGatherClient({ baseUrl: api.url, key: "the-function-key" });

      for (const call of [() => client.start(SECRET_BODY), () => client.list(), () => client.get("g1"), () => client.delete("g1")]) {
        const error = await rejection(call());
        expect(error).toBeInstanceOf(AnswerError);
        expect(error).toMatchObject({ problem: "redirect", status });
        expect(error.message).toContain(`answered ${status} redirecting to another origin, ${other.url}: refused`);
      }
      expect(other.requests).toEqual([]);
      expect(api.requests.map((r) => r.headers["x-functions-key"])).toEqual(Array(4).fill("the-function-key"));
      expect(api.requests[0].body).toContain("recipient-secret"); // it went to the origin it was given, only
    },
  );

  test("another scheme, port or host of the same machine is another origin (https→http, :port, localhost)", async () => {
    const origins: string[] = [];
    const api = await serve((_req, res) => res.writeHead(307, { location: `${origins[api.requests.length - 1]}/api/x` }).end());
    const port = Number(new URL(api.url).port);
    origins.push(`https://127.0.0.1:${port}`, `http://127.0.0.1:${port + 1}`, `http://localhost:${port}`);
    const client = new ScatterGatherClient({ baseUrl: api.url, key: "k" });
    for (const origin of origins) expect((await rejection(client.get("g"))).message).toContain(`another origin, ${origin}: refused`);
  });

  test("a redirect to the same origin is followed with the key (307 keeps the POST and its body, 303 becomes a GET); more than a few are refused", async () => {
    const api = await fakeApi({
      statuses: [gatherStatus("g1")],
      override: (req, res) => {
        if (req.path === "/old/api/scatter-gather") return (res.writeHead(307, { location: "/api/scatter-gather" }).end(), true);
        if (req.path === "/so/api/scatter-gather/g1/terminate") return (res.writeHead(303, { location: "/terminated" }).end(), true);
        if (req.path === "/terminated") return (sendJson(res, 200, { id: "g1", terminated: 1 }), true);
        if (req.path.startsWith("/loop")) return (res.writeHead(302, { location: `/loop${req.path.length}` }).end(), true);
        return false;
      },
    });
    servers.push(api);
    const moved = new ScatterGatherClient({ baseUrl: `${api.url}/old`, key: "k" });
    expect(await moved.start(SECRET_BODY)).toMatchObject({ id: "g1" });
    expect(api.requests.map((r) => [r.method, r.path, r.headers["x-functions-key"], r.body.length > 0])).toEqual([
      ["POST", "/old/api/scatter-gather", "k", true],
      ["POST", "/api/scatter-gather", "k", true],
    ]);
    expect(JSON.parse(api.requests[1].body)).toEqual(SECRET_BODY);

    api.requests.length = 0;
    expect(await new ScatterGatherClient({ baseUrl: `${api.url}/so`, key: "k" }).terminate("g1")).toEqual({ id: "g1", terminated: 1 });
    expect(api.requests.map((r) => [r.method, r.path, r.headers["x-functions-key"]])).toEqual([
      ["POST", "/so/api/scatter-gather/g1/terminate", "k"],
      ["GET", "/terminated", "k"],
    ]);

    api.requests.length = 0;
    const looping = new ScatterGatherClient({ baseUrl: `${api.url}/loop`, key: "k" });
    const error = await rejection(looping.list());
    expect(error).toMatchObject({ problem: "redirect", status: 302 });
    expect(error.message).toContain(`redirecting again after ${MAX_REDIRECTS} redirects: not followed`);
    expect(api.requests).toHaveLength(MAX_REDIRECTS + 1);
  });

  test("a redirect without a Location is not followed", async () => {
    const api = await serve((_req, res) => res.writeHead(302).end());
    const error = await rejection(new ScatterGatherClient({ baseUrl: api.url }).list());
    expect(error).toMatchObject({ problem: "redirect", status: 302 });
    expect(error.message).toContain("without a usable Location");
  });

  test("the base URL must be http or https", () => {
    expect(() => new ScatterGatherClient({ baseUrl: "localhost:7071" })).toThrow(/absolute http or https URL/);
    expect(() => new ScatterGatherClient({ baseUrl: "ftp://x" })).toThrow(/absolute http or https URL/);
  });
});

describe("answers are bounded and checked", () => {
  /** Streams `chunk` again and again, as long as the client reads; records how many bytes went out. */
  function endless(chunk: string, headers: http.OutgoingHttpHeaders = {}) {
    const state = { written: 0, closed: false };
    const handler = (_req: unknown, res: http.ServerResponse) => {
      res.writeHead(200, { "content-type": "application/json", ...headers });
      res.on("close", () => (state.closed = true));
      const pump = () => {
        while (!state.closed && state.written < 512 * 1024 * 1024) {
          state.written += chunk.length;
          if (!res.write(chunk)) return void res.once("drain", pump);
        }
      };
      res.write('{"items":["');
      pump();
    };
    return { state, handler };
  }

  test("an endless answer: the read stops at the bound with an error naming it, and the connection is dropped", async () => {
    const { state, handler } = endless("x".repeat(4096));
    const api = await serve(handler);
    const client = new ScatterGatherClient({ baseUrl: api.url, maxAnswerBytes: 64 * 1024 });
    const error = await rejection(client.list());
    expect(error).toBeInstanceOf(AnswerError);
    expect(error).toMatchObject({ problem: "too-large", status: 200 });
    expect(error.message).toBe("GET /api/scatter-gather answered 200 with a body larger than 64 KiB");
    for (const t0 = Date.now(); !state.closed && Date.now() - t0 < 5000;) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(state.closed).toBe(true);
    expect(state.written).toBeLessThan(8 * 1024 * 1024); // what the sockets buffered, not the whole
  });

  test("an answer that says it is larger than the bound is refused before it is read; the default bound is 16 MiB", async () => {
    const api = await serve((_req, res) => {
      res.writeHead(200, { "content-type": "application/json", "content-length": String(128 * 1024 * 1024) });
      res.write("{");
    });
    const error = await rejection(new ScatterGatherClient({ baseUrl: api.url }).get("g"));
    expect(error.message).toBe("GET /api/scatter-gather/g answered 200 with a body larger than 16 MiB");
  });

  test("an answer within the bound is read whole, multi-byte characters split across chunks included", async () => {
    const id = "é".repeat(3000);
    const api = await serve((_req, res) => {
      const bytes = Buffer.from(JSON.stringify(gatherStatus(id)));
      res.writeHead(200, { "content-type": "application/json" });
      for (let i = 0; i < bytes.length; i += 7) res.write(bytes.subarray(i, i + 7));
      res.end();
    });
    expect((await new ScatterGatherClient({ baseUrl: api.url, maxAnswerBytes: 16 * 1024 }).get("g")).id).toBe(id);
  });

  test("a 200 that is not JSON, is empty, or is JSON of another shape: an AnswerError saying what was wrong", async () => {
    const answers: Array<[string, string, string]> = [
      ["text/html", "<html>sign in</html>", "with a body that is not JSON (text/html, 20 characters)"],
      ["application/json", "", "with a body that is not JSON (empty)"],
      [
        "application/json",
        "{}",
        "with a body that is not a GatherStatus: missing field id; missing field runtimeStatus; missing field createdTime; and 3 more",
      ],
      ["application/json", "[]", "with a body that is not a GatherStatus: Invalid input: expected object, received array"],
      [
        "application/json",
        JSON.stringify({ ...gatherStatus("g"), runtimeStatus: "Sideways" }),
        "with a body that is not a GatherStatus: field runtimeStatus: Invalid option",
      ],
      [
        "application/json",
        JSON.stringify(
          gatherStatus("g", { progress: { phase: "gathering", total: -1, succeeded: 0, failed: 0, pending: 0, deadline: null } }),
        ),
        "with a body that is not a GatherStatus: field progress.total: Too small",
      ],
    ];
    let next = 0;
    const api = await serve((_req, res) => {
      const [type, body] = answers[next++];
      res.writeHead(200, { "content-type": type }).end(body);
    });
    const client = new ScatterGatherClient({ baseUrl: api.url });
    for (const [, , message] of answers) {
      const error = await rejection(client.get("g"));
      expect(error).toBeInstanceOf(AnswerError);
      expect(error.message).toContain(`GET /api/scatter-gather/g answered 200 ${message}`);
    }
  });

  test("each call checks its own answer's shape: list, responses (with the offset asked for), start, terminate", async () => {
    const api = await serve((req, res) => {
      if (req.path.includes("/responses")) return sendJson(res, 200, { items: [], offset: 5, limit: 100, total: 0, nextUri: null });
      if (req.path.includes("/terminate")) return sendJson(res, 202, { id: "g" });
      if (req.method === "POST") return sendJson(res, 202, { id: "g" });
      sendJson(res, 200, { items: [{ id: "g" }], continuationToken: null, nextUri: null });
    });
    const client = new ScatterGatherClient({ baseUrl: api.url });
    expect((await rejection(client.list())).message).toContain("not a GatherList: missing field items[0].runtimeStatus");
    expect((await rejection(client.responses("g", { offset: 0 }))).message).toContain(
      "not a ResponsesPage: field offset: 5, not the 0 asked for",
    );
    expect((await rejection(client.start({}))).message).toContain("not a ManagementUrls: missing field statusQueryGetUri");
    expect((await rejection(client.terminate("g"))).message).toContain("not a TerminateAccepted: missing field terminated");
  });

  test("waitFor gives up on a malformed status instead of polling forever", async () => {
    const api = await serve((_req, res) => sendJson(res, 200, { id: "g" }));
    const error = await rejection(new ScatterGatherClient({ baseUrl: api.url }).waitFor("g", { intervalMs: 10 }));
    expect(error.message).toContain("missing field runtimeStatus");
    expect(api.requests).toHaveLength(1);
  });

  test("waitFor reads the status again while the app is unreachable or failing (429, 5xx), and only for a while; a 404 ends it", async () => {
    let n = 0;
    const api = await serve((_req, res) => {
      n++;
      if (n === 1) return res.destroy(); // no answer at all
      if (n === 2) return sendJson(res, 503, { error: { code: "unavailable", message: "starting" } });
      if (n === 3) return sendJson(res, 429, { error: { code: "throttled", message: "slow down" } });
      sendJson(res, 200, gatherStatus("g"));
    });
    const client = new ScatterGatherClient({ baseUrl: api.url });
    expect((await client.waitFor("g", { intervalMs: 10 })).runtimeStatus).toBe("Completed");
    expect(api.requests).toHaveLength(4);

    const down = await serve((_req, res) => sendJson(res, 502, { error: { code: "bad_gateway", message: "down" } }));
    const t0 = Date.now();
    const error = await rejection(new ScatterGatherClient({ baseUrl: down.url }).waitFor("g", { intervalMs: 10, retryForMs: 300 }));
    expect(error).toMatchObject({ status: 502 });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(300);
    expect(down.requests.length).toBeGreaterThan(1);

    const gone = await serve((_req, res) => sendJson(res, 404, { error: { code: "not_found", message: "no such gather" } }));
    expect(await rejection(new ScatterGatherClient({ baseUrl: gone.url }).waitFor("g", { intervalMs: 10 }))).toMatchObject({ status: 404 });
    expect(gone.requests).toHaveLength(1);
  });

  test("allResponses of one status while the gather runs: the whole list, filtered here (a filtered list shifts under its pages)", async () => {
    const entries = Array.from({ length: 5 }, (_, i) => ({ recipientId: `r${i}`, status: i % 2 ? "succeeded" : "pending" }));
    let runtimeStatus: "Running" | "Completed" = "Running";
    const api = await serve((req, res) => {
      const url = new URL(req.path, "http://x");
      if (url.pathname === "/api/scatter-gather/g")
        return sendJson(res, 200, gatherStatus("g", { runtimeStatus, result: null, progress: null }));
      const [offset, limit, status] = [
        Number(url.searchParams.get("offset")),
        Number(url.searchParams.get("limit")),
        url.searchParams.get("status"),
      ];
      const matching = status ? entries.filter((e) => e.status === status) : entries;
      const items = matching.slice(offset, offset + limit);
      sendJson(res, 200, {
        items,
        offset,
        limit,
        total: matching.length,
        nextUri: offset + items.length < matching.length ? "http://x/" : null,
      });
    });
    const client = new ScatterGatherClient({ baseUrl: api.url });
    expect((await client.allResponses("g", { status: "pending", limit: 2 })).map((e) => e.recipientId)).toEqual(["r0", "r2", "r4"]);
    expect(api.requests.filter((r) => r.path.includes("status="))).toEqual([]);
    runtimeStatus = "Completed";
    expect((await client.allResponses("g", { status: "pending", limit: 2 })).map((e) => e.recipientId)).toEqual(["r0", "r2", "r4"]);
    expect(api.requests.filter((r) => r.path.includes("status=pending"))).toHaveLength(2); // the server's filter, once ended
  });

  test("error answers: the API's message and details when well-formed, nothing made up when not", async () => {
    const bodies = [
      { error: { code: "invalid_request", message: "bad", details: [{ path: "a", message: "m" }, { path: 1 }, "x"] } },
      { error: { message: { not: "a string" }, details: "nope", code: 7 } },
      "<html>",
    ];
    const api = await serve((_req, res) => {
      const body = bodies.shift();
      res.writeHead(400, { "content-type": "application/json" }).end(typeof body === "string" ? body : JSON.stringify(body));
    });
    const client = new ScatterGatherClient({ baseUrl: api.url });
    const first = (await rejection(client.list())) as ApiError;
    expect([first.message, first.details, first.code]).toEqual([
      "GET /api/scatter-gather answered 400: bad",
      [{ path: "a", message: "m" }],
      "invalid_request",
    ]);
    const second = (await rejection(client.list())) as ApiError;
    expect([second.message, second.details, second.code]).toEqual(["GET /api/scatter-gather answered 400", [], undefined]);
    const third = (await rejection(client.list())) as ApiError;
    expect([third.message, third.body]).toEqual(["GET /api/scatter-gather answered 400", "<html>"]);
  });
});

test("a request that gets no answer names its method, URL and cause, with a key its URL carries left out", async () => {
  const failing = (async (url: string) => {
    // The first request is redirected (same origin) to a URL that carries a key, as a status URL does; that one fails.
    if (!/code=/i.test(url)) return new Response(null, { status: 307, headers: { location: "/api/scatter-gather?top=1&Code=SYSTEMKEY" } });
    throw new TypeError("fetch failed", { cause: Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" }) });
  }) as unknown as typeof fetch;
  const client = new ScatterGatherClient({ baseUrl: "http://127.0.0.1:1", fetch: failing });
  const error = await rejection(client.list({ top: 1 }));
  expect(error.message).toBe("GET http://127.0.0.1:1/api/scatter-gather?top=1 failed: ECONNREFUSED (connect ECONNREFUSED 127.0.0.1:1)");
  expect(error.message).not.toContain("SYSTEMKEY");
});
