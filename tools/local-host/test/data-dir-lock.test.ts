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
    const script = `
      const { lockDataDir } = require(${JSON.stringify(path.join(built, "data-dir-lock.js"))});
      const at = Number(process.argv[1]);
      while (Date.now() < at) {}
      lockDataDir(${JSON.stringify(dir)}).then(
        () => { console.log("LOCKED"); setTimeout(() => {}, 600); },
        () => console.log("REFUSED"),
      );`;
    const at = Date.now() + 700;
    const outputs = await Promise.all(
      [0, 1, 2, 3].map(
        () =>
          new Promise<string>((resolve) => {
            const child = spawn(process.execPath, ["-e", script, String(at)], { stdio: ["ignore", "pipe", "inherit"] });
            let out = "";
            child.stdout.on("data", (d) => (out += d));
            child.on("exit", () => resolve(out.trim()));
          }),
      ),
    );
    expect(outputs.filter((o) => o === "LOCKED")).toHaveLength(1);
  }
});
