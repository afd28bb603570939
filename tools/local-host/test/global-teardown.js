/** Jest globalTeardown: removes the run's shared local-host build (global-setup.js). */
const fs = require("node:fs");
const path = require("node:path");

module.exports = function globalTeardown() {
  const dir = process.env.LOCAL_HOST_TEST_BUILD;
  if (dir) fs.rmSync(path.dirname(dir), { recursive: true, force: true });
};
