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

/**
 * An Azure Storage queue name: 3-63 characters of lowercase letters, digits and single hyphens, starting and
 * ending with a letter or digit (learn.microsoft.com/rest/api/storageservices/naming-queues-and-metadata).
 */
export const QUEUE_NAME_PATTERN = /^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/;
export const QUEUE_NAME_RULE = "3-63 characters: lowercase letters, digits and single hyphens, starting and ending with a letter or digit";

/**
 * Queue name allowlist for queue recipients (RECIPIENT_QUEUE_ALLOWLIST): exact names, or a prefix ending in
 * `*` (`quotes-*`; `*` alone allows every queue of the account). Entries that are neither are ignored.
 */
export class QueueAllowlist {
  private readonly exact = new Set<string>();
  private readonly prefixes: string[] = [];
  readonly invalidEntries: string[] = [];

  constructor(entries: readonly string[]) {
    for (const raw of entries) {
      const entry = raw.trim();
      if (entry.endsWith("*") && /^[a-z0-9-]{0,62}$/.test(entry.slice(0, -1))) this.prefixes.push(entry.slice(0, -1));
      else if (QUEUE_NAME_PATTERN.test(entry)) this.exact.add(entry);
      else this.invalidEntries.push(entry);
    }
  }

  allows(name: string): boolean {
    return QUEUE_NAME_PATTERN.test(name) && (this.exact.has(name) || this.prefixes.some((prefix) => name.startsWith(prefix)));
  }

  describe(): string {
    const entries = [...this.exact, ...this.prefixes.map((p) => `${p}*`)];
    return entries.length === 0 ? "(empty: queue recipients are refused)" : entries.join(", ");
  }
}
