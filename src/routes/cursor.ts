import { invalid } from "../errors";

/** Opaque pagination cursors: base64url of the last key seen. */
export function encodeCursor(key: string | number | null): string | null {
  if (key === null) return null;
  return btoa(JSON.stringify(key)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function decodeCursor<T extends string | number>(cursor: string | undefined, kind: "string" | "number"): T | null {
  if (cursor === undefined || cursor === "") return null;
  try {
    const value: unknown = JSON.parse(atob(cursor.replace(/-/g, "+").replace(/_/g, "/")));
    if (typeof value === kind) return value as T;
  } catch {
    // fall through
  }
  throw invalid("The cursor is not valid.", [{ path: "cursor", message: "not a cursor this endpoint issued" }]);
}
