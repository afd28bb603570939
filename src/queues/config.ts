/**
 * Which Queue service the app puts messages on (queue recipients) and reads replies from: the same
 * `AzureWebJobsStorage` account as the payload store and the host, read the way the host reads it
 * ("Connecting to host storage with an identity"):
 *
 * - a connection string: its `QueueEndpoint`, else `<protocol>://<AccountName>.queue.<EndpointSuffix>`;
 *   `UseDevelopmentStorage=true`: Azurite's queue service on http://127.0.0.1:10001 (the SDK expands it);
 * - identity-based: `AzureWebJobsStorage__queueServiceUri`, else `__accountName` (https://<name>.queue.core.windows.net),
 *   with `__credential` / `__clientId` as for blobs (payload/config.ts storageCredential).
 *
 * Pure: no SDK import here (sender.ts has it).
 */
import {
  connectionSetting,
  connectionStringEndpoint,
  identityEndpoint,
  parseConnectionString,
  storageCredential,
  type StorageCredential,
} from "../payload/config";
import { PayloadStoreConfigError } from "../payload/store";

export type QueueConnection =
  | { kind: "connectionString"; connectionString: string; queueEndpoint: string }
  | { kind: "identity"; queueEndpoint: string; credential: StorageCredential };

const DEVSTORE_QUEUE_ENDPOINT = "http://127.0.0.1:10001/devstoreaccount1";

export function resolveQueueConnection(env: NodeJS.ProcessEnv = process.env, connectionName = "AzureWebJobsStorage"): QueueConnection {
  const connectionString = connectionSetting(env, connectionName, "");
  if (connectionString) return fromConnectionString(connectionString, connectionName);
  const queueEndpoint = identityEndpoint(env, connectionName, "queue");
  if (queueEndpoint) return { kind: "identity", queueEndpoint, credential: storageCredential(env, connectionName) };
  throw new PayloadStoreConfigError(
    `No queue storage configured: set ${connectionName} to a connection string (with QueueEndpoint for Azurite on another port), ` +
      `or ${connectionName}__queueServiceUri (or ${connectionName}__accountName) for an identity-based connection.`,
  );
}

function fromConnectionString(value: string, connectionName: string): QueueConnection {
  const fields = parseConnectionString(value);
  if (fields.usedevelopmentstorage?.toLowerCase() === "true")
    return { kind: "connectionString", connectionString: value, queueEndpoint: DEVSTORE_QUEUE_ENDPOINT };
  const endpoint = connectionStringEndpoint(fields, "queue");
  if (!endpoint || !/^https?:\/\/[^/]+/i.test(endpoint))
    throw new PayloadStoreConfigError(
      `${connectionName} names no Queue service: give QueueEndpoint (or AccountName) in the connection string`,
    );
  return { kind: "connectionString", connectionString: value, queueEndpoint: endpoint.replace(/\/+$/, "") };
}
