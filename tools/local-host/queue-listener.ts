/**
 * Queue triggers, run the way the Functions Storage-queues extension runs them (Azure/azure-sdk-for-net,
 * sdk/storage/Microsoft.Azure.WebJobs.Extensions.Storage.Common/src/Shared/: Queues/QueueListener.cs,
 * Queues/QueueProcessor.cs, Queues/QueuesOptions.cs, Queues/QueuePollingIntervals.cs,
 * Timers/RandomizedExponentialBackoffStrategy.cs, UpdateQueueMessageVisibilityCommand.cs, StorageQueueExtensions.cs,
 * QueueMessageExtensions.cs, BinaryDataExtensions.cs; and sdk/storage/Microsoft.Azure.WebJobs.Extensions.Storage.Queues/src/:
 * Listeners/QueueListenerFactory.cs, Triggers/QueueTriggerBinding.cs, Triggers/QueueTriggerAttributeBindingProvider.cs,
 * Triggers/StorageQueueMessageToStringConverter.cs, QueueServiceClientProvider.cs, QueueClientExtensions.cs):
 *
 * - one listener per queue-triggered function; it polls (Get Messages, up to `batchSize`, visibility 10 minutes) and
 *   backs off exponentially with jitter from 100 ms up to `maxPollingInterval` while nothing arrives (back to 100 ms
 *   after a batch); a queue that does not exist yet is polled the same way (the extension does not create it);
 * - it fetches again once at most `newBatchThreshold` messages of this function are in flight;
 * - each message: when its dequeueCount is already over `maxDequeueCount` it goes to the poison queue unprocessed;
 *   else the function runs (the message's visibility is renewed while it runs over 5 minutes); success deletes it;
 *   failure moves it to `<queue>-poison` (created when missing) once dequeueCount >= maxDequeueCount, else makes it
 *   visible again after `visibilityTimeout` (Update Message), so the next Get raises its dequeueCount;
 * - a queue whose name ends in `-poison` (or whose poison name would be too long) has no poison queue: a failed
 *   message stays invisible for the rest of its 10 minutes;
 * - `messageEncoding` base64 (default): a message whose text is not valid base64 (.NET Convert.FromBase64String) goes
 *   to the poison queue as it is, without running the function (the extension's MessageDecodingFailed handler);
 * - the function gets the body as a string (the host's default binding type; invalid UTF-8 fails the invocation, as
 *   the extension's strict UTF8Encoding does) or as bytes with `dataType: "binary"`, and the trigger metadata the host
 *   sends: QueueTrigger, DequeueCount, ExpirationTime, Id, InsertionTime, NextVisibleTime, PopReceipt and sys.
 *
 * The queue SDK (`@azure/storage-queue`) is loaded from the host's folder, the app's or the cwd only when the app has
 * queue triggers.
 */
import { randomUUID } from "node:crypto";
import type { QueueClient, QueueServiceClient, ReceivedMessageItem } from "@azure/storage-queue";
import type { FunctionIndex } from "./function-index";
import type { HostLog } from "./host-log";
import type { FunctionInvoker } from "./invoker";
import { describeQueuesOptions, QUEUE_DEFAULTS, type QueueMessageEncoding, type QueuesOptions } from "./queue-options";
import { parseConnectionString, STORAGE_SETTING } from "./payload-store";
import { resolveSettingRefs } from "./settings";
import type { RegisteredFunction, RpcParameterBinding, RpcTypedData } from "./worker";

/** QueueListener.cs: messages are received invisible for 10 minutes, renewed at half of that while the function runs. */
export const RECEIVE_VISIBILITY_SECONDS = 600;
const RENEW_INTERVAL_MS = 300_000;
/** UpdateQueueMessageVisibilityCommand's speed-up floor (QueueListener.MinimumVisibilityRenewalInterval). */
const RENEW_RETRY_MS = 60_000;
const POISON_SUFFIX = "-poison";

type QueueSdk = typeof import("@azure/storage-queue");

// ---- pure parts: back-off, decoding, trigger data -------------------------------------------------------------

/** RandomizedExponentialBackoffStrategy.cs (RandomizationFactor 0.2, deltaBackoff = the minimum interval). */
export class RandomizedExponentialBackoff {
  static readonly RANDOMIZATION_FACTOR = 0.2;
  private current = 0;
  private exponent = 0;

  constructor(
    readonly minimumMs: number,
    readonly maximumMs: number,
    private readonly random: () => number = Math.random,
  ) {
    if (minimumMs < 0 || maximumMs < 0) throw new RangeError("The TimeSpan must not be negative.");
    if (minimumMs > maximumMs) throw new RangeError("The minimumInterval must not be greater than the maximumInterval.");
  }

  nextDelay(executionSucceeded: boolean): number {
    if (executionSucceeded) {
      this.current = this.minimumMs;
      this.exponent = 1;
    } else if (this.current !== this.maximumMs) {
      let backoff = this.minimumMs;
      if (this.exponent > 0) {
        const f = RandomizedExponentialBackoff.RANDOMIZATION_FACTOR;
        const factor = 1 - f + this.random() * 2 * f;
        backoff += factor * 2 ** (this.exponent - 1) * this.minimumMs;
      }
      if (backoff < this.maximumMs) {
        this.current = backoff;
        this.exponent++;
      } else {
        this.current = this.maximumMs;
      }
    }
    return this.current;
  }
}

/**
 * The message body as the extension's client decodes it (QueueMessageCodec.DecodeMessageBody): base64 by
 * .NET Convert.FromBase64String's rules (standard alphabet, `=` padding only at the end, whitespace ignored, length a
 * multiple of 4), or the text's UTF-8 bytes for `none`. Undefined = not valid base64.
 */
export function decodeMessageText(text: string, encoding: QueueMessageEncoding): Buffer | undefined {
  if (encoding === "none") return Buffer.from(text, "utf8");
  const compact = text.replace(/[ \t\r\n]/g, "");
  if (compact.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(compact)) return undefined;
  return Buffer.from(compact, "base64");
}

/** The body as the poison copy carries it (the poison client encodes with the same encoding). */
export function encodeMessageBody(body: Buffer, encoding: QueueMessageEncoding): string {
  return encoding === "base64" ? body.toString("base64") : body.toString("utf8");
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** BinaryDataExtensions.ToValidUTF8String: UTF8Encoding(false, true), BOM kept; undefined when the bytes are not UTF-8. */
export function validUtf8(body: Buffer): string | undefined {
  try {
    return strictUtf8.decode(body);
  } catch {
    return undefined;
  }
}

/** Newtonsoft's JSON for a DateTimeOffset at offset 0 (`2024-01-02T03:04:05+00:00`, fraction trimmed as FFFFFFF). */
export function jsonDateTimeOffset(d: Date | undefined, fallback: string): string {
  if (!d || Number.isNaN(d.getTime())) return JSON.stringify(fallback);
  return JSON.stringify(isoTrimmed(d).replace(/Z$/, "+00:00"));
}

/** Newtonsoft's JSON for a UTC DateTime (`2024-01-02T03:04:05.12Z`). */
function isoTrimmed(d: Date): string {
  return d.toISOString().replace(/\.(\d*?)0*Z$/, (_, f: string) => (f ? `.${f}Z` : "Z"));
}

/** DateTimeOffset.MaxValue as Newtonsoft writes it (the binding data's fallback for a missing time). */
const MAX_DATE_TIME_OFFSET = "9999-12-31T23:59:59.9999999+00:00";

export class QueueBindingError extends Error {}

/**
 * What the host sends the worker for one message: the trigger input (the body as `string`, or `bytes` for
 * dataType binary/stream) and the trigger metadata (QueueTriggerBinding.CreateBindingData, each value through the
 * host's ToRpc: strings as `string`, the long and the DateTimeOffsets as Newtonsoft JSON) plus `sys`
 * (SystemBindingData: MethodName, UtcNow, RandGuid).
 */
export function queueTriggerData(
  fn: RegisteredFunction,
  message: Pick<ReceivedMessageItem, "messageId" | "dequeueCount" | "expiresOn" | "insertedOn" | "nextVisibleOn" | "popReceipt">,
  body: Buffer,
  now: Date = new Date(),
): { inputData: RpcParameterBinding[]; triggerMetadata: Record<string, RpcTypedData> } {
  const text = validUtf8(body);
  const dataType = String(fn.bindings[fn.triggerName]?.dataType ?? "").toLowerCase();
  let data: RpcTypedData;
  if (dataType === "binary" || dataType === "stream") {
    data = { bytes: new Uint8Array(body) };
  } else if (text === undefined) {
    throw new QueueBindingError(
      `Exception binding parameter '${fn.triggerName}': the queue message's body is not valid UTF-8 ` +
        `(Unable to translate bytes to the string the function's binding needs; set dataType "binary" to receive bytes).`,
    );
  } else {
    data = { string: text };
  }
  const triggerMetadata: Record<string, RpcTypedData> = {};
  if (text !== undefined) triggerMetadata.QueueTrigger = { string: text };
  triggerMetadata.DequeueCount = { json: JSON.stringify(message.dequeueCount) };
  triggerMetadata.ExpirationTime = { json: jsonDateTimeOffset(message.expiresOn, MAX_DATE_TIME_OFFSET) };
  triggerMetadata.Id = { string: message.messageId };
  triggerMetadata.InsertionTime = { json: jsonDateTimeOffset(message.insertedOn ?? now, MAX_DATE_TIME_OFFSET) };
  triggerMetadata.NextVisibleTime = { json: jsonDateTimeOffset(message.nextVisibleOn, MAX_DATE_TIME_OFFSET) };
  triggerMetadata.PopReceipt = { string: message.popReceipt };
  triggerMetadata.sys = { json: JSON.stringify({ MethodName: fn.name, UtcNow: isoTrimmed(now), RandGuid: randomUUID() }) };
  return { inputData: [{ name: fn.triggerName, data }], triggerMetadata };
}

/** QueueClientExtensions.ValidateQueueName (ASCII letters and digits only: the service refuses others anyway). */
export function queueNameError(name: string): string | undefined {
  if (!name) return "A queue name can't be null or empty";
  if (name.length < 3 || name.length > 63) return `A queue name must be from 3 to 63 characters long - "${name}"`;
  if (name.startsWith("-") || name.endsWith("-")) return `The dash (-) character may not be the first or last letter - "${name}"`;
  if (/[A-Z]/.test(name)) return `Queue names must be all lower case - "${name}"`;
  if (!/^[a-z0-9-]+$/.test(name)) return `A queue name can contain only letters, numbers, and dash(-) characters - "${name}"`;
  if (name.includes("--")) return "A queue name cannot contain consecutive dash(-) characters.";
  return undefined;
}

/** QueueListenerFactory.CreatePoisonQueueReference: `<queue>-poison`, none for a poison queue or a name too long. */
export function poisonQueueName(queueName: string): string | undefined {
  if (queueName.endsWith(POISON_SUFFIX)) return undefined;
  const name = queueName + POISON_SUFFIX;
  return queueNameError(name) ? undefined : name;
}

// ---- storage errors (RequestFailedExceptionExtensions) ------------------------------------------------------

function statusOf(err: unknown): number | undefined {
  return (err as { statusCode?: number })?.statusCode;
}

function codeOf(err: unknown): string | undefined {
  const e = err as { code?: string; details?: { errorCode?: string }; response?: { headers?: { get?(n: string): string | undefined } } };
  return e?.details?.errorCode ?? e?.response?.headers?.get?.("x-ms-error-code") ?? e?.code;
}

const isQueueNotFound = (e: unknown) => statusOf(e) === 404 && codeOf(e) === "QueueNotFound";
const isMessageOrQueueNotFound = (e: unknown) => statusOf(e) === 404 && ["QueueNotFound", "MessageNotFound"].includes(codeOf(e) ?? "");
const isPopReceiptMismatch = (e: unknown) => statusOf(e) === 400 && codeOf(e) === "PopReceiptMismatch";
const isBeingDeletedOrDisabled = (e: unknown) => statusOf(e) === 409 && ["QueueBeingDeleted", "QueueDisabled"].includes(codeOf(e) ?? "");
const isServerSideError = (e: unknown) => (statusOf(e) ?? 0) >= 500 && (statusOf(e) ?? 0) < 600;

function errorText(err: unknown): string {
  const e = err as Error | undefined;
  return e?.message ?? String(err);
}

// ---- one function's listener ----------------------------------------------------------------------------------

interface Deferred {
  promise: Promise<void>;
  resolve(): void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

export interface QueueListenerDeps {
  fn: RegisteredFunction;
  queueName: string;
  queue: QueueClient;
  /** Undefined when the queue has no poison queue. */
  poison?: { name: string; client: QueueClient };
  options: QueuesOptions;
  invoker: Pick<FunctionInvoker, "invoke">;
  log: HostLog;
  /** Tells the listeners of a queue that a message was put on it (SharedQueueWatcher). */
  notify(queueName: string): void;
}

export class QueueListener {
  private readonly processing = new Set<Promise<void>>();
  private readonly backoff: RandomizedExponentialBackoff;
  private readonly stopSignal = deferred();
  private stopWaiting?: Deferred;
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private loop?: Promise<void>;
  private queueExists?: boolean;
  private foundMessageSinceLastDelay = false;

  constructor(private readonly d: QueueListenerDeps) {
    this.backoff = new RandomizedExponentialBackoff(QUEUE_DEFAULTS.minPollingIntervalMs, d.options.maxPollingIntervalMs);
  }

  get queueName(): string {
    return this.d.queueName;
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** Stops polling and waits for the messages in flight (their functions finish and the messages are settled). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.stopSignal.resolve();
    if (this.timer) clearTimeout(this.timer);
    await this.loop;
    await Promise.all([...this.processing]);
  }

  /** A message was put on this queue by the host itself: poll now (SharedQueueWatcher → QueueListener.Notify). */
  notify(): void {
    this.stopWaiting?.resolve();
  }

  /** TaskSeriesTimer: run, wait what the run returned, run again (the first run at once). */
  private async run(): Promise<void> {
    let wait: Promise<void> = Promise.resolve();
    while (!this.stopped) {
      await Promise.race([wait, this.stopSignal.promise]);
      if (this.stopped) break;
      try {
        ({ wait } = await this.execute());
      } catch (err) {
        // The extension lets such errors reach the host's exception handler (the host restarts); here they are
        // logged and polling backs off.
        this.d.log.line(`Error: queue trigger '${this.d.fn.name}' could not poll queue '${this.d.queueName}': ${errorText(err)}`);
        wait = this.backoffWait();
      }
    }
  }

  /** QueueListener.ExecuteAsync; what to wait for before the next run (a TaskSeriesCommandResult). */
  private async execute(): Promise<{ wait: Promise<void> }> {
    this.stopWaiting?.resolve();
    this.stopWaiting = deferred();
    let batch: ReceivedMessageItem[] | undefined;
    try {
      if (!this.queueExists) this.queueExists = await this.d.queue.exists();
      if (this.queueExists) {
        const response = await this.d.queue.receiveMessages({
          numberOfMessages: this.d.options.batchSize,
          visibilityTimeout: RECEIVE_VISIBILITY_SECONDS,
        });
        batch = response.receivedMessageItems;
      }
    } catch (err) {
      this.queueExists = undefined;
      if (isQueueNotFound(err) || isBeingDeletedOrDisabled(err) || isServerSideError(err)) return { wait: this.backoffWait() };
      throw err;
    }
    if (!batch) return { wait: this.backoffWait() };
    let found = false;
    for (const message of batch) {
      const body = decodeMessageText(message.messageText, this.d.options.messageEncoding);
      if (!body) {
        // The SDK drops a message it cannot decode from the batch and calls MessageDecodingFailed, whose handler
        // (QueueServiceClientProvider) moves it, undecoded, to the poison queue.
        await this.settle(message, () => this.decodingFailed(message));
        continue;
      }
      found = true;
      const task = this.settle(message, () => this.processMessage(message, body));
      this.processing.add(task);
      void task.finally(() => this.processing.delete(task));
    }
    if (!found) return { wait: this.backoffWait() };
    this.foundMessageSinceLastDelay = true;
    return { wait: this.waitForNewBatchThreshold() };
  }

  private backoffWait(): Promise<void> {
    const ms = this.backoff.nextDelay(this.foundMessageSinceLastDelay);
    this.foundMessageSinceLastDelay = false;
    const waiting = this.stopWaiting ?? deferred();
    const delay = new Promise<void>((resolve) => {
      this.timer = setTimeout(resolve, ms);
    });
    return Promise.race([delay, waiting.promise]);
  }

  private async waitForNewBatchThreshold(): Promise<void> {
    while (this.processing.size > this.d.options.newBatchThreshold) await Promise.race([...this.processing]);
  }

  /** Runs one message's work; an error settling it is logged (the extension hands it to the host's exception handler). */
  private async settle(message: ReceivedMessageItem, work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (err) {
      this.d.log.line(
        `Error: queue trigger '${this.d.fn.name}', message '${message.messageId}' on '${this.d.queueName}': ${errorText(err)}`,
      );
    }
  }

  /** QueueListener.ProcessMessageAsync with QueueProcessor's Begin/CompleteProcessingMessageAsync. */
  private async processMessage(message: ReceivedMessageItem, body: Buffer): Promise<void> {
    const o = this.d.options;
    // The extension before 5.3.8 also skipped such messages on queues without a poison queue (leaving them
    // invisible forever); 5.3.8 "Fixed a bug where MaxDequeueCount was being applied to messages in the poison
    // queue itself": only a queue with a poison queue moves them.
    if (this.d.poison && message.dequeueCount > o.maxDequeueCount) {
      await this.handlePoison(message, encodeMessageBody(body, o.messageEncoding));
      return;
    }
    const renewal = this.renewVisibility(message);
    let succeeded: boolean;
    try {
      succeeded = await this.invoke(message, body);
    } finally {
      renewal.stop();
    }
    if (succeeded) {
      await this.deleteMessage(message);
    } else if (this.d.poison) {
      if (message.dequeueCount >= o.maxDequeueCount) await this.handlePoison(message, encodeMessageBody(body, o.messageEncoding));
      else await this.release(message, Math.floor(o.visibilityTimeoutMs / 1000));
    }
    // else: no poison queue; the failed message stays invisible to prevent a fast infinite loop.
  }

  private async invoke(message: ReceivedMessageItem, body: Buffer): Promise<boolean> {
    const { fn, invoker, log } = this.d;
    let data: ReturnType<typeof queueTriggerData>;
    try {
      data = queueTriggerData(fn, message, body);
    } catch (err) {
      log.line(`Executed 'Functions.${fn.name}' (Failed, Id=${randomUUID()}, Duration=0ms)`);
      log.line(`[${fn.name}] Error: ${errorText(err)}`);
      return false;
    }
    try {
      await invoker.invoke(fn, `New queue message detected on '${this.d.queueName}'.`, data.inputData, data.triggerMetadata);
      return true;
    } catch (err) {
      log.line(`[${fn.name}] Error: ${(err as Error)?.stack ?? String(err)}`);
      return false;
    }
  }

  /** QueueListener.CreateUpdateMessageVisibilityTimer: keep the message invisible while the function runs long. */
  private renewVisibility(message: ReceivedMessageItem): { stop(): void } {
    let timer: NodeJS.Timeout | undefined;
    let done = false;
    const schedule = (ms: number) => {
      if (!done) timer = setTimeout(() => void renew(), ms);
    };
    const renew = async () => {
      try {
        const r = await this.d.queue.updateMessage(message.messageId, message.popReceipt, undefined, RECEIVE_VISIBILITY_SECONDS);
        if (r.popReceipt) message.popReceipt = r.popReceipt;
        if (r.nextVisibleOn) message.nextVisibleOn = r.nextVisibleOn;
        schedule(RENEW_INTERVAL_MS);
      } catch (err) {
        if (isPopReceiptMismatch(err) || isMessageOrQueueNotFound(err) || isBeingDeletedOrDisabled(err)) return;
        schedule(RENEW_RETRY_MS);
      }
    };
    schedule(RENEW_INTERVAL_MS);
    return {
      stop: () => {
        done = true;
        if (timer) clearTimeout(timer);
      },
    };
  }

  /** QueueProcessor.DeleteMessageAsync: a lost pop receipt, message or queue is not an error. */
  private async deleteMessage(message: ReceivedMessageItem): Promise<void> {
    try {
      await this.d.queue.deleteMessage(message.messageId, message.popReceipt);
    } catch (err) {
      if (isPopReceiptMismatch(err) || isMessageOrQueueNotFound(err) || isBeingDeletedOrDisabled(err)) {
        if (this.d.log.verbose) this.d.log.line(`Unable to delete queue message '${message.messageId}': ${errorText(err)}`);
        return;
      }
      throw err;
    }
  }

  /** QueueProcessor.ReleaseMessageAsync: Update Message with the visibility timeout (its dequeueCount rises on the next Get). */
  private async release(message: ReceivedMessageItem, visibilitySeconds: number): Promise<void> {
    try {
      await this.d.queue.updateMessage(message.messageId, message.popReceipt, undefined, visibilitySeconds);
    } catch (err) {
      if (isPopReceiptMismatch(err) || isMessageOrQueueNotFound(err) || isBeingDeletedOrDisabled(err)) return;
      throw err;
    }
  }

  /** QueueProcessor.HandlePoisonMessageAsync / CopyMessageToPoisonQueueAsync, then the shared watcher's notification. */
  private async handlePoison(message: ReceivedMessageItem, text: string): Promise<void> {
    const poison = this.d.poison;
    if (!poison) return;
    this.d.log.line(
      `Warning: Message has reached MaxDequeueCount of ${this.d.options.maxDequeueCount}. Moving message to queue '${poison.name}'.`,
    );
    await sendAndCreateIfNotExists(poison.client, text);
    this.d.notify(poison.name);
    await this.deleteMessage(message);
  }

  /** The MessageDecodingFailed handler: the undecoded text goes to the poison queue (through a client without encoding). */
  private async decodingFailed(message: ReceivedMessageItem): Promise<void> {
    if (!this.d.poison) return;
    this.d.log.line(
      `Warning: queue message '${message.messageId}' on '${this.d.queueName}' is not valid base64 (host.json ` +
        `extensions.queues.messageEncoding is base64); the extension moves it to the poison queue without running '${this.d.fn.name}'.`,
    );
    await this.handlePoison(message, message.messageText);
  }
}

/** StorageQueueExtensions.AddMessageAndCreateIfNotExistsAsync. */
async function sendAndCreateIfNotExists(queue: QueueClient, text: string): Promise<void> {
  try {
    await queue.sendMessage(text);
    return;
  } catch (err) {
    if (!isQueueNotFound(err)) throw err;
  }
  await queue.createIfNotExists();
  await queue.sendMessage(text);
}

// ---- the app's queue triggers ---------------------------------------------------------------------------------

export class QueueTriggerError extends Error {}

/** One queue-triggered function, resolved: its queue, its poison queue, its account. */
export interface QueueTriggerInfo {
  functionName: string;
  queueName: string;
  poisonQueueName?: string;
  connection: string;
  queueServiceUrl: string;
}

/**
 * The connection string a binding's `connection` names (StorageClientProvider: `AzureWebJobs<name>` first, then
 * `<name>`; empty = AzureWebJobsStorage; keys case-insensitive as in .NET configuration). Identity-based
 * connections (`<name>__queueServiceUri`, `__serviceUri`, `__accountName`) are refused: the local host has no
 * credentials to use.
 */
export function queueConnectionString(connection: string | undefined, env: NodeJS.ProcessEnv): { name: string; value: string } {
  const name = connection && connection.trim() !== "" ? connection : STORAGE_SETTING;
  const lookup = (key: string) => {
    const k = Object.keys(env).find((e) => e.toLowerCase() === key.toLowerCase());
    return k !== undefined && env[k] ? { name: k, value: env[k] } : undefined;
  };
  const found = lookup(`AzureWebJobs${name}`) ?? lookup(name);
  if (found) return found;
  const identity = Object.keys(env).find((k) =>
    [`${name}__queueserviceuri`, `${name}__serviceuri`, `${name}__accountname`].map((s) => s.toLowerCase()).includes(k.toLowerCase()),
  );
  if (identity) {
    throw new QueueTriggerError(
      `The connection '${name}' is identity-based (${identity}); the local host's queue listener needs a connection string ` +
        `(unset ${STORAGE_SETTING} to use the Azurite it starts).`,
    );
  }
  throw new QueueTriggerError(`Storage account connection string '${name}' does not exist. Make sure that it is a defined App Setting.`);
}

/** Loads `@azure/storage-queue` from the host's folder, the app's or the cwd. */
export function loadQueueSdk(from: string[]): QueueSdk {
  let file: string;
  try {
    file = require.resolve("@azure/storage-queue", { paths: from });
  } catch {
    throw new QueueTriggerError(
      `Queue triggers need the '@azure/storage-queue' package (run 'npm install'), searched from ${from.join(", ")}.`,
    );
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- resolved at run time: the host may be compiled outside the project
  return require(file) as QueueSdk;
}

export interface QueueTriggersDeps {
  index: FunctionIndex;
  options: QueuesOptions;
  invoker: Pick<FunctionInvoker, "invoke">;
  log: HostLog;
  env: NodeJS.ProcessEnv;
  /** Where to look for @azure/storage-queue. */
  resolveFrom: string[];
}

/** Every queue-triggered function's listener (the extension's listeners, as the host starts and stops them). */
export class QueueTriggers {
  readonly triggers: QueueTriggerInfo[] = [];
  private readonly listeners: QueueListener[] = [];

  constructor(private readonly deps: QueueTriggersDeps) {
    const fns = deps.index.queueTriggers;
    if (fns.length === 0) return;
    const sdk = loadQueueSdk(deps.resolveFrom);
    const services = new Map<string, QueueServiceClient>();
    for (const fn of fns) {
      const t = this.resolve(fn, sdk, services);
      this.listeners.push(
        new QueueListener({
          fn,
          queueName: t.info.queueName,
          queue: t.service.getQueueClient(t.info.queueName),
          poison: t.info.poisonQueueName
            ? { name: t.info.poisonQueueName, client: t.service.getQueueClient(t.info.poisonQueueName) }
            : undefined,
          options: deps.options,
          invoker: deps.invoker,
          log: deps.log,
          notify: (queueName) => this.notify(queueName),
        }),
      );
      this.triggers.push(t.info);
    }
  }

  private resolve(
    fn: RegisteredFunction,
    sdk: QueueSdk,
    services: Map<string, QueueServiceClient>,
  ): { info: QueueTriggerInfo; service: QueueServiceClient } {
    const binding = fn.bindings[fn.triggerName] as { queueName?: unknown; connection?: unknown };
    const fail = (why: string) => new QueueTriggerError(`The queue trigger of function '${fn.name}': ${why}`);
    if (typeof binding.queueName !== "string") throw fail("no queueName.");
    let queueName: string;
    let cs: { name: string; value: string };
    try {
      queueName = resolveSettingRefs(binding.queueName, this.deps.env).toLowerCase();
      cs = queueConnectionString(typeof binding.connection === "string" ? binding.connection : undefined, this.deps.env);
    } catch (err) {
      throw fail(errorText(err));
    }
    const nameError = queueNameError(queueName);
    if (nameError) throw fail(nameError);
    const fields = parseConnectionString(cs.value);
    if (fields.blobendpoint && !fields.queueendpoint && !fields.accountname && !fields.usedevelopmentstorage) {
      throw fail(`the connection string in '${cs.name}' names a BlobEndpoint but no QueueEndpoint.`);
    }
    let service = services.get(cs.value);
    if (!service) {
      try {
        service = sdk.QueueServiceClient.fromConnectionString(cs.value);
      } catch (err) {
        throw fail(`the connection string in '${cs.name}' cannot be used: ${errorText(err)}`);
      }
      services.set(cs.value, service);
    }
    return {
      info: {
        functionName: fn.name,
        queueName,
        poisonQueueName: poisonQueueName(queueName),
        connection: cs.name,
        queueServiceUrl: stripQuery(service.url),
      },
      service,
    };
  }

  start(): void {
    for (const l of this.listeners) l.start();
  }

  async stop(): Promise<void> {
    await Promise.all(this.listeners.map((l) => l.stop()));
  }

  private notify(queueName: string): void {
    for (const l of this.listeners) if (l.queueName === queueName) l.notify();
  }

  /** The banner's lines (none without queue triggers). */
  bannerLines(): string[] {
    if (this.triggers.length === 0) return [];
    return [
      `Queue triggers (host.json extensions.queues: ${describeQueuesOptions(this.deps.options)}):`,
      ...this.triggers.map(
        (t) =>
          `\t${t.functionName}: queue '${t.queueName}' at ${t.queueServiceUrl} (${t.connection}); ` +
          (t.poisonQueueName ? `poison queue '${t.poisonQueueName}'` : "no poison queue"),
      ),
    ];
  }
}

function stripQuery(url: string): string {
  const u = url.split("?")[0];
  return u.endsWith("/") ? u.slice(0, -1) : u;
}
