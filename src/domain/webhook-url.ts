import ipaddr from "ipaddr.js";

/**
 * Which webhook URLs Seatkeeper may POST to (no SSRF). Pure: the same rule runs when a webhook is
 * set and again before every delivery attempt, so a URL stored under an older rule is never fetched.
 *
 * The URL is parsed with the WHATWG parser first and the rule judges what it normalized to: a
 * decimal (`2130706433`), octal (`0177.0.0.1`), hex or short (`127.1`) IPv4 host is already
 * `127.0.0.1` there, and an IPv6 host is compressed inside brackets. Address classes come from
 * ipaddr.js (docs/decisions/050-webhook-targets-judged-by-ipaddr-on-the-parsed-url.md), not from ranges written here.
 */

export type WebhookUrlVerdict = { ok: true; url: string } | { ok: false; reason: string };

/** The only hosts a loopback receiver may use, and only with WEBHOOK_ALLOW_LOOPBACK=true. */
const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]"]);

/** Names that never leave the machine or the site (RFC 6761, RFC 6762, RFC 8375, ICANN's .internal). */
const INTERNAL_SUFFIXES = ["localhost", "local", "internal", "home.arpa"];

/** The deprecated IPv4-compatible block (::a.b.c.d): ipaddr.js calls it unicast, but it embeds IPv4. */
const IPV4_COMPATIBLE = ipaddr.IPv6.parseCIDR("::/96");

const refuse = (reason: string): WebhookUrlVerdict => ({ ok: false, reason });

/** Why an IP literal host is refused, or null when it is a public unicast address. */
function addressRefusal(host: string): string | null {
  if (host.startsWith("[")) {
    const v6 = ipaddr.IPv6.parse(host.slice(1, -1));
    if (v6.isIPv4MappedAddress()) return `an IPv4-mapped address (${v6.toIPv4Address().range()} ${v6.toIPv4Address().toString()})`;
    if (v6.match(IPV4_COMPATIBLE)) return "an IPv4-compatible address";
    const range = v6.range();
    return range === "unicast" ? null : `a ${range} address`;
  }
  if (ipaddr.IPv4.isValidFourPartDecimal(host)) {
    const range = ipaddr.IPv4.parse(host).range();
    return range === "unicast" ? null : `a ${range} address`;
  }
  return null;
}

/** Why a host name is refused, or null. `host` is lower-case (the parser folds it). */
function nameRefusal(host: string): string | null {
  const name = host.replace(/\.+$/, ""); // "localhost." is localhost
  for (const suffix of INTERNAL_SUFFIXES) {
    if (name === suffix || name.endsWith(`.${suffix}`)) return `an internal name (.${suffix})`;
  }
  // A single label only resolves through a local search domain: never a public receiver.
  if (!name.includes(".")) return "not a fully qualified name";
  return null;
}

const isIpLiteral = (host: string) => host.startsWith("[") || ipaddr.IPv4.isValidFourPartDecimal(host);

/**
 * The verdict on `raw`: the normalized URL to store, or why it is refused. `allowLoopback` is the
 * deployment's WEBHOOK_ALLOW_LOOPBACK: plain http to localhost, 127.0.0.1 or [::1] (any port), for
 * a receiver on a developer's machine; never set in a deployment.
 */
export function judgeWebhookUrl(raw: string, allowLoopback: boolean): WebhookUrlVerdict {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return refuse("not a URL");
  }
  // Credentials in the URL would show in GET account and the audit log, and are not how receivers authenticate us.
  if (url.username !== "" || url.password !== "") return refuse("must not contain user info");
  const host = url.hostname;
  if (allowLoopback && url.protocol === "http:" && LOOPBACK_HOSTS.has(host)) return { ok: true, url: url.toString() };
  if (url.protocol !== "https:") return refuse(allowLoopback ? "must be https (http only for localhost, 127.0.0.1, [::1])" : "must be https");
  if (host === "") return refuse("has no host");
  const why = isIpLiteral(host) ? addressRefusal(host) : nameRefusal(host);
  if (why !== null) return refuse(`must be a public host, not ${why}`);
  return { ok: true, url: url.toString() };
}
