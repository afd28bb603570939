// Runs npm scripts at the same time (`node tools/run-parallel.mjs build lint format:check`), for `npm test`:
// the build, the linter and the format check are independent and each mostly uses one core. Each script's
// output is held and printed whole when it ends, so the logs do not interleave. Exits 1 if any failed.
import { spawn } from "node:child_process";

const scripts = process.argv.slice(2);
const npm = process.env.npm_execpath; // the npm that runs `npm test`, when there is one
const results = await Promise.all(
  scripts.map(
    (script) =>
      new Promise((resolve) => {
        const [command, args] = npm ? [process.execPath, [npm, "run", script]] : ["npm", ["run", script]];
        const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
        const chunks = [];
        child.stdout.on("data", (d) => chunks.push(d));
        child.stderr.on("data", (d) => chunks.push(d));
        child.on("error", (error) => chunks.push(Buffer.from(`${error.stack}\n`)));
        child.on("close", (code, signal) => {
          process.stdout.write(Buffer.concat(chunks));
          const ok = code === 0;
          console.log(`${ok ? "ok" : "FAILED"}: npm run ${script}${ok ? "" : ` (${signal ?? `exit ${code}`})`}\n`);
          resolve(ok);
        });
      }),
  ),
);
process.exit(results.every(Boolean) ? 0 : 1);
