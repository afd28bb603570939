/** The house stays easy to live in: no import circle among the app's modules (src/). */
import * as fs from "node:fs";
import * as path from "node:path";

const SRC = path.resolve(__dirname, "../../src");

function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(file);
      else if (entry.name.endsWith(".ts")) {
        const source = fs.readFileSync(file, "utf8");
        const deps = [...source.matchAll(/^(?:import|export)[^;]*?from "(\.[^"]+)"/gms)].map((m) => {
          const target = path.resolve(path.dirname(file), m[1]);
          return fs.existsSync(target) && fs.statSync(target).isDirectory() ? path.join(target, "index.ts") : `${target}.ts`;
        });
        graph.set(file, deps);
      }
    }
  };
  walk(SRC);
  return graph;
}

function cycles(graph: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, "open" | "done">();
  const visit = (node: string, stack: string[]) => {
    state.set(node, "open");
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === "open") found.push([...stack.slice(stack.indexOf(next)), next].map((f) => path.relative(SRC, f)));
      else if (!state.has(next)) visit(next, [...stack, next]);
    }
    state.set(node, "done");
  };
  for (const node of graph.keys()) if (!state.has(node)) visit(node, [node]);
  return found;
}

test("src/ has no import circle", () => {
  expect(cycles(importGraph())).toEqual([]);
});

test("the check finds a circle", () => {
  const graph = new Map([
    ["/a.ts", ["/b.ts"]],
    ["/b.ts", ["/a.ts"]],
  ]);
  expect(cycles(graph)).toHaveLength(1);
});
