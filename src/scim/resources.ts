import { z } from "@hono/zod-openapi";
import { isPerSeatProduct, isPoolId, type PerSeatProduct, type PoolId } from "../domain/catalog";
import { GROUP_SCHEMA, invalidValue, ScimError, SEATKEEPER_SCHEMA, USER_SCHEMA } from "./protocol";

/**
 * SCIM resources <-> Seatkeeper records, as pure functions. Identity providers send more than we
 * keep (phone numbers, addresses, the enterprise extension): unknown attributes are accepted and
 * not stored (RFC 7644 section 3.3 lets a service provider ignore what it does not support).
 */

/** ^[A-Za-z0-9_.-]{1,64}$: the same pattern as a team everywhere else. */
export const TEAM_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;
/** A user id (the userName at creation): the admin API's user id pattern. */
export const USER_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$/;

export interface ScimName {
  formatted?: string;
  familyName?: string;
  givenName?: string;
  middleName?: string;
  honorificPrefix?: string;
  honorificSuffix?: string;
}

export interface ScimEmail {
  value: string;
  type?: string;
  primary?: boolean;
}

/** What the identity provider asks for through the Seatkeeper extension. */
export interface LicenseAttrs {
  pool: PoolId | null;
  addons: PerSeatProduct[];
  team: string | null;
}

export interface ScimUserInput {
  userName: string;
  externalId: string | null;
  active: boolean;
  displayName: string | null;
  name: ScimName;
  emails: ScimEmail[];
  attrs: LicenseAttrs;
}

/** A user as stored: the users row, its SCIM row (absent for users made by the admin API), license and groups. */
export interface UserRecord {
  id: string;
  displayName: string | null;
  email: string | null;
  team: string | null;
  createdAt: string;
  pool: string | null;
  addons: string[];
  groups: { id: string; displayName: string }[];
  scim: {
    userName: string;
    externalId: string | null;
    active: boolean;
    name: ScimName;
    emails: ScimEmail[];
    attrs: LicenseAttrs;
    version: number;
    updatedAt: string;
  } | null;
}

const NAME_KEYS = ["formatted", "familyName", "givenName", "middleName", "honorificPrefix", "honorificSuffix"] as const;
const emailSchema = z.string().trim().email().max(320);

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Attribute names are case-insensitive in SCIM (RFC 7643 section 2.1). */
function get(obj: Record<string, unknown>, key: string): unknown {
  if (key in obj) return obj[key];
  const lower = key.toLowerCase();
  for (const [k, v] of Object.entries(obj)) if (k.toLowerCase() === lower) return v;
  return undefined;
}

function optString(obj: Record<string, unknown>, key: string, max: number): string | null {
  const v = get(obj, key);
  if (v === undefined || v === null || v === "") return null;
  if (typeof v !== "string") throw invalidValue(`${key} must be a string.`);
  if (v.length > max) throw invalidValue(`${key} is longer than ${max} characters.`);
  return v;
}

/** Entra ID sends booleans as the strings "True" and "False". */
export function parseBoolean(v: unknown, key: string, fallback: boolean): boolean {
  if (v === undefined || v === null) return fallback;
  if (typeof v === "boolean") return v;
  if (typeof v === "string" && /^(true|false)$/i.test(v.trim())) return v.trim().toLowerCase() === "true";
  throw invalidValue(`${key} must be a boolean.`);
}

/** The extension object, from its nested form or flattened `urn…:User:attr` keys. */
function extensionOf(body: Record<string, unknown>): Record<string, unknown> {
  const nested = get(body, SEATKEEPER_SCHEMA);
  const out: Record<string, unknown> = isObject(nested) ? { ...nested } : {};
  const prefix = `${SEATKEEPER_SCHEMA}:`.toLowerCase();
  for (const [k, v] of Object.entries(body)) if (k.toLowerCase().startsWith(prefix)) out[k.slice(prefix.length)] = v;
  return out;
}

export function parseLicenseAttrs(ext: Record<string, unknown>): LicenseAttrs {
  const pool = get(ext, "pool");
  if (pool !== undefined && pool !== null && pool !== "" && (typeof pool !== "string" || !isPoolId(pool))) {
    throw invalidValue(`${SEATKEEPER_SCHEMA}:pool must be a pool id such as "elite-concurrent".`);
  }
  const team = get(ext, "team");
  if (team !== undefined && team !== null && team !== "" && (typeof team !== "string" || !TEAM_PATTERN.test(team))) {
    throw invalidValue(`${SEATKEEPER_SCHEMA}:team must match ^[A-Za-z0-9_.-]{1,64}$.`);
  }
  const raw = get(ext, "addons");
  // A list, or one comma-separated string (what an identity provider with only string attributes can send).
  const list: unknown[] =
    raw === undefined || raw === null || raw === "" ? [] : Array.isArray(raw) ? raw : typeof raw === "string" ? raw.split(",") : [raw];
  const addons = new Set<PerSeatProduct>();
  for (const item of list) {
    const value = isObject(item) ? get(item, "value") : item;
    const name = typeof value === "string" ? value.trim() : value;
    if (typeof name !== "string" || !isPerSeatProduct(name)) throw invalidValue(`${SEATKEEPER_SCHEMA}:addons holds ${JSON.stringify(name)}, which is not a per-seat add-on.`);
    addons.add(name);
  }
  return { pool: (pool || null) as PoolId | null, addons: [...addons].sort(), team: (team || null) as string | null };
}

/** A User resource from a POST or PUT body, or from the resource a PATCH left. */
export function parseUser(body: unknown): ScimUserInput {
  if (!isObject(body)) throw new ScimError(400, "The body must be a JSON object.", "invalidSyntax");
  const userName = get(body, "userName");
  if (typeof userName !== "string" || userName.trim() === "") throw invalidValue("userName is required.");
  if (userName.length > 128) throw invalidValue("userName is longer than 128 characters.");
  const nameIn = get(body, "name");
  const name: ScimName = {};
  if (isObject(nameIn)) for (const k of NAME_KEYS) {
    const v = optString(nameIn, k, 200);
    if (v !== null) name[k] = v;
  }
  const emailsIn = get(body, "emails");
  if (emailsIn !== undefined && emailsIn !== null && !Array.isArray(emailsIn)) throw invalidValue("emails must be a list.");
  const emails: ScimEmail[] = [];
  for (const e of (emailsIn as unknown[] | undefined) ?? []) {
    if (!isObject(e)) throw invalidValue("each of emails must be an object with a value.");
    const value = get(e, "value");
    if (value === undefined || value === null || value === "") continue;
    if (!emailSchema.safeParse(value).success) throw invalidValue(`emails holds ${JSON.stringify(value)}, which is not an e-mail address.`);
    const type = optString(e, "type", 40);
    emails.push({ value: (value as string).trim(), ...(type ? { type } : {}), ...(parseBoolean(get(e, "primary"), "emails.primary", false) ? { primary: true } : {}) });
  }
  if (emails.length > 20) throw invalidValue("at most 20 emails.");
  const formatted = name.formatted ?? ([name.givenName, name.familyName].filter(Boolean).join(" ") || null);
  return {
    userName: userName.trim(),
    externalId: optString(body, "externalId", 256),
    active: parseBoolean(get(body, "active"), "active", true),
    displayName: optString(body, "displayName", 200) ?? formatted,
    name,
    emails,
    attrs: parseLicenseAttrs(extensionOf(body)),
  };
}

/** The e-mail the users row keeps: the primary one, else the first. */
export const primaryEmail = (emails: ScimEmail[]): string | null => (emails.find((e) => e.primary) ?? emails[0])?.value ?? null;

export interface Meta {
  base: string;
}

const version = (n: number) => `W/"${n}"`;

/** The User resource as served: the extension shows the license as it is, whatever set it. */
export function renderUser(u: UserRecord, base: string) {
  const s = u.scim;
  const emails = s ? s.emails : u.email ? [{ value: u.email, primary: true }] : [];
  return {
    schemas: [USER_SCHEMA, SEATKEEPER_SCHEMA],
    id: u.id,
    ...(s?.externalId ? { externalId: s.externalId } : {}),
    userName: s?.userName ?? u.id,
    ...(s && Object.keys(s.name).length ? { name: s.name } : {}),
    ...(u.displayName ? { displayName: u.displayName } : {}),
    ...(emails.length ? { emails } : {}),
    active: s?.active ?? true,
    groups: u.groups.map((g) => ({ value: g.id, display: g.displayName, $ref: `${base}/Groups/${g.id}` })),
    [SEATKEEPER_SCHEMA]: { pool: u.pool, team: u.team, addons: u.addons },
    meta: {
      resourceType: "User",
      created: u.createdAt,
      lastModified: s?.updatedAt ?? u.createdAt,
      location: `${base}/Users/${encodeURIComponent(u.id)}`,
      version: version(s?.version ?? 1),
    },
  };
}

/**
 * The resource a PATCH is applied to: like `renderUser`, but its extension holds what the identity
 * provider set (not the license as it is), so a PATCH edits the provider's own values.
 */
export function patchableUser(u: UserRecord, base: string) {
  const out = renderUser(u, base) as Record<string, unknown>;
  const attrs = u.scim?.attrs ?? { pool: null, addons: [], team: null };
  out[SEATKEEPER_SCHEMA] = { ...(attrs.pool ? { pool: attrs.pool } : {}), ...(attrs.team ? { team: attrs.team } : {}), addons: attrs.addons };
  delete out.groups; // read-only: changed through Groups
  return out;
}

// ------------------------------------------------------------------ groups

export interface GroupInput {
  displayName: string;
  externalId: string | null;
  /** user ids, or null when the body does not mention members (PUT without members keeps none). */
  members: string[];
}

export interface GroupRecord {
  id: string;
  displayName: string;
  externalId: string | null;
  version: number;
  createdAt: string;
  updatedAt: string;
  members: { id: string; userName: string }[];
}

export function parseGroup(body: unknown): GroupInput {
  if (!isObject(body)) throw new ScimError(400, "The body must be a JSON object.", "invalidSyntax");
  const displayName = get(body, "displayName");
  if (typeof displayName !== "string" || displayName.trim() === "") throw invalidValue("displayName is required.");
  if (displayName.length > 256) throw invalidValue("displayName is longer than 256 characters.");
  const membersIn = get(body, "members");
  if (membersIn !== undefined && membersIn !== null && !Array.isArray(membersIn)) throw invalidValue("members must be a list.");
  const members = new Set<string>();
  for (const m of (membersIn as unknown[] | undefined) ?? []) {
    const value = isObject(m) ? get(m, "value") : undefined;
    if (typeof value !== "string" || value === "") throw invalidValue("each member needs a value (a user id).");
    members.add(value);
  }
  if (members.size > 10_000) throw new ScimError(400, "A group may have at most 10,000 members.", "tooMany");
  return { displayName: displayName.trim(), externalId: optString(body, "externalId", 256), members: [...members] };
}

export function renderGroup(g: GroupRecord, base: string, withMembers = true) {
  return {
    schemas: [GROUP_SCHEMA],
    id: g.id,
    displayName: g.displayName,
    ...(g.externalId ? { externalId: g.externalId } : {}),
    ...(withMembers ? { members: g.members.map((m) => ({ value: m.id, display: m.userName, $ref: `${base}/Users/${encodeURIComponent(m.id)}` })) } : {}),
    meta: { resourceType: "Group", created: g.createdAt, lastModified: g.updatedAt, location: `${base}/Groups/${g.id}`, version: version(g.version) },
  };
}
