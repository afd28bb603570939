/**
 * Which storage account the payload store uses, read from app settings the way the Functions host reads
 * its own `AzureWebJobsStorage` connection (learn.microsoft.com/azure/azure-functions/functions-reference,
 * "Connecting to host storage with an identity"):
 *
 * - `AzureWebJobsStorage` = a connection string (AccountKey or SAS, or BlobEndpoint for a custom port),
 *   or `UseDevelopmentStorage=true`: Azurite's well-known account on http://127.0.0.1:10000 (the SDK
 *   expands it, including `DevelopmentStorageProxyUri`). Azurite on another port: a full connection string
 *   with `BlobEndpoint=http://127.0.0.1:<port>/devstoreaccount1`, see azuriteConnectionString().
 * - identity-based: `AzureWebJobsStorage__blobServiceUri` (`__serviceUri` is read too), or
 *   `AzureWebJobsStorage__accountName` (= https://<name>.blob.core.windows.net), with `AzureWebJobsStorage__credential=managedidentity`
 *   and `AzureWebJobsStorage__clientId` (or `__managedIdentityResourceId`) for a user-assigned identity,
 *   which is what infra/app/api.bicep sets; without `__credential`, DefaultAzureCredential (a developer
 *   signed in with `az login`, for instance).
 *
 * A plain connection string wins over the identity settings, as in the host. Pure: no SDK import here.
 *
 * Also PAYLOAD_RETENTION_DAYS, the age at which the storage lifecycle rule (infra/) deletes payloads: it is
 * checked when this module loads, that is when the worker loads the app's functions, so a retention that
 * could delete a running gather's request and answers stops the app at start (see payloadRetentionDays).
 */
import { PayloadStoreConfigError } from "./store";

const DEFAULT_CONNECTION_NAME = "AzureWebJobsStorage";
export const DEFAULT_CONTAINER = "scatter-gather-payloads";

/** The longest a gather lives: its completion deadline is at most 432000000 ms (src/gather). */
export const MAX_GATHER_LIFETIME_DAYS = 5;
/**
 * PAYLOAD_RETENTION_DAYS must be longer than the longest gather: the lifecycle rule deletes by age, and a
 * gather still running must find its request, recipient list and answers. One day over the 5-day lifetime
 * (infra/main.bicep enforces the same with @minValue(6)).
 */
export const MIN_PAYLOAD_RETENTION_DAYS = MAX_GATHER_LIFETIME_DAYS + 1;
export const DEFAULT_PAYLOAD_RETENTION_DAYS = 30;

/** Azurite's (and the legacy emulator's) fixed development account, public by design. */
const DEVSTORE_ACCOUNT = "devstoreaccount1";
const DEVSTORE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
const DEVSTORE_BLOB_PORT = 10000;

export type StorageCredential = { type: "managedIdentity"; clientId?: string; resourceId?: string } | { type: "default" };

export type StorageConnection =
  | {
      kind: "connectionString";
      /** Passed as is to the SDK (which also understands UseDevelopmentStorage=true). */
      connectionString: string;
      /** Blob service URL without a trailing slash (for Azurite: includes /devstoreaccount1). */
      blobEndpoint: string;
      /** UseDevelopmentStorage=true or the devstoreaccount1 account. */
      development: boolean;
    }
  | { kind: "identity"; blobEndpoint: string; credential: StorageCredential };

export interface PayloadStoreConfig {
  connection: StorageConnection;
  container: string;
  /** PAYLOAD_RETENTION_DAYS (informational for the store: the Azure lifecycle rule deletes, not the app). */
  retentionDays?: number;
}

/** The connection string of Azurite's development account on `host:port` (for tests and the local host). */
export function azuriteConnectionString(port: number, host = "127.0.0.1"): string {
  return (
    `DefaultEndpointsProtocol=http;AccountName=${DEVSTORE_ACCOUNT};AccountKey=${DEVSTORE_KEY};` +
    `BlobEndpoint=http://${host}:${port}/${DEVSTORE_ACCOUNT};`
  );
}

/** Reads PAYLOAD_CONTAINER, PAYLOAD_RETENTION_DAYS and the storage connection named `connectionName` (default AzureWebJobsStorage). */
export function readPayloadStoreConfig(env: NodeJS.ProcessEnv = process.env, connectionName = DEFAULT_CONNECTION_NAME): PayloadStoreConfig {
  return {
    connection: resolveStorageConnection(env, connectionName),
    container: containerName(env.PAYLOAD_CONTAINER),
    retentionDays: payloadRetentionDays(env.PAYLOAD_RETENTION_DAYS),
  };
}

/**
 * PAYLOAD_RETENTION_DAYS: unset or empty = 30; otherwise a whole number of days of at least
 * MIN_PAYLOAD_RETENTION_DAYS (6), else a PayloadStoreConfigError naming the setting, the value and the minimum.
 */
export function payloadRetentionDays(raw: string | undefined): number {
  if (raw === undefined || raw.trim() === "") return DEFAULT_PAYLOAD_RETENTION_DAYS;
  const days = /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : Number.NaN;
  if (!(days >= MIN_PAYLOAD_RETENTION_DAYS)) {
    throw new PayloadStoreConfigError(
      `PAYLOAD_RETENTION_DAYS is '${raw}': it must be a whole number of at least ${MIN_PAYLOAD_RETENTION_DAYS} days. ` +
        `A gather lives up to ${MAX_GATHER_LIFETIME_DAYS} days, and the storage lifecycle rule deletes payloads this many days ` +
        `after they were written, so a shorter retention could delete a running gather's request and answers.`,
    );
  }
  return days;
}

// At app start: the worker loads every function file, and those that store payloads import this module.
payloadRetentionDays(process.env.PAYLOAD_RETENTION_DAYS);

/** PAYLOAD_CONTAINER, checked against the container naming rules (3-63 of a-z 0-9 -, no "--"). */
export function containerName(raw: string | undefined): string {
  const name = raw?.trim() || DEFAULT_CONTAINER;
  if (!/^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/.test(name)) {
    throw new PayloadStoreConfigError(
      `PAYLOAD_CONTAINER '${name}' is not a valid container name (3-63 characters: lowercase letters, digits and single hyphens, starting and ending with a letter or digit)`,
    );
  }
  return name;
}

/** The app setting `<connectionName>` (suffix "") or `<connectionName>__<suffix>`, trimmed; undefined when unset or empty. */
export function connectionSetting(env: NodeJS.ProcessEnv, connectionName: string, suffix: string): string | undefined {
  return env[suffix ? `${connectionName}__${suffix}` : connectionName]?.trim() || undefined;
}

/**
 * An identity-based connection's endpoint for one storage service, as the host reads it: `__<service>ServiceUri`
 * (an http(s) URL), else `__accountName` (https://<name>.<service>.core.windows.net); undefined when neither is set.
 */
export function identityEndpoint(
  env: NodeJS.ProcessEnv,
  connectionName: string,
  service: "blob" | "queue",
  serviceUri = connectionSetting(env, connectionName, `${service}ServiceUri`),
): string | undefined {
  if (serviceUri) {
    if (!/^https?:\/\/[^/]+/i.test(serviceUri))
      throw new PayloadStoreConfigError(`${connectionName}__${service}ServiceUri must be an http(s) URL, got '${serviceUri}'`);
    return trimSlash(serviceUri);
  }
  const accountName = connectionSetting(env, connectionName, "accountName");
  if (!accountName) return undefined;
  if (!/^[a-z0-9]{3,24}$/.test(accountName))
    throw new PayloadStoreConfigError(`${connectionName}__accountName '${accountName}' is not a storage account name`);
  return `https://${accountName}.${service}.core.windows.net`;
}

/**
 * A connection string's endpoint for one storage service: its `<Service>Endpoint`, else
 * `<DefaultEndpointsProtocol>://<AccountName>.<service>.<EndpointSuffix>`; undefined without either.
 */
export function connectionStringEndpoint(fields: Record<string, string>, service: "blob" | "queue"): string | undefined {
  const endpoint = fields[`${service}endpoint`];
  if (endpoint || !fields.accountname) return endpoint;
  const protocol = (fields.defaultendpointsprotocol ?? "https").toLowerCase();
  return `${protocol}://${fields.accountname}.${service}.${fields.endpointsuffix ?? "core.windows.net"}`;
}

export function resolveStorageConnection(env: NodeJS.ProcessEnv, connectionName = DEFAULT_CONNECTION_NAME): StorageConnection {
  const connectionString = connectionSetting(env, connectionName, "");
  if (connectionString) return fromConnectionString(connectionString, connectionName);

  // __serviceUri is the Blob extension's older spelling of __blobServiceUri.
  const serviceUri = connectionSetting(env, connectionName, "blobServiceUri") ?? connectionSetting(env, connectionName, "serviceUri");
  const blobEndpoint = identityEndpoint(env, connectionName, "blob", serviceUri);
  if (blobEndpoint) return { kind: "identity", blobEndpoint, credential: storageCredential(env, connectionName) };

  throw new PayloadStoreConfigError(
    `No payload storage configured. Set ${connectionName} to a connection string (UseDevelopmentStorage=true for Azurite on ` +
      `127.0.0.1:10000, or a connection string with BlobEndpoint for another port), or set ${connectionName}__blobServiceUri ` +
      `(or ${connectionName}__accountName) for an identity-based connection, with ${connectionName}__credential=managedidentity ` +
      `and ${connectionName}__clientId for a user-assigned managed identity.`,
  );
}

/** The identity of an identity-based connection: `<name>__credential` (managedidentity, or unset: DefaultAzureCredential), `__clientId`, `__managedIdentityResourceId`. */
export function storageCredential(env: NodeJS.ProcessEnv, connectionName = DEFAULT_CONNECTION_NAME): StorageCredential {
  const setting = (suffix: string): string | undefined => connectionSetting(env, connectionName, suffix);
  const credentialKind = setting("credential");
  if (credentialKind === undefined) return { type: "default" };
  if (credentialKind.toLowerCase() === "managedidentity")
    return { type: "managedIdentity", clientId: setting("clientId"), resourceId: setting("managedIdentityResourceId") };
  throw new PayloadStoreConfigError(
    `${connectionName}__credential '${credentialKind}' is not supported (only 'managedidentity', or unset for DefaultAzureCredential)`,
  );
}

function fromConnectionString(value: string, connectionName: string): StorageConnection {
  const fields = parseConnectionString(value);
  if (fields.usedevelopmentstorage?.toLowerCase() === "true") {
    return {
      kind: "connectionString",
      connectionString: value,
      blobEndpoint: `http://127.0.0.1:${DEVSTORE_BLOB_PORT}/${DEVSTORE_ACCOUNT}`,
      development: true,
    };
  }
  const accountName = fields.accountname;
  const blobEndpoint = connectionStringEndpoint(fields, "blob");
  if (!blobEndpoint) {
    throw new PayloadStoreConfigError(
      `${connectionName} is neither UseDevelopmentStorage=true nor a connection string with AccountName or BlobEndpoint`,
    );
  }
  if (!/^https?:\/\/[^/]+/i.test(blobEndpoint)) {
    throw new PayloadStoreConfigError(`${connectionName} has a BlobEndpoint that is not an http(s) URL: '${blobEndpoint}'`);
  }
  if (!fields.accountkey && !fields.sharedaccesssignature) {
    throw new PayloadStoreConfigError(
      `${connectionName} has neither AccountKey nor SharedAccessSignature (for a managed identity use ${connectionName}__blobServiceUri)`,
    );
  }
  return {
    kind: "connectionString",
    connectionString: value,
    blobEndpoint: trimSlash(blobEndpoint),
    development: accountName === DEVSTORE_ACCOUNT,
  };
}

/** `Key=Value;...` with lower-cased keys; a value keeps any '=' after the first (base64 keys, SAS). */
export function parseConnectionString(value: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const pair of value.split(";")) {
    const eq = pair.indexOf("=");
    if (eq > 0) fields[pair.slice(0, eq).trim().toLowerCase()] = pair.slice(eq + 1).trim();
  }
  return fields;
}

function trimSlash(url: string): string {
  return url.replace(/\/+$/, "");
}
