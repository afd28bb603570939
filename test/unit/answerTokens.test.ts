/** Capability tokens of answer URLs (src/http/answerTokens.ts). */
import { AppSettingError, resetAppSecrets } from "../../src/http/appSecrets";
import { answerToken, answerTokenKey, GENERATED_KEY_BLOB, tokenMatches, withToken } from "../../src/http/answerTokens";
import { MemoryPayloadStore } from "../../src/payload";

const key = Buffer.from("k".repeat(32));
const scope = { instanceId: "rfq-7", runId: "20261206T000000000Z-abcdef" };

afterEach(() => resetAppSecrets());

describe("answer tokens", () => {
  test("bound to the instance, the run and the recipient; unguessable length; URL-safe", () => {
    const token = answerToken(key, scope);
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(tokenMatches(key, scope, token)).toBe(true);
    for (const other of [
      { ...scope, instanceId: "rfq-8" },
      { ...scope, runId: "20261206T000000000Z-abcdee" },
      { ...scope, recipientId: "acme" },
    ])
      expect(tokenMatches(key, other, token)).toBe(false);
    expect(tokenMatches(Buffer.from("j".repeat(32)), scope, token)).toBe(false);
    expect(tokenMatches(key, scope, undefined)).toBe(false);
    expect(tokenMatches(key, scope, token.slice(1))).toBe(false);
    expect(tokenMatches(key, { ...scope, recipientId: "acme" }, answerToken(key, { ...scope, recipientId: "acme" }))).toBe(true);
  });

  test("withToken keeps the URL and adds the token as a query parameter", () => {
    const url = withToken("http://localhost:7071/api/scatter-gather/rfq-7/answers", key, scope);
    expect(new URL(url).searchParams.get("token")).toBe(answerToken(key, scope));
    expect(url.startsWith("http://localhost:7071/api/scatter-gather/rfq-7/answers?token=")).toBe(true);
  });

  test("the key: ANSWER_TOKEN_SECRET when set (at least 32 characters)", async () => {
    const store = new MemoryPayloadStore();
    expect(Buffer.from(await answerTokenKey(() => store, { ANSWER_TOKEN_SECRET: "x".repeat(32) })).toString()).toBe("x".repeat(32));
    resetAppSecrets();
    await expect(answerTokenKey(() => store, { ANSWER_TOKEN_SECRET: "short" })).rejects.toThrow(/at least 32 characters/);
    expect(await store.stat(GENERATED_KEY_BLOB)).toBeUndefined();
  });

  test("Development without the setting: generated once, kept in the payload store, the same for every process", async () => {
    const store = new MemoryPayloadStore();
    const env = { AZURE_FUNCTIONS_ENVIRONMENT: "Development" };
    const first = Buffer.from(await answerTokenKey(() => store, env));
    resetAppSecrets(); // another worker, or a restart
    const second = Buffer.from(await answerTokenKey(() => store, env));
    expect(second.equals(first)).toBe(true);
    expect(first.length).toBeGreaterThanOrEqual(32);
    expect(await store.stat(GENERATED_KEY_BLOB)).toBeDefined();
  });

  test("anywhere else without the setting: an error naming it, and no key is made", async () => {
    const store = new MemoryPayloadStore();
    await expect(answerTokenKey(() => store, {})).rejects.toThrow(/ANSWER_TOKEN_SECRET is not set/);
    expect(await store.stat(GENERATED_KEY_BLOB)).toBeUndefined();
  });

  test("a value too short: the same error kind, naming the setting and what is wrong (the routes answer 500 misconfigured)", async () => {
    const store = new MemoryPayloadStore();
    const refused = answerTokenKey(() => store, { ANSWER_TOKEN_SECRET: "short" });
    await expect(refused).rejects.toBeInstanceOf(AppSettingError);
    await expect(refused).rejects.toThrow(/^App setting ANSWER_TOKEN_SECRET is not usable: it must be at least \d+ characters long$/);
  });
});
