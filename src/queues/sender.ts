/**
 * Puts messages on the app's storage queues (@azure/storage-queue; the only file that imports it): the
 * QueueSender queue recipients are delivered through (gather/transports/queue.ts). Recipient queues are never
 * created here (a missing one is the attempt's failure, said plainly); the reply queue is, once per process,
 * before the first message that names it goes out.
 */
import { QueueServiceClient, type StoragePipelineOptions } from "@azure/storage-queue";
import type { QueueSender } from "../gather/transports/transport";
import { REPLY_QUEUE } from "../gather/transports/queue";
import { createCredential } from "../payload/credential";
import { resolveQueueConnection, type QueueConnection } from "./config";

/** A refused Queue service request, as the SDK's RestError carries it. */
interface StorageFailure {
  statusCode?: number;
  code?: string;
  message?: string;
}

export class StorageQueueSender implements QueueSender {
  private replyQueueReady: Promise<void> | undefined;

  constructor(
    private readonly service: QueueServiceClient,
    /** Host of the queue endpoint, for messages. */
    private readonly accountHost: string,
  ) {}

  async send(queue: string, text: string, signal?: AbortSignal): Promise<void> {
    await this.ensureReplyQueue();
    try {
      await this.service.getQueueClient(queue).sendMessage(text, { abortSignal: signal });
    } catch (error) {
      const failure = error as StorageFailure;
      if (failure.statusCode === 404)
        throw new Error(`no such queue in the app's storage account (${this.accountHost}); the app does not create recipient queues`, {
          cause: error,
        });
      throw new Error(describe(failure), { cause: error });
    }
  }

  /** The reply queue, created if missing (once per process; tried again after a failure). */
  ensureReplyQueue(): Promise<void> {
    this.replyQueueReady ??= this.service
      .getQueueClient(REPLY_QUEUE)
      .createIfNotExists()
      .then(
        () => undefined,
        (error: StorageFailure) => {
          this.replyQueueReady = undefined;
          throw new Error(`the reply queue ${REPLY_QUEUE} could not be created: ${describe(error)}`, { cause: error });
        },
      );
    return this.replyQueueReady;
  }
}

function describe(failure: StorageFailure): string {
  const status = failure.statusCode ? `HTTP ${failure.statusCode}` : "";
  const code = failure.code ?? "";
  return [status, code].filter(Boolean).join(" ") || failure.message || String(failure);
}

export function createQueueSender(connection: QueueConnection, pipeline: StoragePipelineOptions = {}): StorageQueueSender {
  const options: StoragePipelineOptions = { ...pipeline, retryOptions: { maxTries: 3, tryTimeoutInMs: 30_000, ...pipeline.retryOptions } };
  const service =
    connection.kind === "connectionString"
      ? QueueServiceClient.fromConnectionString(connection.connectionString, options)
      : new QueueServiceClient(connection.queueEndpoint, createCredential(connection.credential), options);
  return new StorageQueueSender(service, new URL(connection.queueEndpoint).host);
}

let shared: StorageQueueSender | undefined;

/** The sender of this process, built on first use from the app settings (config.ts). */
export function getQueueSender(): StorageQueueSender {
  shared ??= createQueueSender(resolveQueueConnection(process.env));
  return shared;
}
