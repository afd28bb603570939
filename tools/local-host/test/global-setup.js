/**
 * Jest globalSetup: names the folder where the local host is compiled ONCE for this jest run (harness.ts
 * buildHost; the first test file that needs it compiles it there, the others reuse it), instead of once per
 * test file. Nothing is compiled here, so a run without the local host's suites pays nothing.
 */
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

module.exports = function globalSetup() {
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), "local-host-build-run-"));
  // Not created: buildHost compiles elsewhere and renames its output to this path (one atomic step).
  process.env.LOCAL_HOST_TEST_BUILD = path.join(runDir, "host");
};
