/**
 * Secrets the app keys its HMACs with (answer URL tokens, webhook signatures), from app settings that
 * `infra/` generates once per environment. Under `func start` or `npm start` (AZURE_FUNCTIONS_ENVIRONMENT
 * = Development) a missing one is generated once and kept in the payload store, so every worker and every
 * restart agree; anywhere else a missing one is an error naming the setting. Cached per process.
 */
import { randomBytes } from "node:crypto";
import type { PayloadStore } from "../payload/store";

export interface SecretSpec {
  /** The app setting. */
  setting: string;
  /** The key bytes of a setting's value (a plain string, or `whsec_` + base64 for webhook secrets). */
  decode(value: string): Uint8Array;
  /** A fresh value, in the setting's own format. */
  generate(): string;
  /** The blob a generated value is kept in; `~` is outside the instance id alphabet, so no DELETE reaches it. */
  blob: string;
}

/**
 * An app setting the app needs is not set (in Azure: infra/ sets it), or its value is not one the app can use. The HTTP
 * routes answer 500 naming it.
 */
export class AppSettingError extends Error {
  override readonly name = "AppSettingError";
  constructor(
    readonly setting: string,
    problem = "is not set: infra/ sets it in Azure; under func start or npm start the app generates one",
  ) {
    super(`App setting ${setting} ${problem}`);
  }
}

const cache = new Map<string, Promise<Uint8Array>>();

export function appSecret(spec: SecretSpec, store: () => PayloadStore, env: NodeJS.ProcessEnv = process.env): Promise<Uint8Array> {
  let key = cache.get(spec.setting);
  if (!key) {
    key = resolve(spec, store, env).catch((error: unknown) => {
      cache.delete(spec.setting);
      throw error;
    });
    cache.set(spec.setting, key);
  }
  return key;
}

/** Forgets the cached secrets (tests). */
export function resetAppSecrets(): void {
  cache.clear();
}

async function resolve(spec: SecretSpec, store: () => PayloadStore, env: NodeJS.ProcessEnv): Promise<Uint8Array> {
  const value = env[spec.setting]?.trim();
  if (value) return decodeSetting(spec, value);
  if (env.AZURE_FUNCTIONS_ENVIRONMENT !== "Development") {
    throw new AppSettingError(spec.setting);
  }
  // Put-if-absent: the first writer wins, everyone reads the stored value.
  const payloads = store();
  const offered = spec.generate();
  const put = await payloads.putText(spec.blob, offered, { contentType: "text/plain" });
  return spec.decode(put.identical ? offered : (await payloads.getText(spec.blob)).trim());
}

/** The setting's key bytes; a value the app cannot use is named as the setting's problem. */
function decodeSetting(spec: SecretSpec, value: string): Uint8Array {
  try {
    return spec.decode(value);
  } catch (error) {
    throw new AppSettingError(spec.setting, `is not usable: it ${(error as Error).message}`);
  }
}

/** 32 random bytes as base64url: a generated plain secret. */
export function randomSecret(): string {
  return randomBytes(32).toString("base64url");
}
