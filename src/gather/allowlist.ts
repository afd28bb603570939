/**
 * Origin allowlist for URL recipients and notify URLs: `scheme://host[:port]` entries where `*` may
 * stand for the port or for one leading host label (`https://*.example.com`), as docs/api.md specifies.
 */

interface OriginPattern {
  protocol: string;
  /** Lower-cased host; a leading "*." matches any one-or-more-label prefix. */
  host: string;
  /** "*" for any port, else the explicit or default port. */
  port: string;
}

const DEFAULT_PORTS: Record<string, string> = { "http:": "80", "https:": "443" };

function parsePattern(entry: string): OriginPattern | undefined {
  const match = /^(https?):\/\/([^/:]+)(?::(\*|\d{1,5}))?\/?$/i.exec(entry.trim());
  if (!match) return undefined;
  const protocol = `${match[1].toLowerCase()}:`;
  return { protocol, host: match[2].toLowerCase(), port: match[3] ?? DEFAULT_PORTS[protocol] };
}

function hostMatches(pattern: string, host: string): boolean {
  if (pattern.startsWith("*.")) {
    const suffix = pattern.slice(1); // ".example.com"
    return host.endsWith(suffix) && host.length > suffix.length;
  }
  return pattern === host;
}

export class UrlAllowlist {
  private readonly patterns: OriginPattern[];
  readonly invalidEntries: string[];

  constructor(entries: readonly string[]) {
    this.patterns = [];
    this.invalidEntries = [];
    for (const entry of entries) {
      const pattern = parsePattern(entry);
      if (pattern) this.patterns.push(pattern);
      else this.invalidEntries.push(entry);
    }
  }

  /** True when the URL is http(s) and its origin matches an entry. */
  allows(url: string): boolean {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return false;
    }
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") return false;
    if (parsed.username || parsed.password) return false;
    const host = parsed.hostname.toLowerCase();
    const port = parsed.port || DEFAULT_PORTS[parsed.protocol];
    return this.patterns.some((p) => p.protocol === parsed.protocol && (p.port === "*" || p.port === port) && hostMatches(p.host, host));
  }

  describe(): string {
    return this.patterns.length === 0
      ? "(empty: URL recipients are refused)"
      : this.patterns.map((p) => `${p.protocol}//${p.host}:${p.port}`).join(", ");
  }
}
