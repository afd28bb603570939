/**
 * Application Insights telemetry for scatter-gather (the `applicationinsights` 3.x SDK).
 *
 * Enabled when APPLICATIONINSIGHTS_CONNECTION_STRING is set; otherwise every function here is a silent
 * no-op and the SDK is never even loaded (it is `require`d lazily on first use, never imported at the top).
 * APPLICATIONINSIGHTS_AUTHENTICATION_STRING (`Authorization=AAD` or `Authorization=AAD;ClientId=<guid>`,
 * the format App Service / Functions document) switches ingestion to Entra ID with a managed identity.
 *
 * What is emitted (and nothing else):
 * - per gather, from the aggregateResponses activity: custom event `ScatterGatherCompleted`
 *   (properties instanceId, mode, outcome, closedBy, auction; measurements total, succeeded, failed,
 *   timedOut, abandoned, durationMs, and answerLatency{Count,AvgMs,MinMs,MaxMs,P50Ms,P95Ms} when there
 *   were answers), and metrics `ScatterGather.Recipients` (one value per gather) and
 *   `ScatterGather.AnswerLatencyMs` (one value per succeeded answer; exported as count/sum/min/max).
 * - per recipient call attempt, from the callRecipient activity: a dependency, type `Http` (the
 *   exporter's spelling) with the URL's origin as target for URL recipients, type `Simulated` with
 *   target `simulated` for simulations; success, duration, the reason of a failure (property `error`,
 *   result code = the HTTP status when there was one), properties instanceId + recipientId.
 * - per payload store request (src/payload): a dependency, type `Azure blob`, target the account host,
 *   name `<operation> <container>`, data `<operation> <container>/<key>`, properties instanceId, container.
 *
 * Replay safety: this module is only called from activities, never from orchestrator code, so an
 * orchestrator replay cannot emit anything. Activities are at-least-once (a worker crash or a lost
 * completion makes the host run one again): a re-executed activity emits its telemetry again. That is
 * accepted: it is rare, and a duplicated ScatterGatherCompleted is visible (same instanceId twice).
 *
 * No auto-collection: the client runs on its own, isolated OpenTelemetry providers
 * (`useGlobalProviders: false`), so it patches no module and registers no global provider. In Azure the
 * Functions host already records each invocation as a request, plus `context.log` traces and failed
 * invocations; HTTP auto-instrumentation here would duplicate every recipient call (which we track with
 * better names and properties) and add noise from the Durable client's RPC calls to the host. No live
 * metrics, performance counters or console capture either: the host's own telemetry covers those.
 *
 * Correlation: every item carries the custom property `instanceId` (the orchestration instance id,
 * which is also the `requestId` recipients receive), and the recipient calls carry `InvocationId`,
 * the same key the Functions host puts on its own `requests`/`traces` rows of that activity invocation.
 * All telemetry of one gather, in Log Analytics / Application Insights Logs (KQL):
 *
 *   union customEvents, dependencies, customMetrics
 *   | where tostring(customDimensions.instanceId) == "<instance id>"
 *   | order by timestamp asc
 *
 * and the host's own Durable tracking traces of the same instance with
 *   traces | where tostring(customDimensions.prop__instanceId) == "<instance id>"
 * The operation id (operation_Id) is not used as the gather key: the isolated providers have no context
 * manager to carry a parent context, and registering one globally would conflict with the host's
 * OpenTelemetry mode should it be enabled; the custom property is exact and cheap to filter on.
 */
import type { TokenCredential } from "@azure/core-auth";
import type { TelemetryClient } from "applicationinsights";
import { createRequire } from "node:module";
import * as os from "node:os";
import { recipientDependency } from "./gather/transports";
import type { ClosedBy, CompletionMode, Counts, Outcome, Recipient } from "./gather/types";

/** What the orchestrator hands aggregateResponses for telemetry (deterministic values only). */
export interface GatherReport {
  instanceId: string;
  mode: CompletionMode;
  /** The auction variant (answers as events) rather than called recipients. */
  auction?: boolean;
  outcome: Outcome;
  closedBy: ClosedBy;
  counts: Counts;
  startedAt: string;
  closedAt: string;
  recipients: number;
  /** durationMs of each succeeded answer (none in auction mode). */
  latenciesMs: number[];
}

/** One attempt of callRecipient. */
export interface RecipientCall {
  instanceId: string;
  /** The dependency's name, type and target come from its transport (src/gather/transports/). */
  recipient: Recipient;
  durationMs: number;
  success: boolean;
  /** The failure reason (RecipientError message), when it failed. */
  error?: string;
  /** The activity invocation id (joins the host's requests/traces of this invocation). */
  invocationId?: string;
  /** When known (Durable retries do not tell the activity which attempt it is). */
  attempt?: number;
}

const GATHER_EVENT = "ScatterGatherCompleted";
const RECIPIENTS_METRIC = "ScatterGather.Recipients";
const LATENCY_METRIC = "ScatterGather.AnswerLatencyMs";
/** flushTelemetry never waits longer than this for the ingestion endpoint. */
const FLUSH_TIMEOUT_MS = 5000;

/** undefined: not decided yet; null: disabled (no connection string, or the SDK failed to start). */
let client: TelemetryClient | null | undefined;

/** True when telemetry is enabled (a connection string is set and the client started). */
export function telemetryEnabled(): boolean {
  return getClient() !== null;
}

function getClient(): TelemetryClient | null {
  if (client !== undefined) return client;
  const connectionString = process.env.APPLICATIONINSIGHTS_CONNECTION_STRING?.trim();
  if (!connectionString) return (client = null);
  try {
    client = createClient(connectionString);
  } catch (error) {
    // Telemetry must never break the app: report once and carry on without it.
    console.warn(`Application Insights telemetry disabled: ${(error as Error)?.message ?? String(error)}`);
    client = null;
  }
  return client;
}

function createClient(connectionString: string): TelemetryClient {
  // Lazy: nothing of the SDK is loaded unless telemetry is enabled.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const ai = require("applicationinsights") as typeof import("applicationinsights");
  // The SDK's own dependencies, resolved from the SDK's location so they are the versions it uses.
  const sdkRequire = createRequire(require.resolve("applicationinsights"));
  const { resourceFromAttributes } = sdkRequire("@opentelemetry/resources") as {
    resourceFromAttributes(attributes: Record<string, string>): unknown;
  };

  const credential = credentialFromAuthString(process.env.APPLICATIONINSIGHTS_AUTHENTICATION_STRING, sdkRequire);
  const tc = new ai.TelemetryClient(connectionString, { useGlobalProviders: false });
  // Cloud role name / instance as the Functions host reports them (defaults: unknown_service:node).
  const resource = resourceFromAttributes({
    "service.name": process.env.WEBSITE_SITE_NAME || "scatter-gather-functions",
    "service.instance.id": process.env.WEBSITE_INSTANCE_ID || os.hostname(),
  });
  tc.config.azureMonitorOpenTelemetryOptions = {
    azureMonitorExporterOptions: { connectionString, ...(credential ? { credential } : {}) },
    resource: resource as never,
  };
  tc.initialize();
  return tc;
}

/** `Authorization=AAD[;ClientId=<guid>]` → a managed identity credential; anything else → none (key-based). */
function credentialFromAuthString(value: string | undefined, sdkRequire: NodeRequire): TokenCredential | undefined {
  if (!value?.trim()) return undefined;
  const fields: Record<string, string> = {};
  for (const pair of value.split(";")) {
    const eq = pair.indexOf("=");
    if (eq > 0) fields[pair.slice(0, eq).trim().toLowerCase()] = pair.slice(eq + 1).trim();
  }
  if (fields.authorization?.toUpperCase() !== "AAD") {
    console.warn("APPLICATIONINSIGHTS_AUTHENTICATION_STRING is not 'Authorization=AAD[;ClientId=...]': ignored");
    return undefined;
  }
  const { ManagedIdentityCredential } = sdkRequire("@azure/identity") as {
    ManagedIdentityCredential: new (options?: { clientId?: string }) => TokenCredential;
  };
  return fields.clientid ? new ManagedIdentityCredential({ clientId: fields.clientid }) : new ManagedIdentityCredential();
}

/** The per-gather event and metrics. Called by aggregateResponses only. */
export function trackGatherCompleted(report: GatherReport): void {
  const tc = getClient();
  if (!tc) return;
  try {
    const latency = summarize(report.latenciesMs ?? []);
    const properties = {
      instanceId: report.instanceId,
      mode: report.mode,
      outcome: report.outcome,
      closedBy: report.closedBy,
      auction: String(report.auction ?? false),
    };
    const durationMs = Date.parse(report.closedAt) - Date.parse(report.startedAt);
    tc.trackEvent({
      name: GATHER_EVENT,
      properties,
      measurements: {
        total: report.counts.total,
        succeeded: report.counts.succeeded,
        failed: report.counts.failed,
        timedOut: report.counts.timedOut,
        abandoned: report.counts.abandoned,
        durationMs: Number.isFinite(durationMs) ? durationMs : 0,
        ...(latency
          ? {
              answerLatencyCount: latency.count,
              answerLatencyAvgMs: latency.avg,
              answerLatencyMinMs: latency.min,
              answerLatencyMaxMs: latency.max,
              answerLatencyP50Ms: latency.p50,
              answerLatencyP95Ms: latency.p95,
            }
          : {}),
      },
    });
    // Metrics are OpenTelemetry histograms with delta temporality: each export interval sends one
    // aggregated row (value = sum, count, min, max) per dimension set, nothing accumulates in memory.
    const dimensions = { instanceId: report.instanceId, mode: report.mode, outcome: report.outcome };
    tc.trackMetric({ name: RECIPIENTS_METRIC, value: report.recipients, properties: dimensions });
    for (const ms of report.latenciesMs ?? []) {
      if (Number.isFinite(ms)) tc.trackMetric({ name: LATENCY_METRIC, value: ms, properties: dimensions });
    }
  } catch (error) {
    console.warn(`telemetry: trackGatherCompleted failed: ${(error as Error)?.message ?? String(error)}`);
  }
}

/** One dependency per callRecipient attempt. */
export function trackRecipientCall(call: RecipientCall): void {
  const tc = getClient();
  if (!tc) return;
  try {
    const properties: Record<string, string> = { instanceId: call.instanceId, recipientId: call.recipient.id };
    if (call.invocationId) properties.InvocationId = call.invocationId;
    if (call.attempt !== undefined) properties.attempt = String(call.attempt);
    if (call.error) properties.error = call.error;
    const dependency = recipientDependency(call.recipient, call);
    tc.trackDependency({
      name: dependency.name,
      dependencyTypeName: dependency.type,
      target: dependency.target,
      data: dependency.data,
      duration: Math.max(0, Math.round(call.durationMs)),
      resultCode: dependency.resultCode,
      success: call.success,
      properties: { ...properties, ...dependency.properties },
    });
  } catch (error) {
    console.warn(`telemetry: trackRecipientCall failed: ${(error as Error)?.message ?? String(error)}`);
  }
}

/** One request of the payload store to Azure Blob Storage (or Azurite). */
export interface BlobOperation {
  /** The Blob service REST operation: PutBlob, GetBlob, GetBlobProperties, ListBlobs, DeleteBlob, CreateContainer. */
  operation: string;
  container: string;
  /** Host (and port) of the blob endpoint: `<account>.blob.core.windows.net`, `127.0.0.1:10000`. */
  accountHost: string;
  /** The blob's key (none for container and listing operations). */
  key?: string;
  /** The orchestration instance the key belongs to (its first segment), for the per-gather query. */
  instanceId?: string;
  durationMs: number;
  success: boolean;
  /** HTTP status of the response, when there was one. */
  statusCode?: number;
  /** Bytes sent or received, when known. */
  bytes?: number;
}

/**
 * One dependency per payload store request, type `Azure blob` (the spelling of the classic SDKs), target
 * the account host, name `<operation> <container>`. A no-op, allocation aside, without a connection string:
 * the store calls this for each of possibly tens of thousands of writes.
 */
export function trackBlobOperation(op: BlobOperation): void {
  const tc = getClient();
  if (!tc) return;
  try {
    const data = op.key ? `${op.operation} ${op.container}/${op.key}` : `${op.operation} ${op.container}`;
    const properties: Record<string, string> = {
      container: op.container,
      // The exporter takes a custom dependency type from db.system and the data from db.statement.
      "db.system": "Azure blob",
      "db.statement": data,
    };
    if (op.instanceId) properties.instanceId = op.instanceId;
    if (op.bytes !== undefined) properties.bytes = String(op.bytes);
    tc.trackDependency({
      name: `${op.operation} ${op.container}`,
      dependencyTypeName: "Azure blob",
      target: op.accountHost,
      data,
      duration: Math.max(0, Math.round(op.durationMs)),
      resultCode: op.statusCode ?? (op.success ? 200 : 0),
      success: op.success,
      properties,
    });
  } catch (error) {
    console.warn(`telemetry: trackBlobOperation failed: ${(error as Error)?.message ?? String(error)}`);
  }
}

/**
 * Sends whatever is buffered now (spans every 5 s, logs every 1 s, metrics every 60 s otherwise).
 * Never throws, never waits more than FLUSH_TIMEOUT_MS.
 */
export async function flushTelemetry(): Promise<void> {
  const tc = client;
  if (!tc) return;
  await bounded(tc.flush(), FLUSH_TIMEOUT_MS);
}

/** Flushes and stops the exporters (process exit). Afterwards telemetry stays off. */
export async function shutdownTelemetry(): Promise<void> {
  const tc = client;
  if (!tc) return;
  client = null;
  await bounded(
    tc.flush().then(() => tc.shutdown()),
    FLUSH_TIMEOUT_MS,
  );
}

async function bounded(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([work, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms).unref()))]);
  } catch (error) {
    console.warn(`telemetry: flush failed: ${(error as Error)?.message ?? String(error)}`);
  } finally {
    if (timer) clearTimeout(timer);
  }
}

export interface LatencySummary {
  count: number;
  avg: number;
  min: number;
  max: number;
  p50: number;
  p95: number;
}

/** count/avg/min/max and nearest-rank p50/p95; undefined for no values. */
export function summarize(values: readonly number[]): LatencySummary | undefined {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return undefined;
  const rank = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
  const sum = sorted.reduce((s, v) => s + v, 0);
  return {
    count: sorted.length,
    avg: Math.round((sum / sorted.length) * 100) / 100,
    min: sorted[0],
    max: sorted[sorted.length - 1],
    p50: rank(0.5),
    p95: rank(0.95),
  };
}
