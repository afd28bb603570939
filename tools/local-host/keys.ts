/**
 * Function keys for key-enforcing mode (--require-keys), kept like the Functions host's file secrets repository
 * (azure-functions-host Security/KeyManagement: FileSystemSecretsRepository, HostSecrets, FunctionSecrets, Key,
 * ScriptSecretSerializerV1): `<data-dir>/secrets/host.json` holds `{ masterKey, functionKeys, systemKeys, hostName,
 * instanceId, source, decryptionKeyId }`, each key `{ name, value, encrypted: false }`; a function's own keys go to
 * `<data-dir>/secrets/<function name in lower case>.json` (`{ keys: [...], ... }`), made on first use as SecretManager
 * does. Values: 40 random bytes in URL-safe base64 with the padding kept (SecretGenerator's alphabet and length, not
 * its AzFu signature and checksum). The lookup order is SecretManager.GetAuthorizationLevelAsync's.
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";

/** ScriptConstants.DefaultMasterKeyName / DefaultFunctionKeyName. */
export const MASTER_KEY_NAME = "master";
export const DEFAULT_KEY_NAME = "default";
/** DefaultScriptWebHookProvider.GetKeyName("durabletask"): the Durable extension's webhook key. */
export const DURABLE_SYSTEM_KEY_NAME = "durabletask_extension";

export interface Key {
  name: string;
  value: string;
  encrypted: boolean;
}

interface SecretsCommon {
  hostName: string | null;
  instanceId: string | null;
  source: string;
  decryptionKeyId: string;
}
interface HostSecretsFile extends SecretsCommon {
  masterKey: Key;
  functionKeys: Key[];
  systemKeys: Key[];
}
interface FunctionSecretsFile extends SecretsCommon {
  keys: Key[];
}

/** What a caller needs: the master key, the host function key `default`, the Durable extension's system key. */
export interface HostKeys {
  master: string;
  function: string;
  system: string;
}

/** What a presented key is: its level (the host's AuthorizationLevel) and name. */
export interface KeyMatch {
  level: "admin" | "system" | "function";
  name: string;
}

export function secretsDir(dataDir: string): string {
  return path.join(dataDir, "secrets");
}

export function hostSecretsPath(dataDir: string): string {
  return path.join(secretsDir(dataDir), "host.json");
}

/** A new key value (SecretGenerator.GenerateIdentifiableSecret: 40 bytes, URL-safe base64, padding kept). */
export function generateKeyValue(): string {
  return randomBytes(40).toString("base64").replace(/\+/g, "-").replace(/\//g, "_");
}

const newKey = (name: string): Key => ({ name, value: generateKeyValue(), encrypted: false });

/** Key.SecretValueEquals: same length, compared in constant time. */
function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a, "utf8");
  const y = Buffer.from(b, "utf8");
  return x.length === y.length && timingSafeEqual(x, y);
}

function isKey(k: unknown): k is Key {
  return !!k && typeof k === "object" && typeof (k as Key).name === "string" && typeof (k as Key).value === "string";
}

function readSecrets(file: string, shape: "host" | "function"): HostSecretsFile | FunctionSecretsFile | undefined {
  if (!fs.existsSync(file)) return undefined;
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(fs.readFileSync(file, "utf8").replace(/^\uFEFF/, "")) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`${file} is not valid JSON (${(err as Error).message}); delete it to generate new keys.`, { cause: err });
  }
  // ScriptSecretSerializerV1.CanSerialize: masterKey object + functionKeys array, or a keys array.
  const lists = shape === "host" ? [json.functionKeys, json.systemKeys ?? []] : [json.keys];
  const keys = [...(shape === "host" ? [json.masterKey] : []), ...lists.flatMap((l) => (Array.isArray(l) ? l : [undefined]))];
  if (!keys.every(isKey))
    throw new Error(`${file} is not a ${shape} secrets file of the Functions host's shape; delete it to generate new keys.`);
  if (keys.some((k) => k.encrypted))
    throw new Error(`${file} holds encrypted keys, which this local host cannot decrypt; delete it to generate new keys.`);
  return json as unknown as HostSecretsFile | FunctionSecretsFile;
}

function writeSecrets(file: string, secrets: HostSecretsFile | FunctionSecretsFile): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  fs.renameSync(tmp, file);
}

const common = (hostName: string | null): SecretsCommon => ({
  hostName,
  instanceId: process.env.WEBSITE_INSTANCE_ID ?? null,
  source: "runtime",
  decryptionKeyId: "",
});

/** The keys read back from `<data-dir>/secrets/host.json` (for tests and tools); throws when there are none. */
export function readHostKeys(dataDir: string): HostKeys {
  const file = hostSecretsPath(dataDir);
  const s = readSecrets(file, "host") as HostSecretsFile | undefined;
  if (!s) throw new Error(`${file} does not exist: start the local host with --require-keys first.`);
  const named = (list: Key[], name: string) => list.some((k) => k.name.toLowerCase() === name);
  if (!named(s.functionKeys, DEFAULT_KEY_NAME) || !named(s.systemKeys ?? [], DURABLE_SYSTEM_KEY_NAME)) {
    throw new Error(`${file} has no '${DEFAULT_KEY_NAME}' function key or '${DURABLE_SYSTEM_KEY_NAME}' system key.`);
  }
  return hostKeysOf(s);
}

/** The host's secrets on disk, created on first start and reused; function keys made when first needed. */
export class KeyStore {
  private readonly functionSecrets = new Map<string, Key[]>();

  private constructor(
    private readonly dataDir: string,
    private readonly host: HostSecretsFile,
    private readonly hostName: string,
  ) {}

  /** Loads `<data-dir>/secrets/host.json`, or generates it (master, `default` function key); adds a missing Durable system key. */
  static open(dataDir: string, hostName: string): KeyStore {
    const file = hostSecretsPath(dataDir);
    let host = readSecrets(file, "host") as HostSecretsFile | undefined;
    let changed = false;
    if (!host) {
      host = { masterKey: newKey(MASTER_KEY_NAME), functionKeys: [newKey(DEFAULT_KEY_NAME)], systemKeys: [], ...common(hostName) };
      changed = true;
    }
    host.systemKeys ??= [];
    // DefaultScriptWebHookProvider.GetOrCreateExtensionKey creates the extension's key on demand; the harness needs `default`.
    if (!host.systemKeys.some((k) => k.name.toLowerCase() === DURABLE_SYSTEM_KEY_NAME)) {
      host.systemKeys.push(newKey(DURABLE_SYSTEM_KEY_NAME));
      changed = true;
    }
    if (!host.functionKeys.some((k) => k.name.toLowerCase() === DEFAULT_KEY_NAME)) {
      host.functionKeys.push(newKey(DEFAULT_KEY_NAME));
      changed = true;
    }
    if (changed) writeSecrets(file, host);
    return new KeyStore(dataDir, host, hostName);
  }

  get file(): string {
    return hostSecretsPath(this.dataDir);
  }

  get keys(): HostKeys {
    return hostKeysOf(this.host);
  }

  /** SecretManager.GetAuthorizationLevelAsync: the master key, then system keys, host function keys, the function's own keys. */
  match(value: string, functionName?: string): KeyMatch | undefined {
    if (sameSecret(value, this.host.masterKey.value)) return { level: "admin", name: MASTER_KEY_NAME };
    const sys = this.host.systemKeys.find((k) => sameSecret(value, k.value));
    if (sys) return { level: "system", name: sys.name };
    const fn = this.host.functionKeys.find((k) => sameSecret(value, k.value));
    if (fn) return { level: "function", name: fn.name };
    if (functionName !== undefined) {
      const own = this.keysOf(functionName).find((k) => sameSecret(value, k.value));
      if (own) return { level: "function", name: own.name };
    }
    return undefined;
  }

  /** A function's own keys (`<secrets>/<name>.json`), generated with a `default` key when missing (GetFunctionSecretsAsync). */
  keysOf(functionName: string): Key[] {
    const name = functionName.toLowerCase();
    const cached = this.functionSecrets.get(name);
    if (cached) return cached;
    if (!/^[a-z0-9][a-z0-9_-]*$/.test(name)) return [];
    const file = path.join(secretsDir(this.dataDir), `${name}.json`);
    let s = readSecrets(file, "function") as FunctionSecretsFile | undefined;
    if (!s) {
      s = { keys: [newKey(DEFAULT_KEY_NAME)], ...common(this.hostName) };
      writeSecrets(file, s);
    }
    this.functionSecrets.set(name, s.keys);
    return s.keys;
  }
}

function hostKeysOf(s: HostSecretsFile): HostKeys {
  return {
    master: s.masterKey.value,
    function: s.functionKeys.find((k) => k.name.toLowerCase() === DEFAULT_KEY_NAME)!.value,
    system: s.systemKeys.find((k) => k.name.toLowerCase() === DURABLE_SYSTEM_KEY_NAME)!.value,
  };
}
