import { app, type HttpRequest, type HttpResponseInit } from "@azure/functions";
import * as fs from "node:fs";
import * as path from "node:path";

/**
 * GET /api/ui: the live gather page, and GET /api/ui/{file} its script and stylesheet (src/ui/, read
 * from the deployed sources: no build step). Anonymous: the page holds no data and no key; it asks for
 * a function key (or takes ?code=) and sends it with its API calls as x-functions-key.
 */
// A Map, not an object literal: `{file}` comes from the URL, and `constructor` or `__proto__` must be unknown files.
const ASSETS = new Map<string, string>([
  ["index.html", "text/html; charset=utf-8"],
  ["app.js", "text/javascript; charset=utf-8"],
  ["style.css", "text/css; charset=utf-8"],
]);

/** src/ui beside this file (ts-jest) or at the package root beside dist/ (the built app). */
const UI_DIR = [path.resolve(__dirname, "../ui"), path.resolve(__dirname, "../../../src/ui")].find((dir) =>
  fs.existsSync(path.join(dir, "index.html")),
);

const HEADERS = {
  "Cache-Control": "no-cache",
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "Content-Security-Policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
};

export async function ui(request: HttpRequest): Promise<HttpResponseInit> {
  // The page links its files relative to /api/ui: from /api/ui/ or /api/ui/index.html they would be /api/ui/ui/….
  const url = new URL(request.url);
  if (/\/(index\.html)?$/.test(url.pathname) && (url.pathname.endsWith("/") || request.params.file === "index.html"))
    return { status: 308, headers: { Location: `${url.pathname.replace(/\/(index\.html)?$/, "")}${url.search}`, ...HEADERS } };
  const file = request.params.file || "index.html";
  const type = ASSETS.get(file);
  if (!type || !UI_DIR) return { status: 404, headers: { "Content-Type": "text/plain; charset=utf-8" }, body: "not found" };
  return { status: 200, headers: { "Content-Type": type, ...HEADERS }, body: await fs.promises.readFile(path.join(UI_DIR, file)) };
}

app.http("ui", { route: "ui", methods: ["GET"], authLevel: "anonymous", handler: ui });
app.http("uiAssets", { route: "ui/{file}", methods: ["GET"], authLevel: "anonymous", handler: ui });
