/**
 * The deployment package that `azd deploy` uploads (azure.yaml `dist: dist/deploy`, filled by
 * `npm run package`, tools/package/package.ts), built here from this repository into a temp folder:
 * the project compiled with its own tsconfig, then the package with `npm ci --omit=dev --prefer-offline`
 * (from the npm cache that the project's own `npm ci` filled). Checks that it holds only what runs,
 * production dependencies only, and that the app runs from it with nothing else: its functions load, and
 * the project's local host serves a gather and the page from it.
 * Run: npx jest test/infra/package.test.ts (about a minute).
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { buildDeployPackage, listFiles, type PackageReport } from "../../tools/package/package";
import { spawnHost, type HostProcess } from "../../tools/local-host/test/harness";
import { startAzurite, type RunningAzurite } from "../payload/azurite";

const ROOT = path.resolve(__dirname, "..", "..");
const PACKAGE_JSON = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as {
  main: string;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};
const LOCK = JSON.parse(fs.readFileSync(path.join(ROOT, "package-lock.json"), "utf8")) as {
  packages: Record<string, { dev?: boolean; optional?: boolean; os?: string[]; cpu?: string[] }>;
};

jest.setTimeout(120_000);

let tmp: string;
let build: string;
let pkg: string;
let report: PackageReport;

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "deploy-package-test-"));
  build = path.join(tmp, "build");
  pkg = path.join(tmp, "package");
  // The project's own build (source maps on, as tsconfig.json has them), into the temp folder: dist/ stays as it is.
  // --noCheck: the same files (isolatedModules: emit never depends on types), without type-checking the
  // project a second time; `npm run build` / `npm run typecheck` do that, and `npm test` builds before jest.
  execFileSync(
    process.execPath,
    [path.join(ROOT, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.json", "--noCheck", "--outDir", build],
    { cwd: ROOT, stdio: "pipe" },
  );
  report = buildDeployPackage({ root: ROOT, compiledDir: build, outDir: pkg, npmArgs: ["--prefer-offline"] });
}, 180_000);

afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

/** Files of the package outside node_modules. */
const appFiles = () => listFiles(pkg).filter((f) => !f.startsWith("node_modules/"));

/** Each installed package's folder (`node_modules/a`, `node_modules/a/node_modules/@s/b`, ...), from its package.json. */
function installedPackages(): string[] {
  return listFiles(path.join(pkg, "node_modules"))
    .map((f) => `node_modules/${f}`)
    .filter((f) => {
      if (!f.endsWith("/package.json")) return false;
      const parts = f.split("/");
      const rest = parts.slice(parts.lastIndexOf("node_modules") + 1);
      return rest.length === (rest[0].startsWith("@") ? 3 : 2);
    })
    .map((f) => f.slice(0, -"/package.json".length));
}

describe("deploy package (npm run package)", () => {
  test("holds the compiled app, the page, host.json, package.json, the lock file and node_modules, nothing else", () => {
    expect(fs.readdirSync(pkg).sort()).toEqual([
      ".funcignore",
      "dist",
      "host.json",
      "node_modules",
      "package-lock.json",
      "package.json",
      "src",
    ]);
    const files = appFiles();
    const unexpected = files.filter(
      (f) =>
        ![".funcignore", "host.json", "package.json", "package-lock.json"].includes(f) &&
        !/^src\/ui\/(index\.html|app\.js|style\.css)$/.test(f) &&
        !(
          f.startsWith("dist/src/") &&
          f.endsWith(".js") &&
          fs.existsSync(path.join(ROOT, f.slice("dist/".length).replace(/\.js$/, ".ts")))
        ),
    );
    expect(unexpected).toEqual([]);
    expect(files.filter((f) => /\.(map|ts)$/.test(f) || /^(dist\/)?(test|tools|infra|docs)\//.test(f))).toEqual([]);
    // every function file and every module of src/ is there, compiled
    const sources = listFiles(path.join(ROOT, "src")).filter((f) => f.endsWith(".ts"));
    expect(sources.length).toBeGreaterThan(50);
    for (const source of sources) expect(files).toContain(`dist/src/${source.replace(/\.ts$/, ".js")}`);
    for (const file of ["host.json", "package.json", "package-lock.json"])
      expect(fs.readFileSync(path.join(pkg, file), "utf8")).toBe(fs.readFileSync(path.join(ROOT, file), "utf8"));
    // the build really made source maps and compiled test/ and tools/: the package left them out
    expect(fs.existsSync(path.join(build, "src", "functions", "ui.js.map"))).toBe(true);
    expect(fs.existsSync(path.join(build, "tools", "local-host", "cli.js"))).toBe(true);
    // azd zips the folder minus the patterns of its .funcignore: none
    const patterns = fs
      .readFileSync(path.join(pkg, ".funcignore"), "utf8")
      .split("\n")
      .filter((line) => line.trim() && !line.trim().startsWith("#"));
    expect(patterns).toEqual([]);
  });

  test("node_modules holds the production dependencies of the lock file and no devDependency", () => {
    const installed = installedPackages();
    // every installed package is a lock-file entry that a production dependency needs
    const notInLock = installed.filter((p) => !LOCK.packages[p]);
    const devOnly = installed.filter((p) => LOCK.packages[p]?.dev);
    expect({ notInLock, devOnly }).toEqual({ notInLock: [], devOnly: [] });
    // and every such entry is installed (but packages for another OS or CPU)
    const wanted = Object.entries(LOCK.packages)
      .filter(([p, e]) => p.startsWith("node_modules/") && !e.dev && !(e.optional && (e.os || e.cpu)))
      .map(([p]) => p);
    expect(wanted.filter((p) => !installed.includes(p))).toEqual([]);
    for (const dep of Object.keys(PACKAGE_JSON.dependencies)) expect(installed).toContain(`node_modules/${dep}`);
    // A devDependency is there only where a production dependency needs the same package (the lock file says so).
    const devNames = Object.keys(PACKAGE_JSON.devDependencies);
    const present = devNames.filter((name) => installed.some((p) => p === `node_modules/${name}` || p.endsWith(`/node_modules/${name}`)));
    const neededByProduction = devNames.filter((name) =>
      Object.entries(LOCK.packages).some(([p, e]) => (p === `node_modules/${name}` || p.endsWith(`/node_modules/${name}`)) && !e.dev),
    );
    expect(present).toEqual(neededByProduction);
    for (const tool of ["typescript", "jest", "eslint", "azurite", "playwright-core", "prettier", "web-tree-sitter", "tree-sitter-bicep"])
      expect(present).not.toContain(tool);
    // no native add-on: a package built on Windows or macOS runs on the Linux host as it is
    expect(listFiles(path.join(pkg, "node_modules")).filter((f) => f.endsWith(".node"))).toEqual([]);
    // the figures npm run package prints
    expect(report.nodeModules.packages).toBe(installed.length);
    expect(report.app.files).toBe(appFiles().length);
  });

  test("the app's functions load from the package with its node_modules only", () => {
    // The worker's part (tools/local-host/worker.ts): provide @azure/functions-core, load every file of `main`.
    const script = `
      const Module = require("node:module");
      const names = [];
      const disposable = { dispose() {} };
      const core = {
        version: "3.12.0", hostVersion: "4.0.0",
        registerFunction(metadata) { names.push(metadata.name); return disposable; },
        registerHook() { return disposable; },
        setProgrammingModel() {}, getProgrammingModel() { return undefined; }, log() {},
        Disposable: class { static from() { return disposable; } dispose() {} },
      };
      const load = Module.prototype.require;
      Module.prototype.require = function (id) { return id === "@azure/functions-core" ? core : load.apply(this, arguments); };
      const fs = require("node:fs"), path = require("node:path");
      const pkg = JSON.parse(fs.readFileSync("package.json", "utf8"));
      if (pkg.main !== "dist/src/functions/*.js") throw new Error("main is " + pkg.main);
      const dir = path.resolve(process.env.APP_FUNCTIONS_DIR || "dist/src/functions");
      for (const file of fs.readdirSync(dir).filter((f) => f.endsWith(".js")).sort()) require(path.join(dir, file));
      // the modules the app loads on demand (telemetry, managed identity) too: every production dependency
      const resolved = Object.keys(pkg.dependencies).map((dep) => path.relative(process.cwd(), require.resolve(dep)));
      process.stdout.write(JSON.stringify({ names: names.sort(), resolved }));
    `;
    const env = { ...process.env };
    delete env.NODE_PATH;
    const run = (cwd: string, extra: NodeJS.ProcessEnv = {}) =>
      JSON.parse(execFileSync(process.execPath, ["-e", script], { cwd, env: { ...env, ...extra }, encoding: "utf8" })) as {
        names: string[];
        resolved: string[];
      };
    const fromPackage = run(pkg);
    expect(fromPackage.resolved.every((p) => p.startsWith(`node_modules${path.sep}`))).toBe(true);
    // the same functions as the full build with every dependency of the project
    fs.writeFileSync(path.join(build, "package.json"), JSON.stringify(PACKAGE_JSON));
    const fromBuild = run(build, { NODE_PATH: path.join(ROOT, "node_modules"), APP_FUNCTIONS_DIR: path.join(build, "src", "functions") });
    expect(fromPackage.names).toEqual(fromBuild.names);
    expect(fromPackage.names).toEqual(expect.arrayContaining(["startScatterGather", "scatterGatherOrchestrator", "callRecipient", "ui"]));
    expect(fromPackage.names.length).toBeGreaterThanOrEqual(16);
  });

  describe("the local host runs a gather from the package", () => {
    let azurite: RunningAzurite | undefined;
    let host: HostProcess | undefined;
    beforeAll(async () => {
      // The payload store's account, and its queues (receiveReply's trigger); the host (compiled above, no npm
      // packages of its own) loads the app from the package.
      azurite = await startAzurite({ queue: true });
      host = await spawnHost({
        cliPath: path.join(build, "tools", "local-host", "cli.js"),
        appDir: pkg,
        dataDir: path.join(tmp, "data"),
        env: { AzureWebJobsStorage: azurite.connectionString, TASKHUB_NAME: "default" },
      });
    }, 60_000);
    afterAll(async () => {
      await host?.stop();
      await azurite?.stop();
    });

    test("a gather completes, and the page is served from src/ui", async () => {
      const start = await fetch(`${host!.url}/api/scatter-gather`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          request: { item: "package test" },
          recipients: [1, 2, 3].map((price) => ({ id: `r${price}`, simulate: { latencyMs: 5, value: { price } } })),
          aggregate: { kind: "best", field: "price", order: "min" },
        }),
      });
      expect(start.status).toBe(202);
      const { id } = (await start.json()) as { id: string };
      let status: { runtimeStatus?: string; result?: { counts?: { succeeded?: number } } } = {};
      for (let i = 0; i < 300 && !["Completed", "Failed", "Terminated"].includes(status.runtimeStatus ?? ""); i++) {
        await new Promise((r) => setTimeout(r, 100));
        status = (await (await fetch(`${host!.url}/api/scatter-gather/${id}`)).json()) as typeof status;
      }
      expect(status.runtimeStatus).toBe("Completed");
      expect(status.result?.counts?.succeeded).toBe(3);
      const page = await fetch(`${host!.url}/api/ui`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain("<html");
      expect((await fetch(`${host!.url}/api/ui/app.js`)).status).toBe(200);
    });
  });
});
