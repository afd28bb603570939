/**
 * The event a gather sends when it closes (API.md "Notification when a gather closes"): one CloudEvents 1.0
 * event in structured JSON, signed as Standard Webhooks sign theirs, and the schedule its deliveries follow.
 * Pure: the orchestrator builds the event, an activity signs and sends it (the secret never enters history).
 */
import { createHmac } from "node:crypto";
import type { Counts } from "./spec";

export const CLOSE_EVENT_TYPE = "scatter-gather.closed";
export const CLOUDEVENTS_CONTENT_TYPE = "application/cloudevents+json";

export interface ClosedGather {
  id: string;
  runId: string;
  outcome: string;
  closedBy: string;
  counts: Counts;
  /** Absolute URL of GET /api/scatter-gather/{id}/responses (the public origin's). */
  responsesUri: string;
  /** When the gather closed (ISO). */
  time: string;
}

export interface CloseEvent {
  specversion: "1.0";
  type: typeof CLOSE_EVENT_TYPE;
  source: string;
  id: string;
  subject: string;
  time: string;
  datacontenttype: "application/json";
  data: { id: string; outcome: string; closedBy: string; counts: Counts; statusUri: string; responsesUri: string };
}

export function closeEvent(gather: ClosedGather): CloseEvent {
  const statusUri = gather.responsesUri.replace(/\/responses$/, "");
  return {
    specversion: "1.0",
    type: CLOSE_EVENT_TYPE,
    source: statusUri.slice(0, statusUri.length - encodeURIComponent(gather.id).length - 1),
    id: `${gather.id}:${gather.runId}`,
    subject: gather.id,
    time: gather.time,
    datacontenttype: "application/json",
    data: {
      id: gather.id,
      outcome: gather.outcome,
      closedBy: gather.closedBy,
      counts: gather.counts,
      statusUri,
      responsesUri: gather.responsesUri,
    },
  };
}

/**
 * The Standard Webhooks signature header: `v1,` + base64(HMAC-SHA256(key, "<id>.<timestamp>.<body>")), the
 * key being the bytes the `whsec_` secret's base64 decodes to.
 */
export function webhookSignature(key: Uint8Array, messageId: string, timestamp: number, body: string): string {
  return `v1,${createHmac("sha256", key).update(`${messageId}.${timestamp}.${body}`).digest("base64")}`;
}

/** Deliveries of one close event: this many attempts at most, spread over about two minutes. */
export const MAX_NOTIFY_ATTEMPTS = 8;

/** The wait before attempt n+1 (1 s, 2 s, 4 s, … 64 s), or undefined when no attempt is left. */
export function notifyRetryDelayMs(failedAttempts: number): number | undefined {
  return failedAttempts >= MAX_NOTIFY_ATTEMPTS ? undefined : 1000 * 2 ** (failedAttempts - 1);
}

/** What the result records of a notification. */
export interface NotificationReport {
  delivered: boolean;
  attempts: number;
  /** The last answer's HTTP status, or null when none came (refused, timed out). */
  lastStatus: number | null;
}
