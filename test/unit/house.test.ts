/** The house stays easy to live in: no import circle among the app's modules (src/), no function over 100 lines. */
import * as fs from "node:fs";
import * as path from "node:path";
import * as ts from "typescript";

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

const MAX_FUNCTION_LINES = 100;

/** Every function-like node of the app's TypeScript over MAX_FUNCTION_LINES, as `file:line name (n lines)`. */
function longFunctions(): string[] {
  const long: string[] = [];
  for (const file of importGraph().keys()) {
    const source = ts.createSourceFile(file, fs.readFileSync(file, "utf8"), ts.ScriptTarget.ES2022, true);
    const visit = (node: ts.Node) => {
      if (ts.isFunctionLike(node) && "body" in node && node.body) {
        const first = source.getLineAndCharacterOfPosition(node.getStart(source)).line;
        const last = source.getLineAndCharacterOfPosition(node.getEnd()).line;
        const name = (node as ts.FunctionLikeDeclaration).name?.getText(source) ?? "(anonymous)";
        if (last - first + 1 > MAX_FUNCTION_LINES)
          long.push(`${path.relative(SRC, file)}:${first + 1} ${name} (${last - first + 1} lines)`);
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return long;
}

test(`no function in src/ is over ${MAX_FUNCTION_LINES} lines`, () => {
  expect(longFunctions()).toEqual([]);
});
