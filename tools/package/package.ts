/**
 * `npm run package`: the folder `azd deploy` zips and uploads (azure.yaml: `dist: dist/deploy`,
 * `remoteBuild: false`), holding only what the Functions host runs:
 *
 *   dist/deploy/
 *     host.json, package.json, package-lock.json
 *     dist/src/**.js       the compiled app (no source maps; no dist/test, dist/tools)
 *     src/ui/              the page's static files (src/functions/ui.ts reads them beside dist/)
 *     node_modules/        production dependencies only: `npm ci --omit=dev` from the lock file
 *     .funcignore          so that azd keeps node_modules (see below); azd does not zip it
 *
 * Why a folder of its own: with `remoteBuild: true` the platform ran `npm install` on Linux, which installs
 * devDependencies too (ESLint, Jest, Azurite, Playwright, tree-sitter, TypeScript), and every cold start
 * of a Flex Consumption instance then carried them. What azd does with this folder (read in Azure/azure-dev,
 * cli/azd/pkg/project): the Node framework service runs `npm run build` and packages the service's `dist`
 * folder; the function app target zips it, honouring a `.funcignore` found in that folder, and uploads it
 * with remote build off. Without a `.funcignore` there, azd versions before March 2026 left node_modules out
 * of a JS/TS package, hence the (empty) one written here.
 *
 *   node dist/tools/package/package.js [--out DIR] [--compiled DIR] [--no-install] [--prefer-offline]
 *
 * `--compiled` is where `tsc` wrote (default `dist`, what `npm run build` makes; `npm run package` builds
 * first). Only compiled files whose TypeScript source still exists are taken, so a stale file in dist/
 * never ships.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

export interface PackageOptions {
  /** The project root (package.json, host.json, src/). */
  root: string;
  /** Where tsc wrote the project (its `src/` is taken). Default `<root>/dist`. */
  compiledDir?: string;
  /** The package folder, emptied first. Default `<root>/dist/deploy`. */
  outDir?: string;
  /** Run `npm ci --omit=dev` in the package (default true). */
  install?: boolean;
  /** Extra arguments for `npm ci`, e.g. `--prefer-offline`. */
  npmArgs?: string[];
  log?: (line: string) => void;
}

export interface FolderSize {
  files: number;
  bytes: number;
}

export interface PackageReport {
  outDir: string;
  /** Everything but node_modules. */
  app: FolderSize;
  nodeModules: FolderSize & { packages: number };
  total: FolderSize;
}

/** The package folder, relative to the project root: azure.yaml's `dist` for the api service. */
export const DEFAULT_OUT_DIR = "dist/deploy";

/** The page's files (src/functions/ui.ts ASSETS), served from `<package>/src/ui`. */
const UI_DIR = path.join("src", "ui");
const ROOT_FILES = ["host.json", "package.json", "package-lock.json"];

const FUNCIGNORE = [
  "# Written by tools/package/package.ts: this folder holds only what runs, production node_modules included.",
  "# azd zips the package folder minus the patterns listed here; with no .funcignore at all, azd versions",
  "# before March 2026 left node_modules out of a JavaScript/TypeScript package. Nothing is excluded.",
  "",
].join("\n");

export function buildDeployPackage(options: PackageOptions): PackageReport {
  const root = path.resolve(options.root);
  const compiled = path.resolve(options.compiledDir ?? path.join(root, "dist"));
  const out = path.resolve(options.outDir ?? path.join(root, DEFAULT_OUT_DIR));
  const log = options.log ?? (() => undefined);
  const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as { main?: string };

  if (!fs.existsSync(path.join(compiled, "src", "functions"))) {
    throw new Error(`${path.join(compiled, "src", "functions")} does not exist: run \`npm run build\` first (npm run package does).`);
  }
  if (out === root || root.startsWith(out + path.sep)) throw new Error(`refusing to empty ${out}: it holds the project`);
  fs.rmSync(out, { recursive: true, force: true });
  fs.mkdirSync(out, { recursive: true });

  // The compiled app: each .js whose .ts source exists (dist/ may hold files of deleted sources).
  const appSrc = path.join(root, "src");
  for (const rel of listFiles(path.join(compiled, "src"))) {
    if (!rel.endsWith(".js")) continue; // source maps, declarations
    if (!fs.existsSync(path.join(appSrc, rel.replace(/\.js$/, ".ts")))) continue;
    copy(path.join(compiled, "src", rel), path.join(out, "dist", "src", rel));
  }
  for (const rel of listFiles(path.join(root, UI_DIR))) copy(path.join(root, UI_DIR, rel), path.join(out, UI_DIR, rel));
  for (const file of ROOT_FILES) copy(path.join(root, file), path.join(out, file));
  fs.writeFileSync(path.join(out, ".funcignore"), FUNCIGNORE);
  if (!pkg.main?.startsWith("dist/src/")) throw new Error(`package.json main '${pkg.main}' is not under dist/src/`);

  if (options.install !== false) {
    const args = ["ci", "--omit=dev", "--no-audit", "--no-fund", ...(options.npmArgs ?? [])];
    log(`npm ${args.join(" ")} (in ${out})`);
    execFileSync(process.platform === "win32" ? "npm.cmd" : "npm", args, {
      cwd: out,
      stdio: ["ignore", "pipe", "pipe"],
      shell: process.platform === "win32",
      env: { ...process.env, NODE_ENV: "production" },
    });
  }
  return measurePackage(out);
}

/** Files and bytes of a package folder: the app part, its node_modules, and both. */
export function measurePackage(dir: string): PackageReport {
  const app: FolderSize = { files: 0, bytes: 0 };
  const nodeModules = { files: 0, bytes: 0, packages: 0 };
  for (const rel of listFiles(dir)) {
    const size = fs.statSync(path.join(dir, rel)).size;
    const into = rel.split("/")[0] === "node_modules" ? nodeModules : app;
    into.files++;
    into.bytes += size;
    if (into === nodeModules && rel.endsWith("/package.json") && isPackageRoot(rel)) nodeModules.packages++;
  }
  return { outDir: dir, app, nodeModules, total: { files: app.files + nodeModules.files, bytes: app.bytes + nodeModules.bytes } };
}

/** `node_modules/x/package.json` or `node_modules/@s/x/package.json` (at any depth), not a file deeper inside a package. */
function isPackageRoot(rel: string): boolean {
  const parts = rel.split("/");
  const i = parts.lastIndexOf("node_modules");
  const rest = parts.slice(i + 1);
  return rest.length === (rest[0].startsWith("@") ? 3 : 2);
}

/** Every regular file under `dir`, as forward-slash paths relative to it, sorted. Symbolic links are followed. */
export function listFiles(dir: string): string[] {
  const found: string[] = [];
  const walk = (rel: string) => {
    for (const entry of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const child = rel ? `${rel}/${entry.name}` : entry.name;
      const stat = entry.isSymbolicLink() ? fs.statSync(path.join(dir, child)) : entry;
      if (stat.isDirectory()) walk(child);
      else if (stat.isFile()) found.push(child);
    }
  };
  if (fs.existsSync(dir)) walk("");
  return found.sort();
}

function copy(from: string, to: string): void {
  fs.mkdirSync(path.dirname(to), { recursive: true });
  fs.copyFileSync(from, to);
}

export function formatSize(size: FolderSize): string {
  return `${size.files} files, ${(size.bytes / 1e6).toFixed(1)} MB`;
}

function main(argv: string[]): void {
  const options: PackageOptions = { root: path.resolve(__dirname, "..", "..", ".."), npmArgs: [], log: (line) => console.log(line) };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === "--out") options.outDir = path.resolve(value());
    else if (a === "--compiled") options.compiledDir = path.resolve(value());
    else if (a === "--no-install") options.install = false;
    else if (a === "--prefer-offline" || a === "--offline") options.npmArgs!.push(a);
    else throw new Error(`Unknown option '${a}' (use --out DIR, --compiled DIR, --no-install, --prefer-offline, --offline)`);
  }
  const report = buildDeployPackage(options);
  console.log(
    `${path.relative(process.cwd(), report.outDir) || "."}: app ${formatSize(report.app)}; ` +
      `node_modules ${report.nodeModules.packages} packages, ${formatSize(report.nodeModules)}; total ${formatSize(report.total)}`,
  );
}

if (require.main === module) {
  try {
    main(process.argv.slice(2));
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  }
}
