/**
 * Combinations a hostile trial broke: retries under a deadline in every mode (URL and simulated
 * recipients), a gather decided while another recipient waits on a long retry, public URLs that ignore
 * the Host header, instance ids a client cannot take from a gather's batches, the auction answer cap.
 */
import * as http from "node:http";
import {
  keyedFetch,
  keysFor,
  listInstanceIds,
  ownsHost,
  pollUntil,
  recipientServer,
  runGather,
  startOk,
  uniqueId,
  useTarget,
  withHost,
  type AnyJson,
} from "./harness";

const target = useTarget();
jest.setTimeout(60_000);

const healthy = { id: "good", simulate: { latencyMs: 50, value: { ok: 1 } } };

describe("retry under a deadline", () => {
  for (const mode of ["all", "first", "quorum"] as const) {
    for (const kind of ["simulated", "URL"] as const) {
      test(`${mode}, ${kind} recipient failing every attempt: the gather completes, no failed orchestration`, async () => {
        const srv = await recipientServer(() => ({ status: 503 }));
        const bad =
          kind === "URL" ? { id: "bad", url: `${srv.url}/q`, timeoutMs: 2000 } : { id: "bad", simulate: { latencyMs: 10, failureRate: 1 } };
        const completion = { mode, timeoutMs: 20_000, ...(mode === "quorum" ? { quorum: 1 } : {}) };
        const status = await runGather(target, {
          request: 1,
          recipients: [bad, healthy],
          completion,
          retry: { maxAttempts: 3, firstRetryIntervalMs: 100 },
        });
        expect(status.runtimeStatus).toBe("Completed");
        expect(status.result.outcome).toBe("complete");
        const badResponse = status.result.responses[0];
        if (mode === "all") {
          expect(badResponse).toMatchObject({ status: "failed", attempts: 3 });
          if (kind === "URL") expect(srv.count).toBe(3);
        } else {
          expect(["failed", "abandoned"]).toContain(badResponse.status);
        }
      });
    }
  }

  test("the trial's request completes as failed after 2 attempts", async () => {
    const status = await runGather(target, {
      id: uniqueId("h1"),
      request: 1,
      recipients: [{ id: "bad", simulate: { latencyMs: 10, failureRate: 1 } }],
      retry: { maxAttempts: 2, firstRetryIntervalMs: 100 },
      completion: { timeoutMs: 20_000 },
    });
    expect(status.runtimeStatus).toBe("Completed");
    expect(status.result).toMatchObject({ outcome: "failed", closedBy: "all-failed" });
    expect(status.result.responses[0]).toMatchObject({ status: "failed", attempts: 2, error: "simulated failure (failureRate 1)" });
  });

  test("a gather decided by its first answer completes while another recipient waits on a 600 s retry", async () => {
    const t0 = Date.now();
    const status = await runGather(target, {
      request: 1,
      recipients: [
        { id: "slow-retry", simulate: { latencyMs: 0, failureRate: 1 } },
        { id: "good", simulate: { latencyMs: 300, value: 1 } },
      ],
      completion: { mode: "first", timeoutMs: 3_600_000 },
      retry: { maxAttempts: 3, firstRetryIntervalMs: 600_000 },
    });
    expect(status.runtimeStatus).toBe("Completed");
    expect(status.result).toMatchObject({ outcome: "complete", closedBy: "first-response" });
    expect(status.result.responses[0]).toMatchObject({ recipientId: "slow-retry", status: "abandoned" });
    expect(status.progress.phase).toBe("done");
    expect(Date.now() - t0).toBeLessThan(15_000);
  });
});

describe("public URLs come from configuration, never from the Host header", () => {
  (ownsHost ? test : test.skip)("a start with Host: attacker.invalid gets the host's own URLs; bidders get its respondUrl", async () => {
    const bidder = await recipientServer(() => ({ json: { ok: true } }));
    const id = uniqueId("host-header");
    const body = JSON.stringify({
      id,
      request: 1,
      auction: { notify: [`${bidder.url}/rfq`], expected: 1 },
      completion: { timeoutMs: 30_000 },
    });
    const answer = await rawPost(target.host!.port, "/api/scatter-gather", body, { Host: "attacker.invalid" });
    expect(answer.status).toBe(202);
    const urls = JSON.parse(answer.body) as Record<string, string>;
    for (const key of ["statusQueryGetUri", "sendEventPostUri", "terminatePostUri", "purgeHistoryDeleteUri"]) {
      expect(new URL(urls[key]).host).toBe(`localhost:${target.host!.port}`);
    }
    expect(answer.headers.location).toBe(urls.statusQueryGetUri);
    await bidder.waitForCalls(1);
    expect(bidder.calls[0].body.respondUrl).toMatch(
      new RegExp(`^http://localhost:${target.host!.port}/api/scatter-gather/${id}/answers\\?token=[A-Za-z0-9_-]{43}$`),
    );
  });

  (ownsHost ? test : test.skip)("PUBLIC_BASE_URL replaces the origin of every public URL", async () => {
    await withHost({ env: { PUBLIC_BASE_URL: "https://gather.example.com" } }, async (host) => {
      const bidder = await recipientServer(() => ({ json: { ok: true } }));
      const id = uniqueId("public");
      const answer = await rawPost(
        host.port,
        "/api/scatter-gather",
        JSON.stringify({ id, request: 1, auction: { notify: [`${bidder.url}/rfq`] }, completion: { timeoutMs: 30_000 } }),
      );
      expect(answer.status).toBe(202);
      const urls = JSON.parse(answer.body) as Record<string, string>;
      expect(urls.statusQueryGetUri.startsWith("https://gather.example.com/runtime/webhooks/durabletask/instances/")).toBe(true);
      await bidder.waitForCalls(1);
      expect(bidder.calls[0].body.respondUrl).toMatch(
        new RegExp(`^https://gather\\.example\\.com/api/scatter-gather/${id}/answers\\?token=`),
      );
    });
  });
});

describe("instance ids", () => {
  (ownsHost ? test : test.skip)("a client's instance named like a batch does not collide with the gather's batches", async () => {
    await withHost({ env: { FANOUT_BATCH_SIZE: "2" } }, async (host) => {
      const site = { baseUrl: host.url };
      const id = uniqueId("x");
      // The trial: start "<id>:batch:0" (a valid user id) first and keep it running...
      await startOk(site, { id: `${id}:batch:0`, request: 1, recipients: [{ id: "hold", simulate: { latencyMs: 30_000 } }] });
      // ...then the gather "<id>" with batches: none of its recipients may fail for the name clash.
      const { id: gatherId } = await startOk(site, {
        id,
        request: 1,
        recipients: ["a", "b", "c", "d", "e"].map((r) => ({ id: r, simulate: { value: r } })),
      });
      const status = await pollUntil(site, gatherId, (s) => s.runtimeStatus !== "Running", 20_000);
      expect(status.result).toMatchObject({ outcome: "complete", counts: { total: 5, succeeded: 5, failed: 0 } });
      // And the batches' own ids cannot be taken: "~" is outside the id alphabet.
      const refused = await keyedFetch(`${host.url}/api/scatter-gather`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ id: `${id}~batch-0`, request: 1, recipients: [healthy] }),
      });
      expect(refused.status).toBe(400);
      expect(((await refused.json()) as AnyJson).error.details[0].path).toBe("id");
    });
  });
});

describe("auction answer cap", () => {
  (ownsHost ? test : test.skip)("without expected, an auction takes at most MAX_RECIPIENTS answers, then closes", async () => {
    await withHost({ env: { MAX_RECIPIENTS: "3" } }, async (host) => {
      const { id } = await startOk({ baseUrl: host.url }, { request: 1, auction: {}, completion: { timeoutMs: 60_000 } });
      for (let i = 0; i < 5; i++) {
        await keyedFetch(`${host.url}/runtime/webhooks/durabletask/instances/${id}/raiseEvent/response`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ responder: `r${i}`, value: i }),
        });
      }
      const status = await pollUntil({ baseUrl: host.url }, id, (s) => s.runtimeStatus !== "Running", 20_000);
      expect(status.result).toMatchObject({ closedBy: "all-responded", counts: { total: 3, succeeded: 3 } });
      expect(status.result.responses.map((r: AnyJson) => r.recipientId)).toEqual(["r0", "r1", "r2"]);
    });
  });
});

describe("terminate and delete reach the whole gather", () => {
  test("terminating a 1,200-recipient gather stops its batches and the calls still queued", async () => {
    const srv = await recipientServer(() => ({ json: { ok: 1 }, delayMs: 1500 }));
    const recipients = Array.from({ length: 1200 }, (_, i) => ({ id: `r${i}`, url: `${srv.url}/q` }));
    const { id } = await startOk(target, { request: 1, recipients });
    await srv.waitForCalls(100, 20_000);
    const terminate = await keyedFetch(`${target.baseUrl}/api/scatter-gather/${id}/terminate`, { method: "POST" });
    expect(terminate.status).toBe(202);
    expect(((await terminate.json()) as AnyJson).terminated).toBe(6); // the gather and its 5 batches (FANOUT_BATCH_SIZE 250)
    const atTerminate = srv.count;
    await new Promise((resolve) => setTimeout(resolve, 5000));
    // Without the check, every queued call still reached its recipient (1,200 in all). With it, at most
    // the calls dequeued within the status cache's second after the terminate.
    expect(srv.count).toBeLessThan(atTerminate + 600);
    expect(srv.count).toBeLessThan(1200);
    const status = await pollUntil(target, id, (s) => s.runtimeStatus !== "Running");
    expect(status.runtimeStatus).toBe("Terminated");
    const batchIds = (await listInstanceIds(target, `&instanceIdPrefix=${encodeURIComponent(`${id}~batch-`)}`)).filter((x) =>
      x.startsWith(`${id}~batch-`),
    );
    expect(batchIds).toHaveLength(5);
    const batch = await keyedFetch(`${target.baseUrl}/runtime/webhooks/durabletask/instances/${batchIds[0]}`);
    expect(((await batch.json()) as AnyJson).runtimeStatus).toBe("Terminated");

    // DELETE then removes the gather and every batch.
    const deleted = await keyedFetch(`${target.baseUrl}/api/scatter-gather/${id}`, { method: "DELETE" });
    expect(deleted.status).toBe(204);
    expect((await keyedFetch(`${target.baseUrl}/api/scatter-gather/${id}`)).status).toBe(404);
    for (const batchId of batchIds)
      expect((await keyedFetch(`${target.baseUrl}/runtime/webhooks/durabletask/instances/${batchId}`)).status).toBe(404);
  });

  test("DELETE of a running gather is a 409; of an unknown id a 404; terminate of a finished one a 410", async () => {
    const { id } = await startOk(target, { request: 1, recipients: [{ id: "slow", simulate: { latencyMs: 30_000 } }] });
    const running = await keyedFetch(`${target.baseUrl}/api/scatter-gather/${id}`, { method: "DELETE" });
    expect(running.status).toBe(409);
    expect(((await running.json()) as AnyJson).error.code).toBe("conflict");
    expect((await keyedFetch(`${target.baseUrl}/api/scatter-gather/${uniqueId("nobody")}`, { method: "DELETE" })).status).toBe(404);
    expect((await keyedFetch(`${target.baseUrl}/api/scatter-gather/${id}/terminate`, { method: "POST" })).status).toBe(202);
    await pollUntil(target, id, (s) => s.runtimeStatus === "Terminated");
    expect((await keyedFetch(`${target.baseUrl}/api/scatter-gather/${id}/terminate`, { method: "POST" })).status).toBe(410);
    expect((await keyedFetch(`${target.baseUrl}/api/scatter-gather/${id}`, { method: "DELETE" })).status).toBe(204);
  });
});

describe("calls in flight end soon after their gather stops", () => {
  test("terminate: the recipients' requests are aborted within seconds, not at their 30 s timeout", async () => {
    // Three URL recipients that never answer; the server notes when each request's connection closes.
    const open = new Set<http.IncomingMessage>();
    let received = 0;
    const server = http.createServer((req) => {
      received++;
      open.add(req);
      req.socket.on("close", () => open.delete(req));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/q`;
      const recipients = ["a", "b", "c"].map((id) => ({ id, url, timeoutMs: 30_000 }));
      const { id } = await startOk(target, { request: 1, recipients });
      await waitFor(() => received === 3 && open.size === 3, 10_000, "three calls in flight");
      const terminated = Date.now();
      expect((await keyedFetch(`${target.baseUrl}/api/scatter-gather/${id}/terminate`, { method: "POST" })).status).toBe(202);
      // Each call reads its gather's status every second while it runs (closing.ts) and ends once it says terminated.
      await waitFor(() => open.size === 0, 10_000, "the calls' connections to close");
      expect(Date.now() - terminated).toBeLessThan(10_000);
      expect(received).toBe(3);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const keyHeader = (key: string | undefined): Record<string, string> => (key ? { "x-functions-key": key } : {});

function rawPost(
  port: number,
  path: string,
  body: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: "127.0.0.1",
        port,
        path,
        method: "POST",
        headers: { "content-type": "application/json", ...keyHeader(keysFor(`http://127.0.0.1:${port}`).function), ...headers },
      },
      (res) => {
        let text = "";
        res.on("data", (d) => (text += d));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text, headers: res.headers }));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}
