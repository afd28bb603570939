/** The start-up banner: what this host is, the durable store, the payload store, the limits, the functions. */
import type { FunctionInfo } from "./function-index";

const ALL_METHODS = ["GET", "POST", "DELETE", "HEAD", "PATCH", "PUT", "OPTIONS", "TRACE"];

export interface BannerFacts {
  hubName: string;
  dataDir: string;
  rpcBaseUrl: string;
  payloadStore: string;
  maxPayloadBytes: number;
  functions: FunctionInfo[];
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
    "",
    "Functions:",
    "",
  ];
  for (const fn of f.functions) {
    lines.push(fn.url ? `\t${fn.name}: [${(fn.methods ?? ALL_METHODS).join(",")}] ${fn.url}` : `\t${fn.name}: ${fn.triggerType}`, "");
  }
  if (f.outputsWarning) lines.push(f.outputsWarning);
  lines.push(`Host started on ${f.baseUrl} (also http://127.0.0.1:${f.port}).`);
  return lines;
}
