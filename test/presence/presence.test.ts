import { runInDurableObject } from "cloudflare:test";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ConnectTickets, formatTicket, parseTicket, TICKET_TTL_MS } from "../../src/seats/connect-tickets";
import { CLOSE, closeCodeFor, parseClientMessage, Presence, type SocketInfo } from "../../src/seats/presence";
import { newAccount, seatsStub } from "../helpers";

/** A socket as the runtime hands it to the object: readyState, tags, attachment. */
class FakeWs {
  attachment: unknown = null;
  sent: string[] = [];
  closed: { code: number; reason: string } | null = null;
  constructor(
    public readyState: number,
    readonly tags: string[],
  ) {}
  serializeAttachment(v: unknown) {
    this.attachment = structuredClone(v);
  }
  deserializeAttachment() {
    return this.attachment;
  }
  send(data: string) {
    if (this.readyState !== 1) throw new Error("closed");
    this.sent.push(data);
  }
  close(code: number, reason: string) {
    this.closed = { code, reason };
    this.readyState = 2;
  }
}

function fakeCtx() {
  const sockets: FakeWs[] = [];
  const pings = new Map<FakeWs, number>();
  const ctx = {
    acceptWebSocket: (ws: FakeWs, tags: string[]) => {
      (ws as { tags: string[] }).tags.push(...tags);
      sockets.push(ws);
    },
    getWebSockets: (tag?: string) => sockets.filter((ws) => tag === undefined || ws.tags.includes(tag)),
    getWebSocketAutoResponseTimestamp: (ws: FakeWs) => (pings.has(ws) ? new Date(pings.get(ws)!) : null),
  };
  const presence = new Presence(ctx as unknown as ConstructorParameters<typeof Presence>[0]);
  const add = (userId: string, sessionId: string, at: number) => {
    const ws = new FakeWs(1, []);
    presence.accept(ws as unknown as WebSocket, userId, sessionId, at);
    return ws;
  };
  return { presence, add, pings, sockets };
}

const asWs = (ws: FakeWs) => ws as unknown as WebSocket;

describe("Presence (socket bookkeeping)", () => {
  it("tags and attachments identify a socket's user and session, and survive a rebuilt Presence", () => {
    const { presence, add } = fakeCtx();
    const a = add("ada", "desk-1", 1000);
    add("bob", "desk-1", 1000);
    expect(presence.info(asWs(a))).toEqual<SocketInfo>({ userId: "ada", sessionId: "desk-1", connectedAt: 1000, lastMessageAt: 1000 });
    expect(presence.ofUser("ada")).toEqual([a]);
    // Same session id, other user: not the same session.
    expect(presence.ofSession("ada", "desk-1")).toEqual([a]);
    expect(presence.ofSession("ada", "desk-1", asWs(a))).toEqual([]);
    expect(presence.holds("bob", "desk-2")).toBe(false);
    expect(presence.users().sort()).toEqual(["ada", "bob"]);
  });

  it("closing and closed sockets are not counted as open", () => {
    const { presence, add } = fakeCtx();
    const a = add("ada", "desk-1", 0);
    add("ada", "desk-2", 0);
    a.readyState = 2;
    expect(presence.open()).toHaveLength(1);
    expect(presence.holds("ada", "desk-1")).toBe(false);
  });

  it("sweep: heard = latest of auto-answered ping, handled message, connect; silent = not heard within the limit", () => {
    const { presence, add, pings } = fakeCtx();
    const pinged = add("a", "s", 0);
    const messaged = add("b", "s", 0);
    const quiet = add("c", "s", 0);
    const fresh = add("d", "s", 100_000);
    pings.set(pinged, 90_000);
    presence.noteMessage(asWs(messaged), 95_000);
    const { live, silent } = presence.sweep(150_000, 60_000);
    expect(live).toEqual([pinged, messaged, fresh]);
    expect(silent).toEqual([quiet]);
    // Exactly at the limit is still live.
    expect(presence.sweep(150_000, 150_000).silent).toEqual([]);
  });

  it("sessionsOf lists each session once, however many sockets hold it", () => {
    const { presence, add } = fakeCtx();
    const sockets = [add("ada", "desk-1", 0), add("ada", "desk-1", 1), add("ada", "desk-2", 0), add("bob", "desk-1", 0)];
    expect(presence.sessionsOf(sockets.map(asWs))).toEqual([
      { userId: "ada", sessionId: "desk-1" },
      { userId: "ada", sessionId: "desk-2" },
      { userId: "bob", sessionId: "desk-1" },
    ]);
  });

  it("revokeUser tells every socket of the user why, closes them with 4410, and leaves others alone", () => {
    const { presence, add } = fakeCtx();
    const a1 = add("ada", "desk-1", 0);
    const a2 = add("ada", "desk-2", 0);
    const b = add("bob", "desk-1", 0);
    expect(presence.revokeUser("ada", "license_revoked")).toBe(2);
    for (const ws of [a1, a2]) {
      expect(JSON.parse(ws.sent[0])).toMatchObject({ type: "seat.revoked", reason: "license_revoked", detail: expect.any(String) });
      expect(ws.closed).toEqual({ code: CLOSE.revoked, reason: "license_revoked" });
    }
    expect(b.sent).toEqual([]);
    expect(b.closed).toBeNull();
    // A socket that is already closing does not throw.
    expect(presence.revokeUser("ada", "license_revoked")).toBe(0);
  });

  it("pushEntitlements reaches only the user's open sockets", () => {
    const { presence, add } = fakeCtx();
    const a = add("ada", "desk-1", 0);
    const b = add("bob", "desk-1", 0);
    const e = { user_id: "ada" } as never;
    presence.pushEntitlements("ada", e);
    expect(a.sent.map((m) => JSON.parse(m))).toEqual([{ type: "entitlements.changed", entitlements: e }]);
    expect(b.sent).toEqual([]);
  });

  it("client messages: only a release is understood; anything else is refused", () => {
    expect(parseClientMessage('{"type":"release"}')).toEqual({ type: "release" });
    for (const bad of ['{"type":"other"}', "release", "{", "null", "[]", new ArrayBuffer(4), `{"type":"release","x":"${"y".repeat(2000)}"}`]) {
      expect(parseClientMessage(bad as string)).toBeNull();
    }
  });

  it("close codes follow the problem: 4401, 4403, 4409", () => {
    expect(closeCodeFor("unauthorized")).toBe(4401);
    expect(closeCodeFor("no_license")).toBe(4403);
    expect(closeCodeFor("forbidden")).toBe(4403);
    expect(closeCodeFor("pool_at_ceiling")).toBe(4409);
  });
});

describe("connect tickets", () => {
  const accountIds = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$/);
  const secrets = fc.stringMatching(/^[A-Za-z0-9_-]{43}$/);

  it("format and parse are inverse for every account id (which may contain dots)", () => {
    fc.assert(
      fc.property(secrets, accountIds, (secret, accountId) => {
        expect(parseTicket(formatTicket(secret, accountId))).toEqual({ secret, accountId });
      }),
    );
  });

  it("parse refuses anything that is not a ticket", () => {
    for (const bad of ["", "ct_", `ct_${"a".repeat(42)}.acme`, `ct_${"a".repeat(43)}.`, `ct_${"a".repeat(43)}.-x`, `xx_${"a".repeat(43)}.acme`, `ct_${"a".repeat(43)}.acme/../x`]) {
      expect(parseTicket(bad)).toBeNull();
    }
  });

  it("single use, 60 s, stored only as a hash, dropped with the user", async () => {
    const f = await newAccount();
    await runInDurableObject(seatsStub(f), async (_instance, state) => {
      const tickets = new ConnectTickets(state.storage.sql);
      const t0 = 1_000_000;
      const a = await tickets.issue("ada", "desk-1", t0);
      expect(a.expiresAt).toBe(t0 + TICKET_TTL_MS);
      expect(a.secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
      const stored = state.storage.sql.exec<{ hash: string }>("SELECT hash FROM connect_tickets").toArray();
      expect(stored.map((r) => r.hash)).not.toContain(a.secret);
      expect(stored[0].hash).toMatch(/^[0-9a-f]{64}$/);
      expect(await tickets.consume(a.secret, t0 + 1)).toEqual({ userId: "ada", sessionId: "desk-1" });
      expect(await tickets.consume(a.secret, t0 + 2)).toBeNull();

      const b = await tickets.issue("ada", "desk-2", t0);
      expect(await tickets.consume(b.secret, t0 + TICKET_TTL_MS)).toBeNull();
      // Even a refused (expired) ticket is gone afterwards.
      expect(tickets.pending()).toBe(0);

      const c = await tickets.issue("ada", "desk-3", t0);
      await tickets.issue("bob", "desk-1", t0);
      tickets.revokeUser("ada");
      expect(await tickets.consume(c.secret, t0 + 1)).toBeNull();
      expect(tickets.pending()).toBe(1);
      // Issuing drops expired tickets, so the table stays small.
      await tickets.issue("carol", "desk-1", t0 + TICKET_TTL_MS + 1);
      expect(tickets.pending()).toBe(1);
    });
  });
});
