// ESLint flat config: @eslint/js and typescript-eslint recommended, a few cheap type-checked rules,
// eslint-config-prettier last (Prettier owns formatting), and the orchestrator determinism rules.
import js from "@eslint/js";
import { defineConfig } from "eslint/config";
import prettier from "eslint-config-prettier";
import globals from "globals";
import tseslint from "typescript-eslint";

/** Orchestrator code is replayed: it must be deterministic and do no I/O. */
const DETERMINISM =
  "Orchestrator code is replayed and must be deterministic, without I/O: do I/O in an activity, " +
  "take time from context.df.currentUtcDateTime, ids from context.df.newGuid(), delays from context.df.createTimer().";

/** Node I/O modules, with or without the `node:` prefix (and their sub-paths, such as fs/promises). */
const NODE_IO = "(fs|http|https|http2|net|tls|dgram|dns|child_process|cluster|worker_threads|crypto|os|readline|timers)";

export default defineConfig(
  {
    ignores: ["dist/", "coverage/", "node_modules/", ".local-host-data/", ".ci/node22/", ".azure/", ".azurite/"],
  },
  {
    linterOptions: {
      // An eslint-disable comment that suppresses nothing is an error, so every one left is true.
      reportUnusedDisableDirectives: "error",
    },
  },
  js.configs.recommended,

  // TypeScript: the project's tsconfig.json covers src/, tools/ and test/.
  {
    files: ["**/*.ts"],
    extends: [tseslint.configs.recommended],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // Type-checked rules that are cheap and catch real bugs.
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": "error",
      "@typescript-eslint/await-thenable": "error",
      "@typescript-eslint/no-for-in-array": "error",
      "@typescript-eslint/no-implied-eval": "error",
      "@typescript-eslint/only-throw-error": "error",
      // `import x = require("...")` is TypeScript's import form for CommonJS modules, not a bare require().
      "@typescript-eslint/no-require-imports": ["error", { allowAsImport: true }],
      // `_`-prefixed parameters and variables are deliberately unused.
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" }],
    },
  },

  // Tests and their support code read untyped JSON (HTTP bodies, history events, SDK internals) as `any`.
  {
    files: ["test/**/*.ts", "tools/**/test/**/*.ts", "**/*.test.ts", "tools/local-host/engine/test-support.ts"],
    rules: { "@typescript-eslint/no-explicit-any": "off" },
  },

  // Plain JavaScript: the local host's fixture apps, the telemetry test's preload and the root config files.
  {
    files: ["**/*.js", "**/*.cjs"],
    languageOptions: { sourceType: "commonjs", globals: { ...globals.node } },
  },
  // The gather page's script runs in the browser, as a classic script (src/ui/app.js, served by /api/ui).
  {
    files: ["src/ui/**/*.js"],
    languageOptions: { sourceType: "script", globals: { ...globals.browser } },
  },
  {
    files: ["**/*.mjs"],
    languageOptions: { sourceType: "module", globals: { ...globals.node } },
  },

  // Orchestrator code (src/durable/, but not the durable client helper used by the HTTP functions).
  {
    files: ["src/durable/**/*.ts"],
    ignores: ["src/durable/client.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            { regex: `^(node:)?${NODE_IO}(/.*)?$`, message: DETERMINISM },
            {
              group: ["@azure/storage-*", "@azure/identity", "applicationinsights", "@opentelemetry/*", "undici", "axios"],
              message: DETERMINISM,
            },
            {
              group: ["**/telemetry", "**/gather/deliver", "**/gather/closing", "**/http/*", "**/functions/*"],
              message: `${DETERMINISM} (This module does I/O or belongs to the function host.)`,
            },
          ],
        },
      ],
      "no-restricted-properties": [
        "error",
        { object: "Date", property: "now", message: DETERMINISM },
        { object: "Math", property: "random", message: DETERMINISM },
        { object: "performance", property: "now", message: DETERMINISM },
        { object: "process", property: "hrtime", message: DETERMINISM },
        { object: "process", property: "env", message: `${DETERMINISM} (Settings can change between replays: pass them in the input.)` },
        { object: "crypto", property: "randomUUID", message: DETERMINISM },
      ],
      "no-restricted-globals": [
        "error",
        ...["setTimeout", "setInterval", "setImmediate", "fetch", "performance", "crypto", "XMLHttpRequest", "WebSocket"].map((name) => ({
          name,
          message: DETERMINISM,
        })),
      ],
      "no-restricted-syntax": [
        "error",
        { selector: "NewExpression[callee.name='Date'][arguments.length=0]", message: `new Date() reads the clock. ${DETERMINISM}` },
        { selector: "CallExpression[callee.name='Date']", message: `Date() reads the clock. ${DETERMINISM}` },
        {
          selector: `CallExpression[callee.name='require'] > Literal.arguments[value=/^(node:)?${NODE_IO}\\b/]`,
          message: DETERMINISM,
        },
      ],
    },
  },

  prettier,
);
