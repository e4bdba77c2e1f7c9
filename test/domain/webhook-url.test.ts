/**
 * The webhook URL rule (no SSRF), judged on what workerd's own URL parser normalizes: every
 * notation from issue 10 as a worked example, and property tests of IPv4 addresses in many
 * notations against a plain reference table of the special-purpose ranges (IANA registry),
 * written out here without the library the module uses.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { judgeWebhookUrl } from "../../src/domain/webhook-url";

const refused = (raw: string, allowLoopback = false) => judgeWebhookUrl(raw, allowLoopback).ok === false;

describe("worked examples", () => {
  // Every URL issue 10 names, and the other notations the parser folds into the same addresses.
  const internal = [
    "https://127.0.0.1",
    "https://127.0.0.1:8443/hook",
    "https://127.1",
    "https://127.0.0.1.",
    "https://169.254.169.254",
    "https://169.254.169.254/latest/meta-data/",
    "https://10.0.0.1",
    "https://172.16.0.1",
    "https://172.31.255.255",
    "https://192.168.1.1",
    "https://100.64.0.1",
    "https://100.127.255.254",
    "https://[fd00:ec2::254]",
    "https://[fc00::1]",
    "https://[fe80::1]",
    "https://[::1]",
    "https://[::]",
    "https://0.0.0.0",
    "https://0",
    "https://2130706433", // decimal 127.0.0.1
    "https://2852039166", // decimal 169.254.169.254
    "https://0177.0.0.1", // octal
    "https://0x7f.0.0.1", // hex octet
    "https://0x7f000001", // hex
    "https://017700000001", // octal integer
    "https://0xa9.0xfe.0xa9.0xfe",
    "https://0251.0376.0251.0376",
    "https://169.254.43518", // three parts
    "https://10.1", // two parts
    "https://[::ffff:169.254.169.254]",
    "https://[::ffff:a9fe:a9fe]",
    "https://[::ffff:127.0.0.1]",
    "https://[0:0:0:0:0:ffff:7f00:1]",
    "https://[::127.0.0.1]", // IPv4-compatible
    "https://[::a9fe:a9fe]",
    "https://[64:ff9b::a9fe:a9fe]", // NAT64
    "https://[2002:a9fe:a9fe::1]", // 6to4
    "https://224.0.0.1", // multicast
    "https://[ff02::1]",
    "https://255.255.255.255",
    "https://240.0.0.1", // reserved
    "https://192.0.2.10", // documentation
    "https://198.18.0.1", // benchmarking
    "https://[2001:db8::1]",
    "https://localhost",
    "https://LOCALHOST",
    "https://localhost.",
    "https://api.localhost",
    "https://printer.local",
    "https://metadata.google.internal",
    "https://metadata.google.internal./computeMetadata/v1/",
    "https://router.home.arpa",
    "https://intranet", // one label: only a local search domain resolves it
    "https://user:pass@host.example.com",
    "https://user@host.example.com",
    "https://:pass@host.example.com",
    "http://hooks.example.com", // plain http
    "ftp://hooks.example.com",
    "javascript:alert(1)",
    "not a url",
    "",
  ];
  it.each(internal)("refuses %s", (raw) => {
    expect(judgeWebhookUrl(raw, false)).toEqual({ ok: false, reason: expect.any(String) });
    // The loopback setting opens plain http to three hosts, nothing of the above in https.
    expect(judgeWebhookUrl(raw, true)).toEqual({ ok: false, reason: expect.any(String) });
  });

  it.each([
    ["https://hooks.example.com/seatkeeper", "https://hooks.example.com/seatkeeper"],
    ["https://HOOKS.Example.com:8443/a?b=c", "https://hooks.example.com:8443/a?b=c"],
    ["https://93.184.215.14/hook", "https://93.184.215.14/hook"],
    ["https://1572394766/hook", "https://93.184.215.14/hook"], // public, in decimal: normalized, then allowed
    ["https://[2606:4700::6810:84e5]/hook", "https://[2606:4700::6810:84e5]/hook"],
    ["https://hooks.localhost.example.com", "https://hooks.localhost.example.com/"],
    ["https://@hooks.example.com", "https://hooks.example.com/"], // empty user info is no user info
  ])("accepts %s as %s", (raw, normalized) => {
    expect(judgeWebhookUrl(raw, false)).toEqual({ ok: true, url: normalized });
    expect(judgeWebhookUrl(raw, true)).toEqual({ ok: true, url: normalized });
  });

  it("names why: the field message says what kind of address it is", () => {
    expect(judgeWebhookUrl("https://2130706433", false)).toEqual({ ok: false, reason: "must be a public host, not a loopback address" });
    expect(judgeWebhookUrl("https://[::ffff:169.254.169.254]", false)).toEqual({
      ok: false,
      reason: "must be a public host, not an IPv4-mapped address (linkLocal 169.254.169.254)",
    });
    expect(judgeWebhookUrl("https://metadata.google.internal", false)).toEqual({ ok: false, reason: "must be a public host, not an internal name (.internal)" });
    expect(judgeWebhookUrl("https://u:p@hooks.example.com", false)).toEqual({ ok: false, reason: "must not contain user info" });
  });

  it("plain http to loopback only with WEBHOOK_ALLOW_LOOPBACK, and only to localhost, 127.0.0.1 and [::1]", () => {
    for (const raw of ["http://localhost:9999/hook", "http://127.0.0.1:9999/hook", "http://[::1]:9999/hook", "http://localhost/", "http://127.1:80/x"]) {
      expect(judgeWebhookUrl(raw, true).ok, raw).toBe(true);
      expect(judgeWebhookUrl(raw, false).ok, raw).toBe(false);
    }
    expect(judgeWebhookUrl("http://2130706433:9999/", true)).toEqual({ ok: true, url: "http://127.0.0.1:9999/" });
    for (const raw of [
      "http://127.0.0.2/",
      "http://10.0.0.1/",
      "http://api.localhost/",
      "http://hooks.example.com/",
      "http://user:pw@localhost/",
      "https://localhost/",
      "https://127.0.0.1/",
      "https://[::1]/",
    ]) {
      expect(judgeWebhookUrl(raw, true).ok, raw).toBe(false);
    }
  });
});

// ------------------------------------------------------------------ properties

/** IPv4 special-purpose blocks (IANA registry and RFCs 1918, 6598, 3927, 5737, 2544, 7534/7535, 7450): the plain reference. */
const SPECIAL_V4: Array<[string, number]> = [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.0.2.0", 24],
  ["192.31.196.0", 24],
  ["192.52.193.0", 24],
  ["192.88.99.0", 24],
  ["192.168.0.0", 16],
  ["192.175.48.0", 24],
  ["198.18.0.0", 15],
  ["198.51.100.0", 24],
  ["203.0.113.0", 24],
  ["224.0.0.0", 4],
  ["240.0.0.0", 4],
];

const toInt = (dotted: string) => dotted.split(".").reduce((n, part) => n * 256 + Number(part), 0);
const octets = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];

function isSpecial(n: number): boolean {
  return SPECIAL_V4.some(([base, bits]) => Math.floor(n / 2 ** (32 - bits)) === Math.floor(toInt(base) / 2 ** (32 - bits)));
}

/** Ways to write one IPv4 address that the URL parser reads as that address. */
const NOTATIONS: Record<string, (n: number) => string> = {
  dotted: (n) => octets(n).join("."),
  decimal: (n) => String(n),
  hex: (n) => `0x${n.toString(16)}`,
  octal: (n) => `0${n.toString(8)}`,
  octalOctets: (n) => octets(n).map((o) => `0${o.toString(8)}`).join("."),
  hexOctets: (n) => octets(n).map((o) => `0x${o.toString(16)}`).join("."),
  threeParts: (n) => `${n >>> 24}.${(n >>> 16) & 255}.${n & 65535}`,
  twoParts: (n) => `${n >>> 24}.${n & 0xffffff}`,
  trailingDot: (n) => `${octets(n).join(".")}.`,
};

const notation = fc.constantFrom(...Object.keys(NOTATIONS));
/** Half the time an address inside a special block, so the refused side is well covered. */
const address = fc.oneof(
  fc.integer({ min: 0, max: 2 ** 32 - 1 }),
  fc
    .tuple(fc.constantFrom(...SPECIAL_V4), fc.integer({ min: 0, max: 2 ** 32 - 1 }))
    .map(([[base, bits], noise]) => toInt(base) + (noise % 2 ** (32 - bits))),
);

describe("properties", () => {
  it("an IPv4 host in any notation is refused exactly when the reference says it is special", () => {
    fc.assert(
      fc.property(address, notation, (n, how) => {
        const verdict = judgeWebhookUrl(`https://${NOTATIONS[how](n)}/hook`, false);
        expect(verdict.ok).toBe(!isSpecial(n));
        if (verdict.ok) expect(verdict.url).toBe(`https://${octets(n).join(".")}/hook`);
      }),
      { numRuns: 500 },
    );
  });

  it("IPv4 embedded in IPv6 (mapped, compatible, NAT64, 6to4) is refused, whatever the address", () => {
    const hex = (n: number) => `${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
    const forms = [
      (n: number) => `[::ffff:${octets(n).join(".")}]`,
      (n: number) => `[::ffff:${hex(n)}]`,
      (n: number) => `[0:0:0:0:0:ffff:${hex(n)}]`,
      (n: number) => `[::${octets(n).join(".")}]`,
      (n: number) => `[64:ff9b::${hex(n)}]`,
      (n: number) => `[2002:${hex(n)}::1]`,
    ];
    fc.assert(
      fc.property(address, fc.integer({ min: 0, max: forms.length - 1 }), (n, i) => {
        expect(refused(`https://${forms[i](n)}/`)).toBe(true);
        expect(refused(`https://${forms[i](n)}/`, true)).toBe(true);
      }),
    );
  });

  it("IPv6 in unique-local, link-local and multicast space is refused; global unicast is allowed", () => {
    const group = fc.integer({ min: 0, max: 0xffff });
    const tail = fc.array(group, { minLength: 7, maxLength: 7 });
    const v6 = (first: number, rest: number[]) => `[${[first, ...rest].map((g) => g.toString(16)).join(":")}]`;
    fc.assert(
      fc.property(tail, fc.integer({ min: 0xfc00, max: 0xfdff }), (rest, first) => {
        expect(refused(`https://${v6(first, rest)}/`)).toBe(true);
      }),
    );
    fc.assert(
      fc.property(tail, fc.integer({ min: 0xfe80, max: 0xfebf }), (rest, first) => {
        expect(refused(`https://${v6(first, rest)}/`)).toBe(true);
      }),
    );
    fc.assert(
      fc.property(tail, fc.integer({ min: 0xff00, max: 0xffff }), (rest, first) => {
        expect(refused(`https://${v6(first, rest)}/`)).toBe(true);
      }),
    );
    // 2a00::/8 (RIPE's global unicast) has no special block inside.
    fc.assert(
      fc.property(tail, fc.integer({ min: 0x2a00, max: 0x2aff }), (rest, first) => {
        expect(refused(`https://${v6(first, rest)}/`)).toBe(false);
      }),
    );
  });

  it("any URL with user info is refused, whatever the host", () => {
    const part = fc.stringMatching(/^[a-zA-Z0-9._~-]{1,12}$/);
    fc.assert(
      fc.property(part, fc.option(part), fc.boolean(), (user, password, loopback) => {
        const info = password === null ? user : `${user}:${password}`;
        expect(refused(`https://${info}@hooks.example.com/x`, loopback)).toBe(true);
        expect(refused(`http://${info}@localhost:8080/x`, loopback)).toBe(true);
      }),
    );
  });

  it("every name under an internal suffix is refused, in any case and with a trailing dot", () => {
    const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?$/);
    fc.assert(
      fc.property(fc.array(label, { minLength: 1, maxLength: 3 }), fc.constantFrom("localhost", "local", "internal", "home.arpa"), fc.boolean(), fc.boolean(), (labels, suffix, upper, dot) => {
        let host = `${labels.join(".")}.${suffix}${dot ? "." : ""}`;
        if (upper) host = host.toUpperCase();
        expect(refused(`https://${host}/hook`)).toBe(true);
      }),
    );
  });
});
