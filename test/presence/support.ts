import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { expect } from "vitest";
import worker from "../../src/index";
import { call, eventually, api, replyOf } from "../helpers";

/** A client end of a presence socket, recording what the server sends. */
export interface TestSocket {
  ws: WebSocket;
  /** Parsed JSON messages, in order ("pong" and other text kept as strings). */
  messages: any[];
  closed: { code: number; reason: string } | null;
  /** Waits for the first message of this type. */
  next(type: string, timeoutMs?: number): Promise<any>;
  /** Waits for the close; returns its code and reason. */
  closing(timeoutMs?: number): Promise<{ code: number; reason: string }>;
  send(data: string): void;
}

/** Opens `GET /v1/seats/connect?ticket=` through the Worker (the same path a desktop takes). */
export async function openSocket(ticket: string, init: RequestInit = {}, query = ""): Promise<TestSocket> {
  const res = await worker.fetch(
    new Request(`http://seatkeeper.test/v1/seats/connect?ticket=${encodeURIComponent(ticket)}${query}`, { headers: { upgrade: "websocket" }, ...init }),
    env,
    createExecutionContext(),
  );
  expect(res.status, await peek(res)).toBe(101);
  const ws = res.webSocket!;
  const socket: TestSocket = {
    ws,
    messages: [],
    closed: null,
    next: (type, timeoutMs = 5_000) =>
      eventually(async () => {
        const found = socket.messages.find((m) => m?.type === type);
        if (!found) throw new Error(`no ${type} message yet; got ${JSON.stringify(socket.messages)}`);
        return found;
      }, timeoutMs),
    closing: (timeoutMs = 5_000) =>
      eventually(async () => {
        if (!socket.closed) throw new Error(`not closed; messages ${JSON.stringify(socket.messages)}`);
        return socket.closed;
      }, timeoutMs),
    send: (data) => ws.send(data),
  };
  ws.addEventListener("message", (ev) => {
    const data = typeof ev.data === "string" ? ev.data : "(binary)";
    try {
      socket.messages.push(data.startsWith("{") ? JSON.parse(data) : data);
    } catch {
      socket.messages.push(data);
    }
  });
  ws.addEventListener("close", (ev) => {
    socket.closed = { code: ev.code, reason: ev.reason };
  });
  ws.accept();
  return socket;
}

async function peek(res: Response): Promise<string> {
  if (res.status === 101) return "";
  return res.text();
}

export async function ticketFor(token: string, sessionId = "desk-1"): Promise<string> {
  const res = await replyOf(api(token).seats["connect-ticket"].$post({ json: { session_id: sessionId } }));
  if (res.status !== 201) throw new Error(`ticket failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.ticket;
}

/** A ticket and a socket for this session; waits for seat.granted unless `expectGranted` is false. */
export async function connect(token: string, sessionId = "desk-1", expectGranted = true): Promise<TestSocket> {
  const socket = await openSocket(await ticketFor(token, sessionId));
  if (expectGranted) await socket.next("seat.granted");
  return socket;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
