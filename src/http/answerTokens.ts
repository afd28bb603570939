/**
 * Capability tokens of answer URLs (API.md, "Answer URLs"): a URL the service hands a third party so that
 * it can answer (an auction's `respondUrl`) points at an anonymous route and carries a token bound to the
 * gather's instance id and run (and, where given, one recipient). Anyone holding the URL may answer that
 * gather, and nothing else: no function key or system key (`sendEventPostUri` carries one) ever leaves the app.
 *
 * token = base64url(HMAC-SHA256(key, "answer-url/v1\n<instanceId>\n<runId>\n<recipientId>")), checked in
 * constant time. The key is the app setting ANSWER_TOKEN_SECRET (infra/ generates it once per environment).
 * Under `func start` or `npm start` without the setting, the app generates a key once (appSecrets.ts).
 * Tokens are made in activities and HTTP functions only: never in orchestrator code, whose inputs and
 * outputs are history (a token there would show in status JSON with showHistory).
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import type { PayloadStore } from "../payload/store";
import { formatRecipientToken, parseRecipientToken, recipientScope } from "../gather/replies";
import type { RunRef } from "../gather/types";
import { appSecret, randomSecret, type SecretSpec } from "./appSecrets";

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

/** A callback or queue recipient's token (`<index>.<mac>`, gather/replies.ts): bound to the gather, the run and the recipient. */
export function recipientToken(key: Uint8Array, run: RunRef, index: number, recipientId: string): string {
  return formatRecipientToken(index, answerToken(key, { ...run, recipientId: recipientScope(index, recipientId) }));
}

/**
 * Whether `token` is a recipient token of this run for a recipient of `recipients`; that recipient's index if so.
 * Constant time in the MAC (the index only says which recipient's MAC to compute).
 */
export function recipientOfToken(key: Uint8Array, run: RunRef, recipients: readonly { id: string }[], token: string): number | undefined {
  const parsed = parseRecipientToken(token);
  const recipient = parsed && recipients[parsed.index];
  if (!parsed || !recipient) return undefined;
  return tokenMatches(key, { ...run, recipientId: recipientScope(parsed.index, recipient.id) }, parsed.mac) ? parsed.index : undefined;
}

const ANSWER_TOKEN_KEY: SecretSpec = {
  setting: ANSWER_TOKEN_SETTING,
  decode(value) {
    if (value.length < MIN_SECRET_LENGTH) throw new Error(`must be at least ${MIN_SECRET_LENGTH} characters long`);
    return Buffer.from(value, "utf8");
  },
  generate: randomSecret,
  blob: GENERATED_KEY_BLOB,
};

/** The HMAC key of this app's answer tokens (see the file header and appSecrets.ts). */
export function answerTokenKey(store: () => PayloadStore, env: NodeJS.ProcessEnv = process.env): Promise<Uint8Array> {
  return appSecret(ANSWER_TOKEN_KEY, store, env);
}
