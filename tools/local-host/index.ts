/** Programmatic entry point of the project's local Functions + Durable host. */
export { startLocalHost, type LocalHost, type LocalHostOptions, type FunctionInfo } from "./host";
