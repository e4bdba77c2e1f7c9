// What this API key may read. The service's scope table is the one authority: a section whose
// request answers 403 insufficient_scope is marked here, said so on screen (with the scopes that
// would do), and not asked again until sign-out. Nothing here guesses from the key's scopes.
import { h } from "./dom.js";
import { ApiProblem } from "./api.js";

/** area ("account", "pools", "billing", "compliance", "users") -> the scopes that would do */
const denied = new Map();

export const isDenied = (area) => denied.has(area);

/** Marks `area` as out of this key's scopes if `err` says so; true if it did. */
export function markDenied(area, err) {
  if (!(err instanceof ApiProblem && err.status === 403 && err.code === "insufficient_scope")) return false;
  denied.set(area, err.body?.accepted_scopes ?? [err.body?.required_scope ?? "admin"]);
  return true;
}

export function clearAccess() {
  denied.clear();
}

/** The words said in a section this key may not read. */
export function deniedText(area, what) {
  const scopes = denied.get(area) ?? [];
  return `Not shown: this API key may not read ${what}. A key with the ${scopes.map((s) => `“${s}”`).join(" or ")} scope may.`;
}

export const deniedNote = (area, what) => h("p", { class: "muted denied", "data-denied": area, text: deniedText(area, what) });
