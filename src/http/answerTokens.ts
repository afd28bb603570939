/**
 * Capability tokens of answer URLs (API.md, "Answer URLs"): a URL the service hands a third party so that
 * it can answer (an auction's `respondUrl`) points at an anonymous route and carries a token bound to the
 * gather's instance id and run (and, where given, one recipient). Anyone holding the URL may answer that
 * gather, and nothing else: no function key or system key (`sendEventPostUri` carries one) ever leaves the app.
 *
 * token = base64url(HMAC-SHA256(key, "answer-url/v1\n<instanceId>\n<runId>\n<recipientId>")), checked in
 * constant time. The key is the app setting ANSWER_TOKEN_SECRET (infra/ generates it once per environment).
 * Under `func start` or `npm start` (AZURE_FUNCTIONS_ENVIRONMENT=Development) without the setting, the app
 * generates a key once and keeps it in the payload store, so every worker and every restart agree.
 * Tokens are made in activities and HTTP functions only: never in orchestrator code, whose inputs and
 * outputs are history (a token there would show in status JSON with showHistory).
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { PayloadStore } from "../payload/store";

export interface TokenScope {
  instanceId: string;
  runId: string;
  /** A token for one recipient's answers only (callback and queue recipients). */
  recipientId?: string;
}

export const ANSWER_TOKEN_SETTING = "ANSWER_TOKEN_SECRET";
/** The query parameter answer URLs carry their token in. */
export const TOKEN_PARAMETER = "token";
const MIN_SECRET_LENGTH = 32;
/** `~` is outside the instance id alphabet: no gather's folder (and no DELETE) can reach this key. */
export const GENERATED_KEY_BLOB = "~secrets/answer-token-key";

export function answerToken(key: Uint8Array, scope: TokenScope): string {
  return createHmac("sha256", key)
    .update(["answer-url/v1", scope.instanceId, scope.runId, scope.recipientId ?? ""].join("\n"))
    .digest("base64url");
}

/** Whether `token` is the scope's token, compared in constant time. */
export function tokenMatches(key: Uint8Array, scope: TokenScope, token: unknown): boolean {
  if (typeof token !== "string") return false;
  const expected = Buffer.from(answerToken(key, scope));
  const given = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** `url` with the scope's token. */
export function withToken(url: string, key: Uint8Array, scope: TokenScope): string {
  const out = new URL(url);
  out.searchParams.set(TOKEN_PARAMETER, answerToken(key, scope));
  return out.href;
}

let cachedKey: Promise<Uint8Array> | undefined;

/** The HMAC key of this app (see the file header); cached per process. */
export function answerTokenKey(store: () => PayloadStore, env: NodeJS.ProcessEnv = process.env): Promise<Uint8Array> {
  cachedKey ??= resolveKey(store, env).catch((error: unknown) => {
    cachedKey = undefined;
    throw error;
  });
  return cachedKey;
}

/** Forgets the cached key (tests). */
export function resetAnswerTokenKey(): void {
  cachedKey = undefined;
}

async function resolveKey(store: () => PayloadStore, env: NodeJS.ProcessEnv): Promise<Uint8Array> {
  const secret = env[ANSWER_TOKEN_SETTING]?.trim();
  if (secret) {
    if (secret.length < MIN_SECRET_LENGTH)
      throw new Error(`App setting ${ANSWER_TOKEN_SETTING} must be at least ${MIN_SECRET_LENGTH} characters long`);
    return Buffer.from(secret, "utf8");
  }
  if (env.AZURE_FUNCTIONS_ENVIRONMENT !== "Development") {
    throw new Error(
      `App setting ${ANSWER_TOKEN_SETTING} is not set: answer URLs can be neither made nor checked (infra/ sets it; ` +
        "under func start or npm start the app generates one)",
    );
  }
  // Put-if-absent: the first writer wins, everyone reads the stored key.
  const payloads = store();
  const offered = randomBytes(32).toString("base64url");
  const put = await payloads.putText(GENERATED_KEY_BLOB, offered, { contentType: "text/plain" });
  const stored = put.identical ? offered : await payloads.getText(GENERATED_KEY_BLOB);
  return Buffer.from(stored.trim(), "utf8");
}
