/** One local host per data directory (data-dir-lock.ts) and the owner files behind it (pid-file.ts). */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { lockDataDir } from "../data-dir-lock";
import { liveOwner, ownerLine } from "../pid-file";
import { buildHost, tempDir } from "./harness";

jest.setTimeout(60000);

const lockFile = (dir: string) => path.join(dir, "local-host.pid");

test("held: a second lock refuses, naming the holder; released: the directory is free again", async () => {
  const dir = tempDir("lock-");
  const lock = await lockDataDir(dir);
  expect(fs.readFileSync(lockFile(dir), "utf8")).toBe(ownerLine());
  await expect(lockDataDir(dir)).rejects.toThrow(`Another local host (pid ${process.pid}) uses the data directory ${dir}.`);
  lock.release();
  expect(fs.existsSync(lockFile(dir))).toBe(false);
  (await lockDataDir(dir)).release();
});

test("a file left by a process that died, or by an earlier process with this pid, is taken over", async () => {
  const dir = tempDir("lock-");
  fs.writeFileSync(lockFile(dir), "999999999");
  (await lockDataDir(dir)).release();
  fs.writeFileSync(lockFile(dir), ownerLine()); // as if an earlier process with our pid had died holding it
  const lock = await lockDataDir(dir);
  expect(fs.readFileSync(lockFile(dir), "utf8")).toBe(ownerLine());
  lock.release();
});

test("a live process that got the pid since (another start time) does not hold the directory", async () => {
  const sleeper = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)"], { stdio: "ignore" });
  try {
    const dir = tempDir("lock-");
    const pid = sleeper.pid!;
    await new Promise((resolve) => setTimeout(resolve, 100));
    fs.writeFileSync(lockFile(dir), ownerLine(pid));
    expect(liveOwner(lockFile(dir))).toBe(pid);
    if (fs.existsSync(`/proc/${pid}/stat`)) {
      fs.writeFileSync(lockFile(dir), `${pid} 1`); // the start time of the process that held it
      expect(liveOwner(lockFile(dir))).toBeUndefined();
      (await lockDataDir(dir)).release();
    }
  } finally {
    sleeper.kill("SIGKILL");
  }
});

test("hosts starting at the same moment: exactly one gets the directory", async () => {
  const built = buildHost();
  for (let round = 0; round < 3; round++) {
    const dir = tempDir("lock-race-");
    fs.writeFileSync(lockFile(dir), "999999999"); // a dead host's file, which all of them try to take over
    // Each child loads the module, says READY and waits; all are told to go at once, once all are ready (however slow
    // their start). A winner holds the directory until its stdin closes, after every child has answered.
    const script = `
      const { lockDataDir } = require(${JSON.stringify(path.join(built, "data-dir-lock.js"))});
      console.log("READY");
      process.stdin.once("data", () =>
        lockDataDir(${JSON.stringify(dir)}).then(
          () => { console.log("LOCKED"); process.stdin.once("end", () => process.exit(0)); },
          () => { console.log("REFUSED"); process.exit(0); },
        ),
      );`;
    const children = [0, 1, 2, 3].map(() => {
      const child = spawn(process.execPath, ["-e", script], { stdio: ["pipe", "pipe", "inherit"] });
      const said: string[] = [];
      const waiting: Array<{ want: (l: string) => boolean; resolve: (l: string) => void }> = [];
      child.stdout.on("data", (d: Buffer) => {
        said.push(...String(d).split("\n").filter(Boolean));
        for (const w of waiting) {
          const found = said.find(w.want);
          if (found !== undefined) w.resolve(found);
        }
      });
      const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
      const line = (want: (l: string) => boolean) =>
        Promise.race([
          new Promise<string>((resolve) => waiting.push({ want, resolve })),
          exited.then(() => said.find(want) ?? `exited having said: ${said.join(" ") || "nothing"}`),
        ]);
      return { child, exited, ready: line((l) => l === "READY"), verdict: line((l) => l === "LOCKED" || l === "REFUSED") };
    });
    await Promise.all(children.map((c) => c.ready));
    for (const { child } of children) child.stdin.write("go\n");
    const outputs = await Promise.all(children.map((c) => c.verdict));
    for (const { child } of children) child.stdin.end();
    await Promise.all(children.map((c) => c.exited));
    expect(outputs.filter((o) => o === "LOCKED")).toHaveLength(1);
  }
});
