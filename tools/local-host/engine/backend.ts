/**
 * The backend store interface (durabletask-go's backend.Backend, reduced to what this engine needs): durable
 * per-instance logs of records. The engine keeps the instances in memory (store.ts applyRecord) and only appends;
 * the JSON-lines InstanceStore (store.ts) is the implementation; a test or another backend can be passed as
 * `new Engine(options, backend)`.
 */
import type { InstanceData, LogRecord } from "./store";

export type BackendLog = (level: "info" | "warn" | "error", message: string) => void;

export interface Backend {
  /** Where the data lives (for messages). */
  readonly dir: string;
  /** How many instance logs were set aside as damaged. */
  readonly quarantinedCount: number;
  /** Creates what is missing. */
  open(): Promise<void>;
  /** Every readable instance, rebuilt from its log; damaged ones are quarantined and reported through `log`. */
  loadAll(log: BackendLog): Promise<InstanceData[]>;
  /** Appends records to an instance's log; resolves once they are durable. */
  append(instanceId: string, records: LogRecord[]): Promise<void>;
  /** Deletes an instance's log (purge). */
  remove(instanceId: string): Promise<void>;
  /** Resolves once every pending append is durable. */
  drain(): Promise<void>;
  /** Why an id is quarantined, if it is. */
  quarantineOf(instanceId: string): string | undefined;
}
