/** Tests run from TypeScript through ts-jest; e2e tests start the local host from dist/ (built by `npm test`). */
const os = require("node:os");

module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/test", "<rootDir>/tools"],
  testMatch: ["**/*.test.ts"],
  transform: { "^.+\\.ts$": ["ts-jest", { tsconfig: "tsconfig.json" }] },
  testPathIgnorePatterns: ["/node_modules/", "/dist/"],
  testTimeout: 30000,
  // Jest's default (cores - 1) runs a 2-core CI machine in band, mostly idle: the suites wait on child
  // processes (local hosts, Azurite) and timers. Two workers at least; more where there are more cores.
  maxWorkers: Math.max(2, os.availableParallelism() - 1),
  // The local host's suites compile it once per run, not once per file (tools/local-host/test/harness.ts buildHost).
  globalSetup: "<rootDir>/tools/local-host/test/global-setup.js",
  globalTeardown: "<rootDir>/tools/local-host/test/global-teardown.js",
};
