import { z } from "@hono/zod-openapi";
import { invalid } from "../errors";
import { UserId } from "./schemas";

/**
 * Pagination cursors: one format for every list, read in one place. A cursor is base64url of the
 * JSON array of the last row's sort key; each list says the key's shape below, and anything else
 * (not base64url, not JSON, wrong arity or types, a malformed time or id) is 400 `invalid_request`,
 * never a silent first page.
 */
const Time = z.iso.datetime();
const EventId = z.string().min(1).max(256);

export const CursorKeys = {
  /** Users, by id. */
  user: z.tuple([UserId]),
  /** The audit log, newest first, by its row id. */
  audit: z.tuple([z.number().int().positive()]),
  /** Billing summaries, newest cycle first. */
  summary: z.tuple([Time]),
  /** Webhook deliveries, newest first: created_at, then the event id. */
  delivery: z.tuple([Time, EventId]),
  /** Over-limit intervals, newest first: started_at, then the interval id. */
  overage: z.tuple([Time, EventId]),
  /** Denials, by user id (one row per user). */
  denial: z.tuple([z.string().min(1).max(256)]),
  /** An interval's holders, by when the hold began, then the user id. */
  holder: z.tuple([Time, UserId]),
} as const;

export function encodeCursor(key: readonly (string | number)[] | null): string | null {
  if (key === null) return null;
  const bytes = new TextEncoder().encode(JSON.stringify(key));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function decodeCursor<S extends z.ZodType>(cursor: string | undefined, key: S): z.infer<S> | null {
  if (cursor === undefined || cursor === "") return null;
  let value: unknown;
  try {
    if (!/^[A-Za-z0-9_-]+$/.test(cursor)) throw new Error("not base64url");
    const binary = atob(cursor.replace(/-/g, "+").replace(/_/g, "/"));
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(Uint8Array.from(binary, (ch) => ch.charCodeAt(0))));
  } catch {
    throw badCursor();
  }
  const parsed = key.safeParse(value);
  if (!parsed.success) throw badCursor();
  return parsed.data;
}

const badCursor = () => invalid("The cursor is not valid: pass back a next_cursor this list returned.", [{ path: "cursor", message: "not a cursor this endpoint issued" }]);
