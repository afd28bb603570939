/** The start-up banner: what this host is, the durable store, the payload store, the limits, the keys, the functions, the queue triggers. */
import type { FunctionInfo } from "./function-index";

const ALL_METHODS = ["GET", "POST", "DELETE", "HEAD", "PATCH", "PUT", "OPTIONS", "TRACE"];

export interface BannerFacts {
  hubName: string;
  dataDir: string;
  rpcBaseUrl: string;
  payloadStore: string;
  maxPayloadBytes: number;
  maxTimerSpanMs: number;
  maxInstanceIdLength: number;
  /** The Durable webhook base URL, when WEBSITE_HOSTNAME names another host than this one. */
  webhookBaseUrl?: string;
  /** The keys and their file, when keys are enforced. */
  keys?: { master: string; function: string; system: string; file: string };
  functions: FunctionInfo[];
  /** The queue triggers' settings and queues (queue-listener.ts), when the app has any. */
  queueTriggers?: string[];
  outputsWarning?: string;
  baseUrl: string;
  port: number;
}

export function startupBanner(f: BannerFacts): string[] {
  const lines = [
    "",
    "This is the project's local host (tools/local-host), NOT the Azure Functions host: it emulates `func start` for this app.",
    `Durable task hub '${f.hubName}', store ${f.dataDir}, local RPC endpoint ${f.rpcBaseUrl}`,
    f.payloadStore,
    f.maxPayloadBytes > 0
      ? `Durable payloads over ${f.maxPayloadBytes} bytes (UTF-8) are refused (--max-payload-bytes; 0 = none).`
      : "Durable payload size limit: none (--max-payload-bytes 0).",
    f.maxTimerSpanMs > 0
      ? `Durable timers firing over ${f.maxTimerSpanMs} ms (${days(f.maxTimerSpanMs)}) after their instance started are refused (--max-timer-span-ms; 0 = none).`
      : "Durable timer span limit: none (--max-timer-span-ms 0).",
    f.maxInstanceIdLength > 0
      ? `Instance ids over ${f.maxInstanceIdLength} characters are refused (--max-instance-id-length; 0 = none).`
      : "Instance id length limit: none but the extension's 256 (--max-instance-id-length 0).",
    ...(f.webhookBaseUrl
      ? [`Durable webhook URLs use WEBSITE_HOSTNAME: ${f.webhookBaseUrl} (the durable client uses the local RPC endpoint).`]
      : []),
    ...keyLines(f.keys),
    "",
    "Functions:",
    "",
  ];
  for (const fn of f.functions) {
    lines.push(fn.url ? `\t${fn.name}: [${(fn.methods ?? ALL_METHODS).join(",")}] ${fn.url}` : `\t${fn.name}: ${fn.triggerType}`, "");
  }
  if (f.queueTriggers && f.queueTriggers.length > 0) lines.push(...f.queueTriggers, "");
  if (f.outputsWarning) lines.push(f.outputsWarning);
  lines.push(`Host started on ${f.baseUrl} (also http://127.0.0.1:${f.port}).`);
  return lines;
}

function days(ms: number): string {
  const d = Math.round((ms / 86_400_000) * 1000) / 1000;
  return `${d} day${d === 1 ? "" : "s"}`;
}

function keyLines(keys: BannerFacts["keys"]): string[] {
  if (!keys) return ["Keys: not required (as under func start; --require-keys enforces them as in Azure)."];
  return [
    `Keys are required (--require-keys), as in Azure; they are kept in ${keys.file}:`,
    `\tmaster key (admin routes, /admin/*, every function): ${keys.master}`,
    `\thost function key 'default' (authLevel function): ${keys.function}`,
    `\tsystem key 'durabletask_extension' (/runtime/webhooks/durabletask): ${keys.system}`,
  ];
}
