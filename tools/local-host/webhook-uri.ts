/**
 * The Durable extension's webhook URI as the Functions host hands it out (azure-functions-host
 * WebHooks/DefaultScriptWebHookProvider.GetExtensionWebHookRoute): `<scheme>://<WEBSITE_HOSTNAME>/runtime/webhooks/<name>`,
 * `http` only when the host name starts with `localhost:`, else `https`; `?code=<system key>` when keys are enforced.
 * The extension builds every public URL from it (HttpApiHandler.GetBaseUrl / GetUniversalQueryStrings).
 */
export function extensionWebhookUri(hostName: string, extensionName: string, systemKey?: string): URL {
  const invalid = () =>
    new Error(`WEBSITE_HOSTNAME '${hostName}' does not make a webhook URL (expected a host name, optionally with :port).`);
  if (!/^[^\s/?#@\\]+$/.test(hostName)) throw invalid();
  const scheme = hostName.toLowerCase().startsWith("localhost:") ? "http" : "https";
  const query = systemKey ? `?code=${systemKey}` : "";
  try {
    return new URL(`${scheme}://${hostName}/runtime/webhooks/${extensionName}${query}`);
  } catch {
    throw invalid();
  }
}
