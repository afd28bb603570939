/**
 * The app's public URLs (management URLs, an auction's respondUrl) come from configuration only, never
 * from the request: `createCheckStatusResponse(request, id)` would put the request's origin, i.e. its
 * Host header, into every URL, and a caller could then send bidders to a host of its choosing.
 * The durable client's management URLs are built by the host from its own settings (in Azure from
 * WEBSITE_HOSTNAME, under `npm start` from the listening origin); PUBLIC_BASE_URL, when set, replaces
 * their origin (an app behind a gateway or a custom domain).
 */
import type { HttpResponseInit } from "@azure/functions";
import type { DurableClient, HttpManagementPayload } from "durable-functions";

function readPublicBaseUrl(env: NodeJS.ProcessEnv = process.env): URL | undefined {
  const raw = env.PUBLIC_BASE_URL?.trim();
  if (!raw) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`App setting PUBLIC_BASE_URL must be an absolute http(s) URL, got "${raw}"`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new Error(`App setting PUBLIC_BASE_URL must be http or https, got "${raw}"`);
  return url;
}

/** The management URLs of an instance, on the public origin. */
export function managementUrls(client: DurableClient, instanceId: string, env: NodeJS.ProcessEnv = process.env): HttpManagementPayload {
  const payload = client.createHttpManagementPayload(instanceId);
  const base = readPublicBaseUrl(env);
  if (!base) return payload;
  const rebased: Record<string, string> = {};
  for (const [key, value] of Object.entries(payload) as [string, string][]) {
    rebased[key] = key === "id" ? value : value.replace(new URL(value).origin, base.origin);
  }
  return rebased as unknown as HttpManagementPayload;
}

/** The origin the public URLs use: PUBLIC_BASE_URL, else the host's own (from the management URLs). */
export function publicOrigin(urls: HttpManagementPayload): string {
  return new URL(urls.statusQueryGetUri).origin;
}

/** `<public origin>/api/scatter-gather/<id>`: what the answer URLs, requestUrl and responsesUri are built on. */
export function gatherApiBase(client: DurableClient, instanceId: string, env: NodeJS.ProcessEnv = process.env): string {
  return `${publicOrigin(managementUrls(client, instanceId, env))}/api/scatter-gather/${encodeURIComponent(instanceId)}`;
}

/** 202 Accepted with the management URLs, as createCheckStatusResponse answers, without the request's origin. */
export function checkStatusResponse(urls: HttpManagementPayload): HttpResponseInit {
  return {
    status: 202,
    jsonBody: urls,
    headers: { "Content-Type": "application/json; charset=utf-8", Location: urls.statusQueryGetUri, "Retry-After": "10" },
  };
}
