/**
 * Jest globalSetup, for the whole run:
 * - One temporary folder for everything the tests write (TMPDIR, which os.tmpdir() reads and the test workers and the
 *   hosts they start inherit): data directories, Azurite locations, builds. global-teardown.js removes it, so a run
 *   leaves nothing behind in the machine's /tmp (KEEP_TEST_TMP=1 keeps it, to look at a failure's data).
 * - The folder where the local host is compiled ONCE for this run (harness.ts buildHost; the first test file that
 *   needs it compiles it there, the others reuse it), instead of once per test file. Nothing is compiled here, so a
 *   run without the local host's suites pays nothing.
 */
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

module.exports = function globalSetup() {
  const runTmp = fs.mkdtempSync(path.join(os.tmpdir(), "scatter-gather-tests-"));
  process.env.SCATTER_GATHER_TEST_TMP = runTmp;
  process.env.TMPDIR = runTmp;
  const runDir = fs.mkdtempSync(path.join(runTmp, "local-host-build-run-"));
  // Not created: buildHost compiles elsewhere and renames its output to this path (one atomic step).
  process.env.LOCAL_HOST_TEST_BUILD = path.join(runDir, "host");
};
