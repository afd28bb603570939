/**
 * The typed client (src/client) against fake servers on 127.0.0.1, no Functions host: it sends its key and
 * bodies only to the origin it was given (redirects to another origin refused, never followed).
 */
import { AnswerError, MAX_REDIRECTS, ScatterGatherClient } from "../../src/client";
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
