/**
 * Static checks of the azd project (azure.yaml) and the Bicep templates (infra/).
 * Run: npx jest test/infra
 *
 * No Bicep compiler can be installed from the registries this project reaches (npm, Debian), so
 * these tests read the templates as text. The optional syntax check at the end parses every
 * .bicep file with the tree-sitter Bicep grammar when `web-tree-sitter` and `tree-sitter-bicep`
 * are installed (they are not project dependencies; the test is skipped without them).
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { DEFAULT_OUT_DIR } from "../../tools/package/package";
import { MAX_GATHER_DEADLINE_MS } from "../../src/gather/limits";
import { MIN_PAYLOAD_RETENTION_DAYS } from "../../src/payload/config";
import {
  allowedValues,
  blockAfter,
  decoratorNumber,
  envReads,
  guids,
  listBicepFiles,
  listSourceFiles,
  missingModulePaths,
  moduleParams,
  moduleRefs,
  objectEntries,
  outputs,
  paramDecorators,
  params,
  parseSimpleYaml,
  resourceBody,
  resources,
  stripComments,
} from "./bicep-static";

const ROOT = path.resolve(__dirname, "..", "..");
const INFRA = path.join(ROOT, "infra");
const read = (rel: string) => fs.readFileSync(path.join(ROOT, rel), "utf8");

const MAIN = read("infra/main.bicep");
const API = read("infra/app/api.bicep");
const RBAC = read("infra/app/rbac.bicep");
const DTS = read("infra/app/dts.bicep");
const STORAGE = read("infra/core/storage/storage-account.bicep");
const MONITORING = read("infra/core/monitor/monitoring.bicep");
const PARAMETERS = JSON.parse(read("infra/main.parameters.json")) as { parameters: Record<string, { value: unknown }> };

/**
 * Azure built-in role definition ids (the same in every cloud), from the Azure built-in roles
 * reference (learn.microsoft.com/azure/role-based-access-control/built-in-roles). All five are assigned:
 * the storage queue/table roles for the Functions host's own operations on AzureWebJobsStorage, as
 * Azure's Durable Functions + Durable Task Scheduler quickstart grants them (the app itself has no
 * queue/table trigger, and Durable state lives in the Durable Task Scheduler).
 */
const BUILT_IN_ROLES: Record<string, string> = {
  "Storage Blob Data Owner": "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
  "Monitoring Metrics Publisher": "3913510d-42f4-4e42-8a64-420c390055eb",
  "Durable Task Data Contributor": "0ad04412-c4d5-4796-b79c-f76d14c8d402",
  "Storage Queue Data Contributor": "974c5e8b-45b9-4653-ba55-5f855dd0fb88",
  "Storage Table Data Contributor": "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3",
};
const REQUIRED_ROLES = [
  "Storage Blob Data Owner",
  "Monitoring Metrics Publisher",
  "Durable Task Data Contributor",
  "Storage Queue Data Contributor",
  "Storage Table Data Contributor",
];

/** camelCase key used in rbac.bicep's `roles` object -> role name. */
const roleKeyName = (key: string) =>
  Object.keys(BUILT_IN_ROLES).find((name) => name.replace(/\s+/g, "").toLowerCase() === key.toLowerCase());

/** Resource type + API version pairs checked against the Bicep type definitions (Azure/bicep-types-az). */
const KNOWN_API_VERSIONS: Record<string, string[]> = {
  "Microsoft.Resources/resourceGroups": ["2024-03-01"],
  "Microsoft.ManagedIdentity/userAssignedIdentities": ["2023-01-31"],
  "Microsoft.Storage/storageAccounts": ["2023-05-01"],
  "Microsoft.Storage/storageAccounts/blobServices": ["2023-05-01"],
  "Microsoft.Storage/storageAccounts/blobServices/containers": ["2023-05-01"],
  "Microsoft.Storage/storageAccounts/managementPolicies": ["2023-05-01"],
  "Microsoft.Storage/storageAccounts/queueServices": ["2023-05-01"],
  "Microsoft.Storage/storageAccounts/queueServices/queues": ["2023-05-01"],
  "Microsoft.OperationalInsights/workspaces": ["2023-09-01"],
  "Microsoft.Insights/components": ["2020-02-02"],
  "Microsoft.DurableTask/schedulers": ["2025-11-01"],
  "Microsoft.Web/serverfarms": ["2024-04-01"],
  "Microsoft.Web/sites": ["2024-04-01"],
  "Microsoft.Authorization/roleAssignments": ["2022-04-01"],
};

/** App settings the code reads (the contract with src/); src/ is also scanned at test time. */
const DOCUMENTED_APP_SETTINGS = [
  "FUNCTIONS_WORKER_RUNTIME",
  "AzureWebJobsStorage",
  "DURABLE_TASK_SCHEDULER_CONNECTION_STRING",
  "TASKHUB_NAME",
  "APPLICATIONINSIGHTS_CONNECTION_STRING",
  "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
  "RECIPIENT_URL_ALLOWLIST",
  "RECIPIENT_QUEUE_ALLOWLIST",
  "MAX_RECIPIENTS",
  "MAX_RESPONSE_BYTES",
  "MAX_REQUEST_BYTES",
  "FANOUT_BATCH_SIZE",
  "PAYLOAD_CONTAINER",
  "PAYLOAD_RETENTION_DAYS",
];

/**
 * Variables the platform or the local tooling provides, which must not be app settings.
 * Anything else that src/ reads has to be set in infra/app/api.bicep.
 */
const NOT_APP_SETTINGS = new Set([
  "NODE_ENV",
  // Production unless set: Core Tools and the local host set Development.
  "AZURE_FUNCTIONS_ENVIRONMENT",
  "WEBSITE_HOSTNAME",
  "WEBSITE_SITE_NAME",
  "WEBSITE_INSTANCE_ID",
  "FUNCTIONS_EXTENSION_VERSION",
]);

/** App settings Flex Consumption rejects or ignores (set through functionAppConfig instead). */
const FLEX_FORBIDDEN_SETTINGS = [
  "FUNCTIONS_WORKER_RUNTIME",
  "FUNCTIONS_WORKER_RUNTIME_VERSION",
  "FUNCTIONS_EXTENSION_VERSION",
  "WEBSITE_NODE_DEFAULT_VERSION",
  "WEBSITE_RUN_FROM_PACKAGE",
  "WEBSITE_CONTENTSHARE",
  "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING",
  "SCM_DO_BUILD_DURING_DEPLOYMENT",
];

// ---------------------------------------------------------------------------------------------
// Check functions (pure; each returns a list of problems so the tests below can also prove that
// they fail on broken input).
// ---------------------------------------------------------------------------------------------

function moduleProblems(files: string[]): string[] {
  return files.flatMap((f) => missingModulePaths(f).map((m) => `${path.relative(ROOT, f)}: module '${m}' does not exist`));
}

/** azd generates the value of a parameter with `@metadata({ azd: { type: 'generate', ... } })`: no parameter file entry needed. */
function isGenerated(src: string, name: string): boolean {
  return (paramDecorators(src).get(name) ?? []).some((d) => /azd\s*:\s*\{\s*type\s*:\s*'generate'/.test(d));
}

function parameterProblems(mainSrc: string, parameterFile: { parameters: Record<string, { value: unknown }> }): string[] {
  const declared = params(mainSrc);
  const supplied = Object.keys(parameterFile.parameters ?? {});
  const problems = supplied
    .filter((p) => !declared.has(p))
    .map((p) => `main.parameters.json supplies '${p}', which main.bicep does not declare`);
  for (const p of declared.values()) {
    if (!p.optional && !isGenerated(mainSrc, p.name) && !supplied.includes(p.name))
      problems.push(`main.bicep parameter '${p.name}' has no default and is not in main.parameters.json`);
  }
  return problems;
}

/** App settings object of the function app: `var appSettings = { ... }` in api.bicep. */
function appSettingsOf(apiSrc: string): Map<string, string> {
  const block = blockAfter(apiSrc, /^\s*var\s+appSettings\s*=\s*\{/m);
  if (!block) return new Map();
  // the config resource must actually use it
  const config = blockAfter(apiSrc, /resource\s+\w+\s+'config'\s*=\s*\{/);
  if (!config || !/properties\s*:\s*appSettings\b/.test(config)) return new Map();
  return objectEntries(block);
}

function runtimeOf(apiSrc: string): { name?: string; version?: string } {
  const runtime = blockAfter(apiSrc, /\bruntime\s*:\s*\{/);
  if (!runtime) return {};
  const e = objectEntries(runtime);
  const unquote = (v?: string) => v?.replace(/^'(.*)'$/, "$1");
  return { name: unquote(e.get("name")), version: unquote(e.get("version")) };
}

function appSettingProblems(apiSrc: string, required: Iterable<string>): string[] {
  const settings = appSettingsOf(apiSrc);
  const problems: string[] = [];
  for (const name of required) {
    if (NOT_APP_SETTINGS.has(name)) continue;
    if (name === "FUNCTIONS_WORKER_RUNTIME") {
      // Flex Consumption: provided by functionAppConfig.runtime, forbidden as an app setting.
      if (runtimeOf(apiSrc).name !== "node") problems.push("functionAppConfig.runtime.name is not 'node' (FUNCTIONS_WORKER_RUNTIME)");
      continue;
    }
    if (name === "AzureWebJobsStorage") {
      const identityBased =
        (settings.has("AzureWebJobsStorage__accountName") || settings.has("AzureWebJobsStorage__blobServiceUri")) &&
        settings.get("AzureWebJobsStorage__credential") === "'managedidentity'" &&
        settings.has("AzureWebJobsStorage__clientId");
      if (!identityBased) problems.push("AzureWebJobsStorage is not configured as an identity-based (user-assigned) connection");
      continue;
    }
    if (!settings.has(name)) problems.push(`app setting '${name}' is not set on the function app`);
  }
  for (const name of FLEX_FORBIDDEN_SETTINGS) {
    if (settings.has(name)) problems.push(`app setting '${name}' is not allowed on Flex Consumption`);
  }
  return problems;
}

function roleProblems(bicepSources: Record<string, string>): string[] {
  const documented = new Set(Object.values(BUILT_IN_ROLES));
  const problems: string[] = [];
  const used = new Set<string>();
  for (const [file, src] of Object.entries(bicepSources)) {
    const clean = stripComments(src);
    // only GUIDs that are role definition ids: in a `roles`-style map or next to roleDefinitions
    for (const id of guids(clean)) {
      used.add(id);
      if (!documented.has(id)) problems.push(`${file}: GUID ${id} is not a documented built-in role id in the test table`);
    }
    const rolesBlock = blockAfter(clean, /^\s*var\s+roles\s*=\s*\{/m);
    if (rolesBlock) {
      for (const [key, value] of objectEntries(rolesBlock)) {
        const name = roleKeyName(key);
        const id = value.replace(/^'(.*)'$/, "$1").toLowerCase();
        if (!name) problems.push(`${file}: role key '${key}' is not in the test's role table`);
        else if (BUILT_IN_ROLES[name] !== id)
          problems.push(`${file}: role '${name}' has id ${id}, documented id is ${BUILT_IN_ROLES[name]}`);
      }
    }
  }
  for (const name of REQUIRED_ROLES) {
    if (!used.has(BUILT_IN_ROLES[name])) problems.push(`role '${name}' is never assigned`);
  }
  return problems;
}

function azureYamlProblems(text: string): string[] {
  const doc = parseSimpleYaml(text);
  const problems: string[] = [];
  if (doc.name !== "scatter-gather") problems.push(`azure.yaml name is '${String(doc.name)}', expected 'scatter-gather'`);
  const services = doc.services as Record<string, Record<string, unknown>> | undefined;
  const api = services?.api;
  if (!api) return [...problems, "azure.yaml has no service 'api'"];
  if (api.host !== "function") problems.push(`service api host is '${String(api.host)}', expected 'function'`);
  if (api.language !== "ts") problems.push(`service api language is '${String(api.language)}', expected 'ts'`);
  if (api.project !== ".") problems.push(`service api project is '${String(api.project)}', expected '.'`);
  return problems;
}

/** Resolves the value of the function app's azd-service-name tag (literal, or a param set by main.bicep). */
function serviceTagProblems(mainSrc: string, apiSrc: string, expected: string): string[] {
  const site = resources(apiSrc).find((r) => r.type === "Microsoft.Web/sites" && !r.existing);
  if (!site) return ["api.bicep declares no Microsoft.Web/sites resource"];
  const body = resourceBody(apiSrc, site.symbol) ?? "";
  const tags = objectEntries(body).get("tags") ?? "";
  const m = /'azd-service-name'\s*:\s*('([^']*)'|([A-Za-z_]\w*))/.exec(tags);
  if (!m) return ["the function app has no 'azd-service-name' tag"];
  let value: string | undefined = m[2];
  if (value === undefined) {
    const param = m[3];
    const passed = moduleRefs(mainSrc)
      .filter((r) => r.target.replace(/^\.\//, "") === "app/api.bicep")
      .map((r) => moduleParams(mainSrc, r.symbol).get(param));
    const fromMain = passed.find((v) => v !== undefined);
    value = (fromMain ?? params(apiSrc).get(param)?.defaultValue)?.replace(/^'(.*)'$/, "$1");
  }
  return value === expected ? [] : [`azd-service-name tag resolves to '${String(value)}', expected '${expected}'`];
}

function apiVersionProblems(bicepSources: Record<string, string>): string[] {
  const problems: string[] = [];
  for (const [file, src] of Object.entries(bicepSources)) {
    for (const r of resources(src)) {
      const base = r.type.split("/").slice(0, 2).join("/");
      const known = KNOWN_API_VERSIONS[r.type] ?? (r.type.startsWith("Microsoft.DurableTask/") ? KNOWN_API_VERSIONS[base] : undefined);
      if (!known) problems.push(`${file}: resource type ${r.type} is not in the checked API version table`);
      else if (!known.includes(r.apiVersion))
        problems.push(`${file}: ${r.type}@${r.apiVersion} is not a checked API version (${known.join(", ")})`);
    }
  }
  return problems;
}

/** Variables azd itself supplies on every run: their placeholders need no default. */
const AZD_PROVIDED = new Set(["AZURE_ENV_NAME", "AZURE_LOCATION", "AZURE_PRINCIPAL_ID"]);

/**
 * Every `${VAR}` placeholder of main.parameters.json has a default (`${VAR=default}`) equal to the Bicep
 * default and allowed by the parameter's decorators, so an azd that substitutes "" for an unset variable
 * still deploys. A string parameter whose Bicep default is '' needs none ("" is its default).
 */
function parameterDefaultProblems(mainSrc: string, parameterFile: { parameters: Record<string, { value: unknown }> }): string[] {
  const declared = params(mainSrc);
  const decorators = paramDecorators(mainSrc);
  const problems: string[] = [];
  for (const [name, { value }] of Object.entries(parameterFile.parameters ?? {})) {
    const m = typeof value === "string" ? /^\$\{([A-Za-z_]\w*)(?:=([^}]*))?\}$/.exec(value) : null;
    if (!m || AZD_PROVIDED.has(m[1])) continue;
    const decl = declared.get(name);
    const bicepDefault = decl?.defaultValue?.replace(/^'(.*)'$/, "$1");
    if (m[2] === undefined) {
      if (!(decl?.type === "string" && decl.defaultValue === "''")) problems.push(`${name}: placeholder \${${m[1]}} has no default`);
      continue;
    }
    if (bicepDefault !== undefined && m[2] !== bicepDefault)
      problems.push(`${name}: placeholder default '${m[2]}' differs from the Bicep default '${bicepDefault}'`);
    const allowed = allowedValues(decorators.get(name));
    if (allowed && !allowed.includes(m[2])) problems.push(`${name}: placeholder default '${m[2]}' is not in @allowed`);
    const min = decoratorNumber(decorators.get(name), "minValue");
    if (min !== undefined && Number(m[2]) < min) problems.push(`${name}: placeholder default ${m[2]} is below @minValue(${min})`);
  }
  return problems;
}

/** What Flex Consumption refuses: siteConfig.ftpsState (ARM 51021), maximumInstanceCount under 40. */
function flexProblems(files: Record<string, string>): string[] {
  const problems: string[] = [];
  for (const [file, src] of Object.entries(files)) {
    if (/\bftpsState\b/.test(stripComments(src))) problems.push(`${file}: siteConfig.ftpsState is rejected on Flex Consumption`);
    const decl = params(src).get("maximumInstanceCount");
    if (!decl) continue;
    const min = decoratorNumber(paramDecorators(src).get("maximumInstanceCount"), "minValue");
    if (min === undefined || min < 40)
      problems.push(`${file}: maximumInstanceCount allows values under 40 (@minValue ${min ?? "missing"})`);
    if (decl.defaultValue !== undefined && Number(decl.defaultValue) < 40)
      problems.push(`${file}: maximumInstanceCount default ${decl.defaultValue} is under 40`);
  }
  return problems;
}

/** location carries an @allowed list of region names. */
function locationProblems(mainSrc: string): string[] {
  const allowed = allowedValues(paramDecorators(mainSrc).get("location"));
  if (!allowed || allowed.length === 0) return ["location has no @allowed list"];
  return allowed.filter((region) => !/^[a-z][a-z0-9]+$/.test(region)).map((region) => `location: '${region}' is not a region name`);
}

/**
 * The payload container exists in the app's storage account, a lifecycle rule deletes its blobs after
 * payloadRetentionDays, and the app gets PAYLOAD_CONTAINER / PAYLOAD_RETENTION_DAYS.
 */
function payloadInfraProblems(mainSrc: string, storageSrc: string, apiSrc: string): string[] {
  const problems: string[] = [];
  const mainParams = params(mainSrc);
  if (mainParams.get("payloadContainerName")?.defaultValue !== "'scatter-gather-payloads'")
    problems.push("main.bicep: payloadContainerName default is not 'scatter-gather-payloads'");
  if (mainParams.get("payloadRetentionDays")?.defaultValue !== "30") problems.push("main.bicep: payloadRetentionDays default is not 30");

  const storage = moduleParams(mainSrc, "storage");
  if (!/\bpayloadContainerName\b/.test(storage.get("containerNames") ?? ""))
    problems.push("main.bicep: the storage module does not create the payload container");
  if (storage.get("expiringContainerName") !== "payloadContainerName")
    problems.push("main.bicep: the lifecycle rule is not on the payload container");
  if (storage.get("expireAfterDays") !== "payloadRetentionDays")
    problems.push("main.bicep: the lifecycle rule does not use payloadRetentionDays");

  const containers = resources(storageSrc).find((r) => r.type === "Microsoft.Storage/storageAccounts/blobServices/containers");
  if (!containers || !/for\s+\w+\s+in\s+containerNames\b/.test(stripComments(storageSrc)))
    problems.push("storage: containers are not created from containerNames");
  const policy = resources(storageSrc).find((r) => r.type === "Microsoft.Storage/storageAccounts/managementPolicies");
  if (!policy) problems.push("storage: no lifecycle management policy");
  else {
    const body = resourceBody(storageSrc, policy.symbol) ?? "";
    const entries = objectEntries(body);
    if (entries.get("name") !== "'default'") problems.push("storage: the management policy must be named 'default'");
    if (entries.get("parent") !== "storage") problems.push("storage: the management policy is not on the storage account");
    const rule = blockAfter(body, /\brules\s*:\s*\[\s*/) ?? "";
    if (!/\benabled\s*:\s*true\b/.test(rule)) problems.push("storage: the lifecycle rule is not enabled");
    if (!/prefixMatch\s*:\s*\[\s*'\$\{expiringContainerName\}\/'\s*\]/.test(rule))
      problems.push("storage: the lifecycle rule does not filter on the container prefix");
    if (!/blobTypes\s*:\s*\[\s*'blockBlob'\s*\]/.test(rule)) problems.push("storage: the lifecycle rule does not cover block blobs");
    if (!/baseBlob\s*:\s*\{\s*delete\s*:\s*\{\s*daysAfter(?:Modification|Creation)GreaterThan\s*:\s*expireAfterDays\s*\}/.test(rule))
      problems.push("storage: the lifecycle rule does not delete after expireAfterDays");
  }

  const settings = appSettingsOf(apiSrc);
  if (settings.get("PAYLOAD_CONTAINER") !== "payloadContainerName")
    problems.push("api.bicep: PAYLOAD_CONTAINER is not payloadContainerName");
  if (settings.get("PAYLOAD_RETENTION_DAYS") !== "string(payloadRetentionDays)")
    problems.push("api.bicep: PAYLOAD_RETENTION_DAYS is not string(payloadRetentionDays)");
  const api = moduleParams(mainSrc, "api");
  for (const name of ["payloadContainerName", "payloadRetentionDays"])
    if (api.get(name) !== name) problems.push(`main.bicep: ${name} is not passed to the api module`);
  return problems;
}

/**
 * The deployment package (README, "Build and package"): azd runs `npm run package` before packaging
 * (prepackage hook), zips azure.yaml's `dist` folder, which that script fills, and uploads it without a
 * remote build. What azd does with these settings was read in Azure/azure-dev (cli/azd/pkg/project:
 * framework_service_node.go, service_target_functionapp.go, project_utils.go): it refuses `remoteBuild:
 * false` when the project's .funcignore excludes node_modules. No Core Tools anywhere in package.json
 * (its install script downloads the Functions host).
 */
function deployPackageProblems(
  funcignore: string | undefined,
  azureYaml: string,
  packageJson: { main?: string; scripts?: Record<string, string>; [group: string]: unknown },
): string[] {
  const problems: string[] = [];
  const api = (parseSimpleYaml(azureYaml).services as Record<string, Record<string, unknown>> | undefined)?.api ?? {};
  if (api.remoteBuild !== "false")
    problems.push("azure.yaml: service api is not remoteBuild: false (a remote build installs devDependencies)");
  if (api.dist !== DEFAULT_OUT_DIR)
    problems.push(`azure.yaml: service api dist is not '${DEFAULT_OUT_DIR}' (the folder npm run package fills)`);
  const prepackage = ((api.hooks ?? {}) as Record<string, Record<string, Record<string, string>>>).prepackage ?? {};
  for (const os of ["posix", "windows"])
    if (prepackage[os]?.run !== "npm run package") problems.push(`azure.yaml: no ${os} prepackage hook running npm run package`);
  const script = packageJson.scripts?.package ?? "";
  if (!/^npm run build && node dist\/tools\/package\/package\.js\b/.test(script))
    problems.push("package.json: the package script does not build, then run dist/tools/package/package.js");
  if (!String(packageJson.main ?? "").startsWith("dist/src/")) problems.push("package.json: main is not under dist/src/");
  const ignored = (funcignore ?? "")
    .split(/\r?\n/)
    .map((line) => line.trim().replace(/^\//, "").replace(/\/$/, ""))
    .filter((line) => line && !line.startsWith("#"));
  if (ignored.includes("node_modules")) problems.push(".funcignore: node_modules is excluded (azd refuses remoteBuild: false with it)");
  for (const group of ["dependencies", "devDependencies", "optionalDependencies"]) {
    const deps = (packageJson[group] ?? {}) as Record<string, string>;
    if ("azure-functions-core-tools" in deps) problems.push(`package.json: azure-functions-core-tools in ${group}`);
  }
  return problems;
}

function srcEnvReads(): Set<string> {
  const names = new Set<string>();
  // src/cli is the command-line client, run on the user's machine: its variables are not app settings.
  const appFiles = listSourceFiles(path.join(ROOT, "src")).filter((f) => !f.startsWith(path.join(ROOT, "src", "cli") + path.sep));
  for (const f of appFiles) for (const n of envReads(fs.readFileSync(f, "utf8"))) names.add(n);
  return names;
}

const allBicep = () => Object.fromEntries(listBicepFiles(INFRA).map((f) => [path.relative(ROOT, f), fs.readFileSync(f, "utf8")]));

// ---------------------------------------------------------------------------------------------

describe("infra templates", () => {
  test("every module path referenced from a .bicep file exists", () => {
    const files = listBicepFiles(INFRA);
    expect(files.length).toBeGreaterThan(1);
    expect(files.flatMap((f) => moduleRefs(fs.readFileSync(f, "utf8"))).length).toBeGreaterThan(0);
    expect(moduleProblems(files)).toEqual([]);
  });

  test("main.parameters.json and main.bicep agree on parameters", () => {
    expect(parameterProblems(MAIN, PARAMETERS)).toEqual([]);
    const values = Object.fromEntries(Object.entries(PARAMETERS.parameters).map(([k, v]) => [k, v.value]));
    expect(values).toMatchObject({
      environmentName: "${AZURE_ENV_NAME}",
      location: "${AZURE_LOCATION}",
      principalId: "${AZURE_PRINCIPAL_ID}",
      recipientUrlAllowlist: "${RECIPIENT_URL_ALLOWLIST}",
    });
  });

  test("main.bicep is a subscription deployment creating rg-<env> tagged azd-env-name", () => {
    const clean = stripComments(MAIN);
    expect(clean).toMatch(/^\s*targetScope\s*=\s*'subscription'/m);
    const rg = resources(MAIN).find((r) => r.type === "Microsoft.Resources/resourceGroups");
    expect(rg).toBeDefined();
    const body = resourceBody(MAIN, rg!.symbol)!;
    expect(objectEntries(body).get("name")).toContain("${abbrs.resourcesResourceGroups}${environmentName}");
    expect(JSON.parse(read("infra/abbreviations.json")).resourcesResourceGroups).toBe("rg-");
    const tagsExpr = objectEntries(body).get("tags");
    const tags = tagsExpr === "tags" ? objectEntries(blockAfter(MAIN, /^\s*var\s+tags\s*=\s*\{/m)!) : objectEntries(tagsExpr ?? "{}");
    expect(tags.get("azd-env-name")).toBe("environmentName");
  });

  test("app tuning parameters exist with the documented defaults and reach the app settings", () => {
    const p = params(MAIN);
    expect(p.get("recipientUrlAllowlist")?.defaultValue).toBe("''");
    expect(p.get("maxRecipients")?.defaultValue).toBe("10000");
    expect(p.get("maxResponseBytes")?.defaultValue).toBe("65536");
    expect(p.get("maxRequestBytes")?.defaultValue).toBe("1048576");
    expect(p.get("fanoutBatchSize")?.defaultValue).toBe("250");
    const settings = appSettingsOf(API);
    expect(settings.get("RECIPIENT_URL_ALLOWLIST")).toBe("recipientUrlAllowlist");
    expect(settings.get("MAX_RECIPIENTS")).toBe("string(maxRecipients)");
    expect(settings.get("MAX_RESPONSE_BYTES")).toBe("string(maxResponseBytes)");
    expect(settings.get("MAX_REQUEST_BYTES")).toBe("string(maxRequestBytes)");
    expect(settings.get("FANOUT_BATCH_SIZE")).toBe("string(fanoutBatchSize)");
    const passed = moduleParams(MAIN, "api");
    for (const name of ["recipientUrlAllowlist", "maxRecipients", "maxResponseBytes", "maxRequestBytes", "fanoutBatchSize"]) {
      expect(passed.get(name)).toBe(name);
    }
  });

  test("every app setting the code reads is set on the function app", () => {
    const required = new Set([...DOCUMENTED_APP_SETTINGS, ...srcEnvReads()]);
    expect(appSettingProblems(API, required)).toEqual([]);
  });

  test("app settings carry the managed-identity connection formats", () => {
    const s = appSettingsOf(API);
    expect(s.get("DURABLE_TASK_SCHEDULER_CONNECTION_STRING")).toBe(
      "'Endpoint=${durableTaskSchedulerEndpoint};Authentication=ManagedIdentity;ClientID=${identityClientId}'",
    );
    expect(s.get("APPLICATIONINSIGHTS_AUTHENTICATION_STRING")).toBe("'ClientId=${identityClientId};Authorization=AAD'");
    expect(s.get("AzureWebJobsStorage__clientId")).toBe("identityClientId");
    expect(s.get("TASKHUB_NAME")).toBe("taskHubName");
    expect(moduleParams(MAIN, "api").get("durableTaskSchedulerEndpoint")).toBe("dts.outputs.endpoint");
  });

  test("function app runs on Flex Consumption (FC1, Node 22) with identity-based deployment storage", () => {
    const plan = resources(API).find((r) => r.type === "Microsoft.Web/serverfarms")!;
    const sku = objectEntries(objectEntries(resourceBody(API, plan.symbol)!).get("sku")!);
    expect(sku.get("name")).toBe("'FC1'");
    expect(sku.get("tier")).toBe("'FlexConsumption'");
    expect(runtimeOf(API)).toEqual({ name: "node", version: "22" });
    const scale = objectEntries(blockAfter(API, /\bscaleAndConcurrency\s*:\s*\{/)!);
    expect(scale.get("instanceMemoryMB")).toBe("instanceMemoryMB");
    expect(scale.get("maximumInstanceCount")).toBe("maximumInstanceCount");
    const storage = objectEntries(objectEntries(blockAfter(API, /\bdeployment\s*:\s*\{/)!).get("storage")!);
    expect(storage.get("type")).toBe("'blobContainer'");
    expect(objectEntries(storage.get("authentication")!).get("type")).toBe("'UserAssignedIdentity'");
    for (const name of ["instanceMemoryMB", "maximumInstanceCount"]) expect(params(MAIN).has(name)).toBe(true);
  });

  test("the function app is tagged azd-service-name: api", () => {
    expect(serviceTagProblems(MAIN, API, "api")).toEqual([]);
  });

  test("role assignments use the documented built-in role ids", () => {
    expect(roleProblems(allBicep())).toEqual([]);
    // the deploying user gets dashboard access (Durable Task Data Contributor) when principalId is set
    expect(stripComments(RBAC)).toMatch(/principalId:\s*userPrincipalId[\s\S]*?principalType:\s*userPrincipalType/);
    expect(moduleParams(MAIN, "rbac").get("userPrincipalId")).toBe("principalId");
  });

  test("Durable Task Scheduler: Consumption by default, Dedicated with capacity, task hub child", () => {
    expect(params(MAIN).get("dtsSkuName")?.defaultValue).toBe("'Consumption'");
    expect(params(MAIN).has("dtsCapacity")).toBe(true);
    const types = resources(DTS).map((r) => r.type);
    expect(types).toEqual(expect.arrayContaining(["Microsoft.DurableTask/schedulers", "Microsoft.DurableTask/schedulers/taskHubs"]));
    expect(stripComments(DTS)).toMatch(/capacity:\s*skuCapacity/);
    expect(stripComments(DTS)).toMatch(/ipAllowlist:\s*ipAllowlist/);
  });

  test("storage and Application Insights are locked down", () => {
    const stg = objectEntries(objectEntries(resourceBody(STORAGE, "storage")!).get("properties")!);
    expect(stg.get("allowSharedKeyAccess")).toBe("false");
    expect(stg.get("allowBlobPublicAccess")).toBe("false");
    expect(stg.get("minimumTlsVersion")).toBe("'TLS1_2'");
    const ai = resources(MONITORING).find((r) => r.type === "Microsoft.Insights/components")!;
    const aiProps = objectEntries(objectEntries(resourceBody(MONITORING, ai.symbol)!).get("properties")!);
    expect(aiProps.get("DisableLocalAuth")).toBe("true");
    expect(aiProps.get("WorkspaceResourceId")).toBe("logAnalytics.id");
  });

  test("resource API versions are ones checked against the Bicep type definitions", () => {
    expect(apiVersionProblems(allBicep())).toEqual([]);
  });

  test("main.bicep outputs what azd and the README read", () => {
    const out = outputs(MAIN);
    for (const name of [
      "AZURE_LOCATION",
      "AZURE_TENANT_ID",
      "AZURE_RESOURCE_GROUP",
      "AZURE_FUNCTION_APP_NAME",
      "SERVICE_API_NAME",
      "SERVICE_API_URI",
      "AZURE_DURABLE_TASK_SCHEDULER_ENDPOINT",
      "AZURE_DURABLE_TASK_HUB_NAME",
      "AZURE_DURABLE_TASK_DASHBOARD_URL",
    ]) {
      expect(out.has(name)).toBe(true);
    }
  });

  test("azure.yaml declares service api hosted as a function app", () => {
    expect(azureYamlProblems(read("azure.yaml"))).toEqual([]);
  });
  test('main.parameters.json placeholders carry defaults (older azd passes "" for unset variables)', () => {
    expect(parameterDefaultProblems(MAIN, PARAMETERS)).toEqual([]);
    expect(PARAMETERS.parameters.dtsSkuName.value).toBe("${DTS_SKU_NAME=Consumption}");
    expect(PARAMETERS.parameters.principalType.value).toBe("${AZURE_PRINCIPAL_TYPE=User}");
  });

  test("Flex Consumption: no siteConfig.ftpsState, maximumInstanceCount at least 40", () => {
    expect(flexProblems({ "infra/main.bicep": MAIN, "infra/app/api.bicep": API })).toEqual([]);
    expect(decoratorNumber(paramDecorators(MAIN).get("maximumInstanceCount"), "minValue")).toBeGreaterThanOrEqual(40);
  });

  test("location is limited to regions with both Flex Consumption and the Durable Task Scheduler", () => {
    expect(locationProblems(MAIN)).toEqual([]);
    expect(allowedValues(paramDecorators(MAIN).get("location"))).toEqual(
      expect.arrayContaining(["eastus2", "northeurope", "swedencentral"]),
    );
  });

  test("payload store: container, lifecycle rule after payloadRetentionDays, app settings", () => {
    expect(payloadInfraProblems(MAIN, STORAGE, API)).toEqual([]);
    expect(PARAMETERS.parameters.payloadRetentionDays.value).toBe("${PAYLOAD_RETENTION_DAYS=30}");
    // the app identity may create, write, read, list and delete blobs in that account
    const owner = resourceBody(RBAC, "storageBlobDataOwner")!;
    expect(objectEntries(owner).get("scope")).toBe("storage");
    expect(objectEntries(objectEntries(owner).get("properties")!).get("principalId")).toBe("identityPrincipalId");
    expect(stripComments(RBAC)).toMatch(/storageBlobDataOwner:\s*'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'/);
  });

  test("deployment package: npm run package fills dist/deploy, azd uploads it without a remote build", () => {
    const funcignore = fs.existsSync(path.join(ROOT, ".funcignore")) ? read(".funcignore") : undefined;
    expect(deployPackageProblems(funcignore, read("azure.yaml"), JSON.parse(read("package.json")))).toEqual([]);
  });

  test("storage queue and table roles for the host's own operations, on the app's storage account", () => {
    for (const symbol of ["storageQueueDataContributor", "storageTableDataContributor"]) {
      const body = resourceBody(RBAC, symbol)!;
      expect(body).toBeDefined();
      const entries = objectEntries(body);
      expect(entries.get("scope")).toBe("storage");
      expect(entries.get("name")).toBe(`guid(storage.id, identityPrincipalId, roles.${symbol})`);
      const properties = objectEntries(entries.get("properties")!);
      expect(properties.get("principalId")).toBe("identityPrincipalId");
      expect(properties.get("principalType")).toBe("'ServicePrincipal'");
      expect(properties.get("roleDefinitionId")).toBe(`subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.${symbol})`);
    }
  });

  test("queue recipients: the reply queue, the Queue service URI, RECIPIENT_QUEUE_ALLOWLIST (empty by default), the queue role", () => {
    // The reply queue (receiveReply's trigger) is a resource of the app's storage account, named as the app names it.
    expect(resources(STORAGE).find((r) => r.symbol === "queues")?.type).toBe("Microsoft.Storage/storageAccounts/queueServices/queues");
    expect(stripComments(STORAGE)).toMatch(/for\s+queueName\s+in\s+queueNames\b/);
    expect(moduleParams(MAIN, "storage").get("queueNames")).toMatch(/\breplyQueueName\b/);
    expect(stripComments(MAIN)).toMatch(/var\s+replyQueueName\s*=\s*'scatter-gather-replies'/);
    expect(read("src/gather/transports/queue.ts")).toContain('export const REPLY_QUEUE = "scatter-gather-replies";');
    // The identity-based connection names the Queue service for the app's client and the queue trigger.
    const settings = appSettingsOf(API);
    expect(settings.get("AzureWebJobsStorage__queueServiceUri")).toBe("storage.properties.primaryEndpoints.queue");
    expect(settings.get("RECIPIENT_QUEUE_ALLOWLIST")).toBe("recipientQueueAllowlist");
    expect(params(MAIN).get("recipientQueueAllowlist")?.defaultValue).toBe("''");
    expect(params(API).get("recipientQueueAllowlist")?.defaultValue).toBe("''");
    expect(moduleParams(MAIN, "api").get("recipientQueueAllowlist")).toBe("recipientQueueAllowlist");
    expect(PARAMETERS.parameters.recipientQueueAllowlist.value).toBe("${RECIPIENT_QUEUE_ALLOWLIST}");
    // Storage Queue Data Contributor on the account (recipient queues are any allowlisted name), and its comment says why.
    const role = objectEntries(resourceBody(RBAC, "storageQueueDataContributor")!);
    expect(role.get("scope")).toBe("storage");
    expect(RBAC).toMatch(/queue recipients' messages/);
    expect(RBAC).not.toMatch(/The app itself has no queue/);
  });

  test("answer URLs: azd generates ANSWER_TOKEN_SECRET once, a secure parameter that reaches the app setting", () => {
    const decorators = paramDecorators(MAIN).get("answerTokenSecret") ?? [];
    expect(decorators).toEqual(expect.arrayContaining(["@secure()", "@minLength(32)"]));
    expect(isGenerated(MAIN, "answerTokenSecret")).toBe(true);
    expect(PARAMETERS.parameters.answerTokenSecret).toBeUndefined(); // azd fills it, and keeps it per environment
    expect(paramDecorators(API).get("answerTokenSecret")).toEqual(expect.arrayContaining(["@secure()"]));
    expect(MAIN).toMatch(/answerTokenSecret: answerTokenSecret/);
    expect(appSettingsOf(API).get("ANSWER_TOKEN_SECRET")).toBe("answerTokenSecret");
    // and the close events' signing secret, in the Standard Webhooks format
    expect(isGenerated(MAIN, "webhookSigningKey")).toBe(true);
    expect(paramDecorators(MAIN).get("webhookSigningKey")).toEqual(expect.arrayContaining(["@secure()", "@minLength(32)"]));
    expect(appSettingsOf(API).get("WEBHOOK_SIGNING_SECRET")).toBe("'whsec_${base64(webhookSigningKey)}'");
    // and a required parameter that azd does not generate must be in the parameter file
    expect(parameterProblems("param someSecret string\n", { parameters: {} })).toEqual([
      "main.bicep parameter 'someSecret' has no default and is not in main.parameters.json",
    ]);
  });

  test("payload retention outlasts the longest gather: payloadRetentionDays @minValue(6), as the app requires", () => {
    expect(MIN_PAYLOAD_RETENTION_DAYS).toBe(6);
    // one day over the longest gather the validation accepts
    expect(MIN_PAYLOAD_RETENTION_DAYS * 86_400_000).toBeGreaterThan(MAX_GATHER_DEADLINE_MS);
    for (const [file, src] of [
      ["infra/main.bicep", MAIN],
      ["infra/app/api.bicep", API],
    ])
      expect({ file, min: decoratorNumber(paramDecorators(src).get("payloadRetentionDays"), "minValue") }).toEqual({
        file,
        min: MIN_PAYLOAD_RETENTION_DAYS,
      });
    expect(parameterDefaultProblems(MAIN, PARAMETERS)).toEqual([]);
    // an azd default below the minimum is reported
    expect(parameterDefaultProblems(MAIN, { parameters: { payloadRetentionDays: { value: "${PAYLOAD_RETENTION_DAYS=5}" } } })).toEqual([
      "payloadRetentionDays: placeholder default '5' differs from the Bicep default '30'",
      "payloadRetentionDays: placeholder default 5 is below @minValue(6)",
    ]);
  });

  test("Durable Task Scheduler SKU and capacity: azd variables reach the scheduler, capacity 1-3", () => {
    expect(PARAMETERS.parameters.dtsCapacity.value).toBe("${DTS_CAPACITY=1}");
    expect(allowedValues(paramDecorators(MAIN).get("dtsSkuName"))).toEqual(["Consumption", "Dedicated"]);
    expect(allowedValues(paramDecorators(DTS).get("skuName"))).toEqual(["Consumption", "Dedicated"]);
    for (const [src, name] of [
      [MAIN, "dtsCapacity"],
      [DTS, "skuCapacity"],
    ] as const) {
      expect(decoratorNumber(paramDecorators(src).get(name), "minValue")).toBe(1);
      expect(decoratorNumber(paramDecorators(src).get(name), "maxValue")).toBe(3);
    }
    const passed = moduleParams(MAIN, "dts");
    expect(passed.get("skuName")).toBe("dtsSkuName");
    expect(passed.get("skuCapacity")).toBe("dtsCapacity");
  });
});

// The checks above must be able to fail: feed them small broken inputs.
describe("infra checks reject broken templates", () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "infra-test-"));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  test("missing module file", () => {
    const f = path.join(tmp, "main.bicep");
    fs.writeFileSync(
      f,
      "module a './app/nope.bicep' = {\n  name: 'a'\n}\n// module b './commented-out.bicep' = {}\nmodule c 'br/public:avm/res/x:1.0.0' = {\n  name: 'c'\n}\n",
    );
    expect(moduleProblems([f])).toEqual([`${path.relative(ROOT, f)}: module './app/nope.bicep' does not exist`]);
  });

  test("undeclared and unsupplied parameters", () => {
    const main = "param environmentName string\nparam location string\nparam withDefault int = 3\nparam nullable string?\n";
    expect(parameterProblems(main, { parameters: { environmentName: { value: "x" }, extra: { value: 1 } } })).toEqual([
      "main.parameters.json supplies 'extra', which main.bicep does not declare",
      "main.bicep parameter 'location' has no default and is not in main.parameters.json",
    ]);
  });

  test("missing or forbidden app settings", () => {
    const api = [
      "var appSettings = {",
      "  TASKHUB_NAME: taskHubName",
      "  FUNCTIONS_WORKER_RUNTIME: 'node'",
      "  AzureWebJobsStorage__accountName: storage.name",
      "}",
      "resource site 'Microsoft.Web/sites@2024-04-01' = {",
      "  properties: {",
      "    functionAppConfig: {",
      "      runtime: {",
      "        name: 'python'",
      "      }",
      "    }",
      "  }",
      "  resource cfg 'config' = {",
      "    name: 'appsettings'",
      "    properties: appSettings",
      "  }",
      "}",
    ].join("\n");
    expect(appSettingProblems(api, ["TASKHUB_NAME", "MAX_RECIPIENTS", "FUNCTIONS_WORKER_RUNTIME", "AzureWebJobsStorage"])).toEqual([
      "app setting 'MAX_RECIPIENTS' is not set on the function app",
      "functionAppConfig.runtime.name is not 'node' (FUNCTIONS_WORKER_RUNTIME)",
      "AzureWebJobsStorage is not configured as an identity-based (user-assigned) connection",
      "app setting 'FUNCTIONS_WORKER_RUNTIME' is not allowed on Flex Consumption",
    ]);
    // settings declared but never applied to the site do not count
    expect(appSettingProblems("var appSettings = {\n  TASKHUB_NAME: x\n}\n", ["TASKHUB_NAME"])).toEqual([
      "app setting 'TASKHUB_NAME' is not set on the function app",
    ]);
  });

  test("wrong, unknown and missing role ids", () => {
    const src = [
      "var roles = {",
      "  storageBlobDataOwner: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'", // Storage Blob Data Contributor, not Owner
      "  durableTaskDataContributor: '0ad04412-c4d5-4796-b79c-f76d14c8d402'",
      "}",
    ].join("\n");
    const problems = roleProblems({ "x.bicep": src });
    expect(problems).toContain("x.bicep: GUID ba92f5b4-2d11-453d-a403-e96b0029c9fe is not a documented built-in role id in the test table");
    expect(problems).toContain(
      "x.bicep: role 'Storage Blob Data Owner' has id ba92f5b4-2d11-453d-a403-e96b0029c9fe, documented id is b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
    );
    expect(problems).toContain("role 'Monitoring Metrics Publisher' is never assigned");
  });

  test("azure.yaml with the wrong host or without the api service", () => {
    expect(
      azureYamlProblems("name: scatter-gather\nservices:\n  api:\n    project: .\n    language: ts\n    host: containerapp\n"),
    ).toEqual(["service api host is 'containerapp', expected 'function'"]);
    expect(azureYamlProblems("name: other\nservices:\n  web:\n    host: function\n")).toEqual([
      "azure.yaml name is 'other', expected 'scatter-gather'",
      "azure.yaml has no service 'api'",
    ]);
  });

  test("function app without the azd-service-name tag, or tagged with another name", () => {
    const site = (tags: string) =>
      `param serviceName string = 'web'\nresource fa 'Microsoft.Web/sites@2024-04-01' = {\n  name: 'x'\n  tags: ${tags}\n}\n`;
    expect(serviceTagProblems("", site("tags"), "api")).toEqual(["the function app has no 'azd-service-name' tag"]);
    expect(serviceTagProblems("", site("union(tags, { 'azd-service-name': serviceName })"), "api")).toEqual([
      "azd-service-name tag resolves to 'web', expected 'api'",
    ]);
    const main = "module api './app/api.bicep' = {\n  name: 'api'\n  params: {\n    serviceName: 'api'\n  }\n}\n";
    expect(serviceTagProblems(main, site("union(tags, { 'azd-service-name': serviceName })"), "api")).toEqual([]);
  });

  test("unchecked API versions", () => {
    const src = "resource s 'Microsoft.Web/sites@2018-11-01' = {\n}\nresource k 'Microsoft.KeyVault/vaults@2023-07-01' = {\n}\n";
    expect(apiVersionProblems({ "x.bicep": src })).toEqual([
      "x.bicep: Microsoft.Web/sites@2018-11-01 is not a checked API version (2024-04-01)",
      "x.bicep: resource type Microsoft.KeyVault/vaults is not in the checked API version table",
    ]);
  });

  test("placeholders without defaults, or with defaults the template refuses", () => {
    const main = [
      "@allowed([",
      "  'Consumption'",
      "  'Dedicated'",
      "])",
      "param sku string = 'Consumption'",
      "@minValue(40)",
      "param count int = 100",
      "param allow string = ''",
      "param n int = 3",
    ].join("\n");
    expect(
      parameterDefaultProblems(main, {
        parameters: {
          environmentName: { value: "${AZURE_ENV_NAME}" },
          sku: { value: "${SKU=Premium}" },
          count: { value: "${COUNT=10}" },
          allow: { value: "${ALLOW}" },
          n: { value: "${N}" },
        },
      }),
    ).toEqual([
      "sku: placeholder default 'Premium' differs from the Bicep default 'Consumption'",
      "sku: placeholder default 'Premium' is not in @allowed",
      "count: placeholder default '10' differs from the Bicep default '100'",
      "count: placeholder default 10 is below @minValue(40)",
      "n: placeholder ${N} has no default",
    ]);
  });

  test("ftpsState, a small maximumInstanceCount, a location without @allowed", () => {
    const api =
      "@minValue(1)\nparam maximumInstanceCount int = 10\nresource s 'Microsoft.Web/sites@2024-04-01' = {\n  properties: {\n    siteConfig: {\n      ftpsState: 'Disabled'\n    }\n  }\n}\n";
    expect(flexProblems({ "api.bicep": api })).toEqual([
      "api.bicep: siteConfig.ftpsState is rejected on Flex Consumption",
      "api.bicep: maximumInstanceCount allows values under 40 (@minValue 1)",
      "api.bicep: maximumInstanceCount default 10 is under 40",
    ]);
    expect(locationProblems("@minLength(1)\n@description('Region (e.g. eastus)')\nparam location string\n")).toEqual([
      "location has no @allowed list",
    ]);
    expect(locationProblems("@allowed([\n  'eastus2'\n  'East US'\n])\nparam location string\n")).toEqual([
      "location: 'East US' is not a region name",
    ]);
  });

  test("payload infra without container, lifecycle rule or settings", () => {
    const main =
      "param payloadContainerName string = 'x'\nmodule storage './s.bicep' = {\n  name: 's'\n  params: {\n    containerNames: [\n      deploymentStorageContainerName\n    ]\n  }\n}\n";
    const storage = "resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {\n  name: name\n}\n";
    expect(payloadInfraProblems(main, storage, "var appSettings = {\n}\n")).toEqual([
      "main.bicep: payloadContainerName default is not 'scatter-gather-payloads'",
      "main.bicep: payloadRetentionDays default is not 30",
      "main.bicep: the storage module does not create the payload container",
      "main.bicep: the lifecycle rule is not on the payload container",
      "main.bicep: the lifecycle rule does not use payloadRetentionDays",
      "storage: containers are not created from containerNames",
      "storage: no lifecycle management policy",
      "api.bicep: PAYLOAD_CONTAINER is not payloadContainerName",
      "api.bicep: PAYLOAD_RETENTION_DAYS is not string(payloadRetentionDays)",
      "main.bicep: payloadContainerName is not passed to the api module",
      "main.bicep: payloadRetentionDays is not passed to the api module",
    ]);
    // a policy that deletes the wrong container's blobs, or nothing
    const wrongRule = STORAGE.replace("'${expiringContainerName}/'", "'${containerNames[0]}/'").replace(
      "daysAfterModificationGreaterThan: expireAfterDays",
      "daysAfterModificationGreaterThan: 30",
    );
    expect(payloadInfraProblems(MAIN, wrongRule, API)).toEqual([
      "storage: the lifecycle rule does not filter on the container prefix",
      "storage: the lifecycle rule does not delete after expireAfterDays",
    ]);
  });

  test("a package setup that would build remotely, zip the wrong folder, or ship Core Tools", () => {
    expect(
      deployPackageProblems("node_modules/\n", "name: scatter-gather\nservices:\n  api:\n    host: function\n    remoteBuild: true\n", {
        main: "src/functions/*.js",
        scripts: { package: "node tools/package/package.js" },
        optionalDependencies: { "azure-functions-core-tools": "^4" },
      }),
    ).toEqual([
      "azure.yaml: service api is not remoteBuild: false (a remote build installs devDependencies)",
      "azure.yaml: service api dist is not 'dist/deploy' (the folder npm run package fills)",
      "azure.yaml: no posix prepackage hook running npm run package",
      "azure.yaml: no windows prepackage hook running npm run package",
      "package.json: the package script does not build, then run dist/tools/package/package.js",
      "package.json: main is not under dist/src/",
      ".funcignore: node_modules is excluded (azd refuses remoteBuild: false with it)",
      "package.json: azure-functions-core-tools in optionalDependencies",
    ]);
    // the hook only for one shell
    const posixOnly = read("azure.yaml").replace(/\n {8}windows:\n(?: {10}.*\n)+/, "\n");
    expect(posixOnly).not.toContain("windows:");
    expect(deployPackageProblems(undefined, posixOnly, JSON.parse(read("package.json")))).toEqual([
      "azure.yaml: no windows prepackage hook running npm run package",
    ]);
  });

  test("process.env reads are found in source", () => {
    const src =
      "const a = process.env.MAX_RECIPIENTS;\nconst b = process.env['TASKHUB_NAME'];\nconst { FANOUT_BATCH_SIZE, X: y } = process.env;\n";
    expect([...envReads(src)].sort()).toEqual(["FANOUT_BATCH_SIZE", "MAX_RECIPIENTS", "TASKHUB_NAME", "X"]);
    const viaParameter = [
      "function positiveInt(env: NodeJS.ProcessEnv, name: string, d: number) { return Number(env[name] ?? d); }",
      "export const read = (env: NodeJS.ProcessEnv = process.env) => ({",
      '  max: positiveInt(env, "MAX_RESPONSE_BYTES", 1),',
      "  allow: env.RECIPIENT_URL_ALLOWLIST,",
      "});",
    ].join("\n");
    expect([...envReads(viaParameter)].sort()).toEqual(["MAX_RESPONSE_BYTES", "RECIPIENT_URL_ALLOWLIST"]);
    // the set found in src/ today covers the settings that src/gather/limits.ts reads
    const found = srcEnvReads();
    if (fs.existsSync(path.join(ROOT, "src", "gather", "limits.ts"))) {
      expect([...found]).toEqual(expect.arrayContaining(["MAX_RECIPIENTS", "RECIPIENT_URL_ALLOWLIST"]));
    }
  });
});

// Optional syntax check with the tree-sitter Bicep grammar (not a compiler: no type checking).
function loadTreeSitter(): { Parser: any; Language: any; wasm: string } | undefined {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- optional: the syntax check is skipped without it
    const ts = require("web-tree-sitter");
    return { Parser: ts.Parser, Language: ts.Language, wasm: require.resolve("tree-sitter-bicep/tree-sitter-bicep.wasm") };
  } catch {
    return undefined;
  }
}
const treeSitter = loadTreeSitter();
const describeSyntax = treeSitter ? describe : describe.skip;

describeSyntax("bicep syntax (tree-sitter-bicep; skipped unless web-tree-sitter and tree-sitter-bicep are installed)", () => {
  let parser: any;
  beforeAll(async () => {
    await treeSitter!.Parser.init();
    // bytes, not a path: loading from a path does a dynamic import that the jest VM refuses
    const lang = await treeSitter!.Language.load(new Uint8Array(fs.readFileSync(treeSitter!.wasm)));
    parser = new treeSitter!.Parser();
    parser.setLanguage(lang);
  });

  const syntaxErrors = (src: string): string[] => {
    const errors: string[] = [];
    const visit = (n: any) => {
      if (n.type === "ERROR" || n.isMissing)
        errors.push(`${n.startPosition.row + 1}:${n.startPosition.column + 1} ${n.isMissing ? `missing ${n.type}` : "syntax error"}`);
      for (const c of n.children) visit(c);
    };
    visit(parser.parse(src).rootNode);
    return errors;
  };

  test("every .bicep file parses", () => {
    for (const f of listBicepFiles(INFRA))
      expect({ file: path.relative(ROOT, f), errors: syntaxErrors(fs.readFileSync(f, "utf8")) }).toEqual({
        file: path.relative(ROOT, f),
        errors: [],
      });
  });

  test("a broken template is reported", () => {
    expect(syntaxErrors("param x string =\nresource s 'Microsoft.Web/sites@2024-04-01' = {\n  name: x\n").length).toBeGreaterThan(0);
  });
});
