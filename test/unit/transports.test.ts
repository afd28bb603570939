/**
 * The transport registry (src/gather/transports/index.ts) is the single place recipient kinds are told
 * apart: every transport it lists goes request body → validation → stored list (JSON) → delivery →
 * dependency through the registry alone, and no field belongs to two transports.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { QueueAllowlist, UrlAllowlist } from "../../src/gather/allowlist";
import { deliver, RecipientError } from "../../src/gather/deliver";
import { DEFAULT_LIMITS } from "../../src/gather/limits";
import { validateGatherRequest } from "../../src/gather/schema";
import { recipientDependency, TRANSPORTS, type Recipient } from "../../src/gather/transports";
import type { Json } from "../../src/gather/types";

let server: http.Server;
let base: string;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const { recipientId } = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { recipientId: string };
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ from: recipientId, method: req.method }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const limits = { ...DEFAULT_LIMITS, recipientUrlAllowlist: ["http://127.0.0.1:*"], recipientQueueAllowlist: ["quotes-*"] };
/** Messages the queue transport put, by queue. */
const sent: { queue: string; text: string }[] = [];
const options = () => ({
  maxResponseBytes: 65536,
  allowlist: new UrlAllowlist(["http://127.0.0.1:*"]),
  queueAllowlist: new QueueAllowlist(["quotes-*"]),
  queues: { send: async (queue: string, text: string) => void sent.push({ queue, text }) },
  random: () => 0.5,
  sleep: async () => undefined,
});
/** What a recipient that replies later gets (callRecipient makes it); the others ignore it. */
const reply = {
  respondUrl: "http://h/api/scatter-gather/g1/answers?token=0.t",
  requestUrl: "http://h/api/scatter-gather/g1/request?token=0.t",
  token: "0.t",
};

/** Per transport: a request-shaped recipient, its normalized form, its answer and its dependency type. */
const cases: Record<string, () => { given: Record<string, unknown>; normalized: Recipient; value: Json; dependencyType: string }> = {
  http: () => ({
    given: { id: "acme", url: `${base}/quote`, method: "PUT" },
    normalized: { id: "acme", url: `${base}/quote`, method: "PUT", timeoutMs: 10_000 },
    value: { from: "acme", method: "PUT" },
    dependencyType: "HTTP",
  }),
  simulated: () => ({
    given: { id: "sim-1", simulate: { value: { price: 42 } } },
    normalized: { id: "sim-1", simulate: { latencyMs: 0, failureRate: 0, value: { price: 42 } } },
    value: { price: 42 },
    dependencyType: "Simulated",
  }),
  queue: () => ({
    given: { id: "q-1", queue: "quotes-acme" },
    normalized: { id: "q-1", queue: "quotes-acme" },
    // Put on the queue = acknowledged: the answer comes later, as a reply.
    value: null,
    dependencyType: "Azure queue",
  }),
};

describe("transport registry", () => {
  test("every listed transport has a round-trip case here, and the list has no other", () => {
    expect(TRANSPORTS.map((t) => t.name).sort()).toEqual(Object.keys(cases).sort());
  });

  test.each(TRANSPORTS.map((t) => t.name))("%s: schema → stored list (JSON) → delivery → dependency", async (name) => {
    const { given, normalized, value, dependencyType } = cases[name]();
    const validation = validateGatherRequest({ request: { q: 1 }, recipients: [given], completion: { timeoutMs: 1000 } }, limits);
    expect(validation).toEqual({ ok: true, value: expect.objectContaining({ recipients: [normalized] }) });
    // recipients.json holds the normalized recipients as JSON; what is read back delivers the same.
    const [stored] = JSON.parse(JSON.stringify(validation.ok ? validation.value.recipients : [])) as Recipient[];
    const answer = await deliver({ requestId: "g1", recipient: stored, request: { q: 1 }, reply }, options());
    expect(answer.value).toEqual(value);
    expect(recipientDependency(stored, { success: true }).type).toBe(dependencyType);
  });

  test.each(TRANSPORTS.map((t) => t.name))("%s: input (null included) is kept through the stored list", (name) => {
    const { given, normalized } = cases[name]();
    for (const input of [null, { part: 3 }]) {
      const validation = validateGatherRequest({ request: 1, recipients: [{ ...given, input }], completion: { timeoutMs: 1000 } }, limits);
      const recipients = validation.ok ? validation.value.recipients : [];
      expect(JSON.parse(JSON.stringify(recipients))).toEqual([{ ...normalized, input }]);
    }
  });

  test("no field belongs to two transports, and each marker is one of its own fields", () => {
    const keys = TRANSPORTS.flatMap((t) => Object.keys(t.fields));
    expect(new Set(keys).size).toBe(keys.length);
    expect(keys).not.toContain("id");
    expect(keys).not.toContain("input");
    for (const t of TRANSPORTS) expect(Object.keys(t.fields)).toContain(t.marker);
  });

  test("the marker rule names every transport's marker", () => {
    const markers = TRANSPORTS.map((t) => t.marker);
    const v = validateGatherRequest({ request: 1, recipients: [{ id: "x" }] }, limits);
    expect(v).toEqual({
      ok: false,
      details: [{ path: "recipients[0]", message: `must have exactly one of ${markers.slice(0, -1).join(", ")} or ${markers.at(-1)}` }],
    });
  });

  test("a stored recipient of no known transport is refused, not guessed", async () => {
    const unknown = { id: "x", carrierPigeon: {} } as unknown as Recipient;
    await expect(deliver({ requestId: "g1", recipient: unknown, request: null }, options())).rejects.toThrow(
      'recipient "x" has no known transport',
    );
    await expect(deliver({ requestId: "g1", recipient: unknown, request: null }, options())).rejects.not.toBeInstanceOf(RecipientError);
  });
});
