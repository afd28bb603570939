/**
 * App settings and host.json, read the way Core Tools reads them for `func start`:
 * local.settings.json `Values` become environment variables unless the variable is already set in the
 * real environment (Core Tools prints "Skipping '<key>' from local settings as it's already defined in
 * current environment variables."), plus WEBSITE_HOSTNAME=localhost:<port> and
 * AZURE_FUNCTIONS_ENVIRONMENT=Development which Core Tools adds to the same settings.
 */
import * as fs from "node:fs";
import * as path from "node:path";

export interface HostJson {
  routePrefix: string;
  hubName: string;
  /** storageProvider connection name, used as the `connection` query parameter of management URLs. */
  connectionName: string;
  maxConcurrentActivityFunctions?: number;
  maxConcurrentOrchestratorFunctions?: number;
  extensionBundle?: { id?: string; version?: string };
  /** `extensions.queues` as written (queue-options.ts reads it as the Storage-queues extension does). */
  queues?: unknown;
}

export function readJsonFile(file: string): unknown {
  const text = fs.readFileSync(file, "utf8").replace(/^\uFEFF/, "");
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`${file} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
}

export function readLocalSettings(appDir: string): Record<string, string> {
  const file = path.join(appDir, "local.settings.json");
  if (!fs.existsSync(file)) return {};
  const json = readJsonFile(file) as { IsEncrypted?: boolean; Values?: Record<string, unknown> };
  if (json.IsEncrypted) {
    throw new Error(`${file} is encrypted (IsEncrypted: true); this local host cannot decrypt it.`);
  }
  const values: Record<string, string> = {};
  for (const [k, v] of Object.entries(json.Values ?? {})) {
    if (v === null || v === undefined) continue;
    values[k] = typeof v === "string" ? v : String(v);
  }
  return values;
}

/**
 * Applies settings to `env` the way Core Tools' UpdateEnvironmentVariables does: a variable already set
 * (non-empty) in the environment wins. Returns the messages Core Tools would print for skipped keys.
 */
export function applySettings(settings: Record<string, string>, env: NodeJS.ProcessEnv): string[] {
  const messages: string[] = [];
  for (const [key, value] of Object.entries(settings)) {
    if (!key) {
      messages.push("Skipping local setting with empty key.");
    } else if (env[key] !== undefined && env[key] !== "") {
      messages.push(`Skipping '${key}' from local settings as it's already defined in current environment variables.`);
    } else {
      env[key] = value;
    }
  }
  return messages;
}

/** Resolves `%NAME%` app-setting references as the host does for binding/extension configuration. */
export function resolveSettingRefs(value: string, env: NodeJS.ProcessEnv): string {
  return value.replace(/%([^%]+)%/g, (whole, name: string) => {
    const v = env[name];
    if (v === undefined) {
      throw new Error(`Unable to resolve app setting for property '${whole}'. Make sure the app setting exists and has a valid value.`);
    }
    return v;
  });
}

export function readHostJson(appDir: string, env: NodeJS.ProcessEnv): HostJson {
  const file = path.join(appDir, "host.json");
  const json = withHostJsonOverrides(fs.existsSync(file) ? readJsonFile(file) : {}, env) as {
    version?: string;
    extensions?: {
      http?: { routePrefix?: string };
      durableTask?: {
        hubName?: string;
        maxConcurrentActivityFunctions?: number;
        maxConcurrentOrchestratorFunctions?: number;
        storageProvider?: { connectionStringName?: string; connectionName?: string };
      };
      queues?: unknown;
    };
    extensionBundle?: { id?: string; version?: string };
  };
  const http = json.extensions?.http ?? {};
  const dt = json.extensions?.durableTask ?? {};
  const routePrefix = typeof http.routePrefix === "string" ? http.routePrefix.replace(/^\/+|\/+$/g, "") : "api";
  // The extension's default hub name for Functions v2+ is "TestHubName".
  const hubName = dt.hubName !== undefined ? resolveSettingRefs(String(dt.hubName), env) : "TestHubName";
  const sp = dt.storageProvider ?? {};
  const connectionName = sp.connectionStringName ?? sp.connectionName ?? "Storage";
  return {
    routePrefix,
    hubName,
    connectionName,
    maxConcurrentActivityFunctions: numberOrUndefined(dt.maxConcurrentActivityFunctions),
    maxConcurrentOrchestratorFunctions: numberOrUndefined(dt.maxConcurrentOrchestratorFunctions),
    extensionBundle: json.extensionBundle,
    queues: json.extensions?.queues,
  };
}

const OVERRIDE_PREFIX = "azurefunctionsjobhost__";

/**
 * host.json with the app settings that override it, as the Functions host reads its configuration: host.json is
 * the `AzureFunctionsJobHost` section, and an environment variable `AzureFunctionsJobHost__extensions__queues__maxDequeueCount`
 * is the key `AzureFunctionsJobHost:extensions:queues:maxDequeueCount`, which wins (.NET configuration: `__` is the
 * separator, keys are case-insensitive, values are strings, bound as host.json's would be).
 */
export function withHostJsonOverrides(hostJson: unknown, env: NodeJS.ProcessEnv): unknown {
  const root: Record<string, unknown> = isObject(hostJson) ? structuredClone(hostJson) : {};
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined || !name.toLowerCase().startsWith(OVERRIDE_PREFIX)) continue;
    const keys = name.slice(OVERRIDE_PREFIX.length).split("__");
    if (keys.some((key) => key === "")) continue;
    let node = root;
    keys.forEach((key, i) => {
      const existing = Object.keys(node).find((k) => k.toLowerCase() === key.toLowerCase()) ?? key;
      if (i === keys.length - 1) node[existing] = value;
      else {
        if (!isObject(node[existing])) node[existing] = {};
        node = node[existing] as Record<string, unknown>;
      }
    });
  }
  return root;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function numberOrUndefined(v: unknown): number | undefined {
  const n = typeof v === "string" ? Number(v) : v;
  return typeof n === "number" && Number.isFinite(n) && n > 0 ? n : undefined;
}

/**
 * Core Tools' settings for `func start`: local.settings.json Values plus WEBSITE_HOSTNAME, AzureWebJobsScriptRoot
 * and AZURE_FUNCTIONS_ENVIRONMENT, the real environment winning; loopback kept off HTTP proxies.
 * WEBSITE_HOSTNAME is `localhost:<port>` unless set already: a real variable wins (Core Tools' UpdateEnvironmentVariables),
 * and so does a non-empty value in local.settings.json (where Core Tools' settings.Add would throw on the duplicate key).
 */
export function applyAppSettings(appDir: string, port: number, env: NodeJS.ProcessEnv, out: (line: string) => void): void {
  const local = readLocalSettings(appDir);
  const settings = {
    ...local,
    WEBSITE_HOSTNAME: local.WEBSITE_HOSTNAME || `localhost:${port}`,
    AzureWebJobsScriptRoot: appDir,
    AZURE_FUNCTIONS_ENVIRONMENT: "Development",
  };
  for (const msg of applySettings(settings, env)) out(msg);
  keepLoopbackOffProxies(env);
  if (env.FUNCTIONS_WORKER_RUNTIME && env.FUNCTIONS_WORKER_RUNTIME !== "node") {
    out(`Warning: FUNCTIONS_WORKER_RUNTIME is '${env.FUNCTIONS_WORKER_RUNTIME}'; this local host runs Node.js apps only.`);
  }
}

/** The app's HTTP clients (axios in durable-functions) honour HTTP(S)_PROXY: keep loopback traffic local. */
export function keepLoopbackOffProxies(env: NodeJS.ProcessEnv): void {
  const loopback = ["localhost", "127.0.0.1", "::1"];
  for (const key of ["NO_PROXY", "no_proxy"]) {
    const current = (env[key] ?? "")
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean);
    for (const h of loopback) if (!current.includes(h)) current.push(h);
    env[key] = current.join(",");
  }
}
