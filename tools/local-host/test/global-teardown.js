/** Jest globalTeardown: removes the run's temporary folder (global-setup.js), the shared local-host build with it. */
const fs = require("node:fs");

module.exports = function globalTeardown() {
  const runTmp = process.env.SCATTER_GATHER_TEST_TMP;
  if (!runTmp) return;
  if (process.env.KEEP_TEST_TMP === "1") console.log(`\nKEEP_TEST_TMP=1: the run's files are in ${runTmp}`);
  else fs.rmSync(runTmp, { recursive: true, force: true, maxRetries: 3 });
};
