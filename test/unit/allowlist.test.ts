import { UrlAllowlist } from "../../src/gather/allowlist";

describe("UrlAllowlist", () => {
  test("an empty allowlist allows nothing", () => {
    const list = new UrlAllowlist([]);
    expect(list.allows("http://localhost/")).toBe(false);
    expect(list.describe()).toBe("(empty: URL recipients are refused)");
  });

  test("the scheme must match", () => {
    const list = new UrlAllowlist(["http://localhost:*"]);
    expect(list.allows("http://localhost:8080/x")).toBe(true);
    expect(list.allows("https://localhost:8080/x")).toBe(false);
    expect(new UrlAllowlist(["https://localhost:*"]).allows("http://localhost:8080/x")).toBe(false);
  });

  test("non-http schemes and unparsable URLs are refused", () => {
    const list = new UrlAllowlist(["http://localhost:*"]);
    expect(list.allows("ftp://localhost:21/")).toBe(false);
    expect(list.allows("javascript:alert(1)")).toBe(false);
    expect(list.allows("not a url")).toBe(false);
  });

  test("without a port an entry means the default port: 80 for http, 443 for https", () => {
    const http = new UrlAllowlist(["http://example.com"]);
    expect(http.allows("http://example.com/path?q=1")).toBe(true);
    expect(http.allows("http://example.com:80/")).toBe(true);
    expect(http.allows("http://example.com:8080/")).toBe(false);
    const https = new UrlAllowlist(["https://example.com"]);
    expect(https.allows("https://example.com/")).toBe(true);
    expect(https.allows("https://example.com:443/")).toBe(true);
    expect(https.allows("https://example.com:8443/")).toBe(false);
    expect(https.allows("http://example.com:443/")).toBe(false);
  });

  test("an explicit port matches only that port (and the default port written out)", () => {
    const list = new UrlAllowlist(["http://127.0.0.1:9001"]);
    expect(list.allows("http://127.0.0.1:9001/quote")).toBe(true);
    expect(list.allows("http://127.0.0.1:9002/quote")).toBe(false);
    expect(list.allows("http://127.0.0.1/quote")).toBe(false);
    expect(new UrlAllowlist(["http://h:80"]).allows("http://h/")).toBe(true);
    expect(new UrlAllowlist(["https://h:443"]).allows("https://h/")).toBe(true);
  });

  test("a * port matches any port, the default included", () => {
    const list = new UrlAllowlist(["http://localhost:*"]);
    expect(list.allows("http://localhost/")).toBe(true);
    expect(list.allows("http://localhost:1/")).toBe(true);
    expect(list.allows("http://localhost:65535/")).toBe(true);
    expect(list.allows("http://localhost.evil.com/")).toBe(false);
    expect(list.allows("http://127.0.0.1/")).toBe(false);
  });

  test("*.example.com matches any subdomain depth but not example.com itself", () => {
    const list = new UrlAllowlist(["https://*.example.com"]);
    expect(list.allows("https://a.example.com/")).toBe(true);
    expect(list.allows("https://a.b.example.com/")).toBe(true);
    expect(list.allows("https://example.com/")).toBe(false);
    expect(list.allows("https://badexample.com/")).toBe(false);
    expect(list.allows("https://a.example.com.evil.org/")).toBe(false);
    expect(list.allows("https://a.example.com:8443/")).toBe(false);
    expect(new UrlAllowlist(["https://*.example.com:*"]).allows("https://a.example.com:8443/")).toBe(true);
  });

  test("host and scheme compare case-insensitively", () => {
    expect(new UrlAllowlist(["HTTPS://API.Example.COM"]).allows("https://api.example.com/x")).toBe(true);
    expect(new UrlAllowlist(["https://api.example.com"]).allows("HTTPS://API.EXAMPLE.COM/x")).toBe(true);
    expect(new UrlAllowlist(["https://*.Example.com"]).allows("https://A.EXAMPLE.com/")).toBe(true);
  });

  test("URLs with userinfo are refused", () => {
    const list = new UrlAllowlist(["http://localhost:*"]);
    expect(list.allows("http://user:pass@localhost:8080/")).toBe(false);
    expect(list.allows("http://user@localhost:8080/")).toBe(false);
  });

  test("any entry may match", () => {
    const list = new UrlAllowlist(["http://localhost:*", "http://127.0.0.1:*"]);
    expect(list.allows("http://127.0.0.1:7071/")).toBe(true);
    expect(list.allows("http://localhost:7071/")).toBe(true);
    expect(list.allows("http://10.0.0.1:7071/")).toBe(false);
  });

  test("invalid entries are collected and never match", () => {
    const list = new UrlAllowlist(["localhost:8080", "ftp://files.example.com", "http://h/path", "http://ok:*", "http://x:123456", "*"]);
    expect(list.invalidEntries).toEqual(["localhost:8080", "ftp://files.example.com", "http://h/path", "http://x:123456", "*"]);
    expect(list.allows("http://ok:1/")).toBe(true);
    expect(list.allows("http://h/path")).toBe(false);
    expect(list.describe()).toBe("http://ok:*");
  });

  test("a trailing slash on an entry is fine", () => {
    const list = new UrlAllowlist(["http://localhost:7071/"]);
    expect(list.invalidEntries).toEqual([]);
    expect(list.allows("http://localhost:7071/api")).toBe(true);
  });

  test("describe() lists the normalized origins", () => {
    expect(new UrlAllowlist(["HTTP://LocalHost:*", "https://*.example.com", "http://a:81"]).describe()).toBe(
      "http://localhost:*, https://*.example.com:443, http://a:81",
    );
  });
});
