/** Programmatic entry point of the project's local Functions + Durable host. */
export { startLocalHost, type LocalHost, type LocalHostOptions, type FunctionInfo, type HostKeys } from "./host";
export { readHostKeys, hostSecretsPath } from "./keys";
