/**
 * The payload store (see store.ts for the contract, keys.ts for the layout, config.ts for the settings).
 * App code takes the process-wide store from getPayloadStore(); tests build their own with
 * createBlobPayloadStore() or MemoryPayloadStore.
 */
import { createBlobPayloadStore, type BlobPayloadStoreOptions } from "./blobStore";
import { readPayloadStoreConfig } from "./config";
import type { PayloadStore } from "./store";

export * from "./store";
export * from "./keys";
export {
  azuriteConnectionString,
  DEFAULT_CONTAINER,
  readPayloadStoreConfig,
  resolveStorageConnection,
  type PayloadStoreConfig,
  type StorageConnection,
} from "./config";
export { BlobPayloadStore, createBlobPayloadStore, DEFAULT_CACHE_BYTES, type BlobPayloadStoreOptions } from "./blobStore";
export { MemoryPayloadStore } from "./memoryStore";

let shared: PayloadStore | undefined;

/**
 * The store of this process, built on first use from the app settings (AzureWebJobsStorage...,
 * PAYLOAD_CONTAINER). Throws PayloadStoreConfigError, naming the settings, when none is configured.
 */
export function getPayloadStore(options?: BlobPayloadStoreOptions): PayloadStore {
  shared ??= createBlobPayloadStore(readPayloadStoreConfig(process.env), options);
  return shared;
}

/** Replaces (or, with no argument, forgets) the process-wide store: for tests and the local host. */
export function setPayloadStore(store?: PayloadStore): void {
  shared = store;
}
