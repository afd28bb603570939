/** The host's console lines: timestamped, with the Core Tools prefixes ("Warning: ", "Error: "), system debug lines only when verbose. */
import type { LogEntry } from "./worker";

export class HostLog {
  constructor(
    readonly out: (line: string) => void,
    readonly verbose: boolean,
  ) {}

  /** A timestamped line. */
  line(message: string): void {
    this.out(`[${new Date().toISOString()}] ${message}`);
  }

  /** A function's or the worker's log entry. */
  entry(e: LogEntry): void {
    if (e.category === "system" && !this.verbose && (e.level === "debug" || e.level === "trace" || e.level === "information")) return;
    const who = e.functionName ? `[${e.functionName}] ` : "";
    const lvl = e.level === "warning" ? "Warning: " : e.level === "error" || e.level === "critical" ? "Error: " : "";
    this.line(`${who}${lvl}${e.message}`);
  }

  /** The durable engine's lines (information only when verbose). */
  engine(level: "info" | "warn" | "error", message: string): void {
    if (level === "info" && !this.verbose) return;
    this.line(`${level === "info" ? "" : level === "warn" ? "Warning: " : "Error: "}${message}`);
  }
}
