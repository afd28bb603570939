/** The token credential of an identity-based storage connection (config.ts StorageCredential), for the blob and queue clients. */
import type { TokenCredential } from "@azure/core-auth";
import type { StorageCredential } from "./config";

/** The identity SDK is loaded only for identity-based connections. */
export function createCredential(credential: StorageCredential): TokenCredential {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const identity = require("@azure/identity") as typeof import("@azure/identity");
  if (credential.type === "default") return new identity.DefaultAzureCredential();
  if (credential.clientId) return new identity.ManagedIdentityCredential({ clientId: credential.clientId });
  if (credential.resourceId) return new identity.ManagedIdentityCredential({ resourceId: credential.resourceId });
  return new identity.ManagedIdentityCredential();
}
