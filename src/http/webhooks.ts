/**
 * Sending a signed close event (gather/closeEvent.ts) to an `onClose` URL. The signing secret is the app
 * setting WEBHOOK_SIGNING_SECRET, `whsec_` + base64 as the Standard Webhooks libraries read it (the key is the
 * bytes the base64 decodes to); infra/ generates it, and under func start / npm start the app does (appSecrets.ts).
 */
import { randomBytes } from "node:crypto";
import { UrlAllowlist } from "../gather/allowlist";
import { CLOUDEVENTS_CONTENT_TYPE, webhookSignature, type CloseEvent } from "../gather/closeEvent";
import { readLimits } from "../gather/limits";
import { sendJson } from "../gather/transports/http";
import { httpStatusOf } from "../gather/transports/transport";
import type { PayloadStore } from "../payload/store";
import { appSecret, type SecretSpec } from "./appSecrets";

export const WEBHOOK_SECRET_SETTING = "WEBHOOK_SIGNING_SECRET";
const PREFIX = "whsec_";

const WEBHOOK_SECRET: SecretSpec = {
  setting: WEBHOOK_SECRET_SETTING,
  decode(value) {
    const key = value.startsWith(PREFIX) ? Buffer.from(value.slice(PREFIX.length), "base64") : Buffer.alloc(0);
    if (key.length < 24) throw new Error(`must be "${PREFIX}" followed by at least 24 bytes in base64`);
    return key;
  },
  generate: () => `${PREFIX}${randomBytes(32).toString("base64")}`,
  blob: "~secrets/webhook-signing-secret",
};

export function webhookKey(store: () => PayloadStore, env: NodeJS.ProcessEnv = process.env): Promise<Uint8Array> {
  return appSecret(WEBHOOK_SECRET, store, env);
}

/** One delivery: 2xx delivered; otherwise the status (null when no answer came). Never throws. */
export async function postCloseEvent(
  url: string,
  event: CloseEvent,
  key: Uint8Array,
  now: number = Date.now(),
): Promise<{ delivered: boolean; status: number | null; error?: string }> {
  const body = JSON.stringify(event);
  const timestamp = Math.floor(now / 1000);
  const headers = {
    "webhook-id": event.id,
    "webhook-timestamp": String(timestamp),
    "webhook-signature": webhookSignature(key, event.id, timestamp, body),
  };
  const limits = readLimits();
  try {
    const answer = await sendJson(
      { url, method: "POST", headers, timeoutMs: 10_000, contentType: CLOUDEVENTS_CONTENT_TYPE },
      body, // the signed bytes, serialized once
      { maxResponseBytes: limits.maxResponseBytes, allowlist: new UrlAllowlist(limits.recipientUrlAllowlist) },
      false,
    );
    return { delivered: true, status: answer.status ?? null };
  } catch (error) {
    const message = (error as Error).message;
    return { delivered: false, status: httpStatusOf(message) ?? null, error: message };
  }
}
