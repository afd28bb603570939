/**
 * Keys and answer URLs, as Azure enforces them: the suite's host runs with --require-keys (harness.ts), so
 * every route but the anonymous ones needs a key, and bidders answer with nothing but their respondUrl.
 */
import {
  keysFor,
  ownsHost,
  pollUntil,
  postAnonymous,
  postJson,
  recipientServer,
  request,
  startOk,
  uniqueId,
  useTarget,
  withHost,
  type AnyJson,
} from "./harness";

const target = useTarget();
jest.setTimeout(60_000);

/** Starts an auction whose one notify URL records the respondUrl it is given. */
async function auction(expected = 2): Promise<{ id: string; respondUrl: string; sendEventPostUri: string }> {
  const bidder = await recipientServer(() => ({ status: 204, text: "" }));
  const started = await startOk(target, {
    id: uniqueId("keys"),
    request: { lot: 7 },
    auction: { notify: [`${bidder.url}/rfq`], expected },
    completion: { timeoutMs: 30_000 },
  });
  await bidder.waitForCalls(1);
  return { id: started.id, respondUrl: bidder.calls[0].body.respondUrl, sendEventPostUri: started.body.sendEventPostUri };
}

const withToken = (url: string, token: string) => {
  const out = new URL(url);
  out.searchParams.set("token", token);
  return out.href;
};

(ownsHost ? describe : describe.skip)("keys, as in Azure", () => {
  test("the management routes and the Durable webhooks without a key: 401; the anonymous ones answer", async () => {
    const { id } = await startOk(target, { request: 1, recipients: [{ id: "a", simulate: { value: 1 } }] });
    for (const [method, path] of [
      ["POST", "/api/scatter-gather"],
      ["GET", "/api/scatter-gather"],
      ["GET", `/api/scatter-gather/${id}`],
      ["GET", `/api/scatter-gather/${id}/responses`],
      ["POST", `/api/scatter-gather/${id}/responses`],
      ["POST", `/api/scatter-gather/${id}/terminate`],
      ["DELETE", `/api/scatter-gather/${id}`],
      ["GET", `/runtime/webhooks/durabletask/instances/${id}`],
      ["GET", "/admin/host/status"],
    ]) {
      const res = await fetch(`${target.baseUrl}${path}`, {
        method,
        headers: { "content-type": "application/json" },
        body: method === "POST" ? "{}" : undefined,
      });
      expect([method, path, res.status]).toEqual([method, path, 401]);
    }
    // A function key does not open the webhooks (the system or master key does), nor a wrong key anything.
    const functionKey = keysFor(target.baseUrl).function!;
    expect((await fetch(`${target.baseUrl}/runtime/webhooks/durabletask/instances/${id}?code=${functionKey}`)).status).toBe(403);
    expect((await fetch(`${target.baseUrl}/api/scatter-gather/${id}?code=not-a-key`)).status).toBe(401);
    expect((await fetch(`${target.baseUrl}/api/scatter-gather/${id}?code=${functionKey}`)).status).toBe(200);
    for (const path of ["/api/openapi.json", "/api/ui", "/api/ui/app.js"])
      expect((await fetch(`${target.baseUrl}${path}`)).status).toBe(200);
  });

  test("the management URLs carry the system key and work as they are", async () => {
    const started = await startOk(target, { request: 1, recipients: [{ id: "a", simulate: { value: 1 } }] });
    expect(new URL(started.body.statusQueryGetUri).searchParams.get("code")).toBeTruthy();
    const done = await pollUntil(target, started.id, (s) => s.runtimeStatus === "Completed");
    expect(done.result.outcome).toBe("complete");
    const status = await fetch(started.body.statusQueryGetUri);
    expect(status.status).toBe(200);
  });

  test("a bidder answers through its respondUrl with no key; another token, gather or run is 401", async () => {
    const first = await auction();
    const other = await auction();
    const token = new URL(first.respondUrl).searchParams.get("token")!;
    const otherToken = new URL(other.respondUrl).searchParams.get("token")!;
    expect(token).not.toBe(otherToken);

    const flipped = token.slice(0, -1) + (token.endsWith("A") ? "B" : "A");
    for (const url of [
      withToken(first.respondUrl, flipped), // the token changed
      withToken(first.respondUrl, otherToken), // another gather's token
      first.respondUrl.replace(/\?.*$/, ""), // none
    ]) {
      const res = await postAnonymous(url, { responder: "mallory", value: { price: 1 } });
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe("unauthorized");
      expect(res.text).not.toContain(token);
    }
    const answered = await postAnonymous(first.respondUrl, { responder: "bidder-1", value: { price: 10 } });
    expect(answered.status).toBe(202);
    // The operators' route with a key, too.
    expect(
      (await postJson(`${target.baseUrl}/api/scatter-gather/${first.id}/responses`, { responder: "bidder-2", value: { price: 9 } })).status,
    ).toBe(202);
    const done = await pollUntil(target, first.id, (s) => s.runtimeStatus === "Completed");
    expect(done.result.responses.map((r: AnyJson) => r.recipientId)).toEqual(["bidder-1", "bidder-2"]);

    // The token appears nowhere the service shows: status (with input and history), the responses route.
    const shown = [
      JSON.stringify(done),
      await (
        await fetch(
          `${first.sendEventPostUri.replace(/\/raiseEvent\/\{eventName\}/, "")}&showInput=true&showHistory=true&showHistoryOutput=true`,
        )
      ).text(),
      (await request(`${target.baseUrl}/api/scatter-gather/${first.id}/responses`)).text,
      (await request(`${target.baseUrl}/api/scatter-gather?top=100`)).text,
    ];
    for (const text of shown) expect(text).not.toContain(token);
    // After the close: 410 with the right token, 401 with a wrong one.
    expect((await postAnonymous(first.respondUrl, { responder: "late", value: 1 })).status).toBe(410);
    expect((await postAnonymous(withToken(first.respondUrl, flipped), { responder: "late", value: 1 })).status).toBe(401);
  });

  test("a restarted auction id: the earlier run's token no longer opens it", async () => {
    const first = await auction(1);
    expect((await postAnonymous(first.respondUrl, { responder: "b1", value: 1 })).status).toBe(202);
    await pollUntil(target, first.id, (s) => s.runtimeStatus === "Completed");
    const bidder = await recipientServer(() => ({ status: 204, text: "" }));
    await startOk(target, {
      id: first.id,
      request: 2,
      auction: { notify: [`${bidder.url}/rfq`], expected: 1 },
      completion: { timeoutMs: 30_000 },
    });
    await bidder.waitForCalls(1);
    expect((await postAnonymous(first.respondUrl, { responder: "b1", value: 1 })).status).toBe(401);
    expect((await postAnonymous(bidder.calls[0].body.respondUrl, { responder: "b1", value: 2 })).status).toBe(202);
  });
});

(ownsHost ? describe : describe.skip)("the list route never leaves the app", () => {
  test("with WEBSITE_HOSTNAME and PUBLIC_BASE_URL naming a port that refuses connections, listing still works", async () => {
    // Port 9 (discard) on loopback: nothing listens there, so any call to the public URLs would fail.
    await withHost({ env: { WEBSITE_HOSTNAME: "127.0.0.1:9", PUBLIC_BASE_URL: "http://127.0.0.1:9" } }, async (host) => {
      const site = { baseUrl: host.url };
      const started = await startOk(site, { request: 1, recipients: [{ id: "a", simulate: { value: 1 } }] });
      expect(new URL(started.body.statusQueryGetUri).host).toBe("127.0.0.1:9");
      await pollUntil(site, started.id, (s) => s.runtimeStatus === "Completed");
      const listed = await fetch(`${host.url}/api/scatter-gather?top=5`, { headers: { "x-functions-key": keysFor(host.url).function! } });
      expect(listed.status).toBe(200);
      const body = (await listed.json()) as AnyJson;
      expect(body.items.map((i: AnyJson) => i.id)).toContain(started.id);
    });
  });
});

(ownsHost ? describe : describe.skip)("an app setting the token routes need, missing in Azure", () => {
  test("without ANSWER_TOKEN_SECRET outside Development, the answers route answers 500 naming it (not a bare 500)", async () => {
    // Outside Development the app never generates the secret: infra/ sets it in Azure.
    await withHost({ env: { AZURE_FUNCTIONS_ENVIRONMENT: "Production", ANSWER_TOKEN_SECRET: "" } }, async (host) => {
      const site = { baseUrl: host.url };
      const started = await startOk(site, { request: 1, recipients: [{ id: "a", simulate: { value: 1 } }] });
      const res = await fetch(`${host.url}/api/scatter-gather/${started.id}/answers?token=x`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ value: 1 }),
      });
      expect(res.status).toBe(500);
      expect(((await res.json()) as AnyJson).error).toMatchObject({
        code: "misconfigured",
        message: expect.stringMatching(/^App setting ANSWER_TOKEN_SECRET is not set/),
      });
    });
  });
});
