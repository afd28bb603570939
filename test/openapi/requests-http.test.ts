/**
 * requests.http (VS Code REST Client): every request names a route of the OpenAPI document, every JSON
 * body parses, the start bodies conform to the request schema and are the document's examples.
 */
import Ajv2020 from "ajv/dist/2020";
import * as fs from "node:fs";
import * as path from "node:path";
import { buildOpenApiDocument, gatherExamples } from "../../src/openapi/document";

const text = fs.readFileSync(path.join(__dirname, "..", "..", "requests.http"), "utf8");
const doc = buildOpenApiDocument() as { paths: Record<string, Record<string, unknown>>; components: unknown };

interface HttpRequestBlock {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: unknown;
}

function parse(): HttpRequestBlock[] {
  return text
    .split(/^###.*$/m)
    .slice(1)
    .map((block) => {
      const lines = block.split("\n").filter((l) => !/^\s*#/.test(l) && !/^@\w+\s*=/.test(l));
      const start = lines.findIndex((l) => /^(GET|POST|PUT|DELETE) /.test(l));
      const [method, url] = lines[start].split(" ");
      const headers: Record<string, string> = {};
      let i = start + 1;
      for (; i < lines.length && lines[i].trim() !== ""; i++) {
        const [name, ...value] = lines[i].split(":");
        headers[name.trim().toLowerCase()] = value.join(":").trim();
      }
      const rest = lines.slice(i).join("\n").trim();
      return { method, path: url.replace("{{baseUrl}}", "").split("?")[0], headers, ...(rest ? { body: JSON.parse(rest) } : {}) };
    });
}

test("every request is a route of the document; the start bodies are its examples and conform", () => {
  const requests = parse();
  expect(requests.length).toBeGreaterThanOrEqual(12);
  const routeOf = (p: string) => p.replace(/\{\{id\}\}|rfq-7/g, "{id}");
  for (const r of requests)
    expect([r.method, routeOf(r.path), Boolean(doc.paths[routeOf(r.path)]?.[r.method.toLowerCase()])]).toEqual([
      r.method,
      routeOf(r.path),
      true,
    ]);
  for (const r of requests.filter((r) => r.path !== "/api/openapi.json")) expect(r.headers["x-functions-key"]).toBe("{{key}}");

  const ajv = new Ajv2020({ strict: false });
  ajv.addSchema({ ...doc, $id: "openapi.json" });
  const validate = ajv.getSchema("openapi.json#/components/schemas/GatherRequest")!;
  const starts = requests.filter((r) => r.method === "POST" && r.path === "/api/scatter-gather").map((r) => r.body);
  for (const body of starts) expect(validate(body)).toBe(true);
  for (const example of Object.values(gatherExamples)) expect(starts).toContainEqual(example.value);
});
