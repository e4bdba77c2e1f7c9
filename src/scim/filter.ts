import { sql, SQL } from "drizzle-orm";
import { parse, type Filter } from "scim2-parse-filter";
import { ScimError } from "./protocol";

/**
 * SCIM filters (RFC 7644 section 3.4.2.2), parsed by scim2-parse-filter and turned into SQL over
 * the aliases of src/db/scim.ts (u = users, s = scim_users, g = scim_groups). Supported: `eq` on
 * the attributes identity providers look users and groups up by, joined with `and` / `or`.
 * Anything else answers 400 invalidFilter, never a silently wrong list.
 */

const invalidFilter = (detail: string) => new ScimError(400, detail, "invalidFilter");

const URN_PREFIX = /^urn:ietf:params:scim:schemas:core:2\.0:(User|Group):/i;

function parsed(text: string): Filter {
  if (text.length > 1000) throw invalidFilter("The filter is longer than 1000 characters.");
  try {
    return parse(text);
  } catch (err) {
    throw invalidFilter(`The filter could not be parsed: ${(err as Error).message}`);
  }
}

type Leaf = (value: unknown) => SQL;

function stringValue(attr: string, value: unknown): string {
  if (typeof value !== "string") throw invalidFilter(`${attr} is compared with a string.`);
  return value;
}

const USER_ATTRS: Record<string, Leaf> = {
  id: (v) => sql`u.id = ${stringValue("id", v)}`,
  username: (v) => {
    const key = stringValue("userName", v).toLowerCase();
    return sql`(s.user_name_key = ${key} OR (s.user_id IS NULL AND lower(u.id) = ${key}))`;
  },
  externalid: (v) => sql`s.external_id = ${stringValue("externalId", v)}`,
  displayname: (v) => sql`u.display_name = ${stringValue("displayName", v)}`,
  "emails.value": (v) => {
    const key = stringValue("emails.value", v).toLowerCase();
    return sql`(EXISTS (SELECT 1 FROM json_each(s.emails) WHERE lower(json_extract(value, '$.value')) = ${key}) OR (s.user_id IS NULL AND lower(u.email) = ${key}))`;
  },
  active: (v) => {
    const b = typeof v === "boolean" ? v : typeof v === "string" && /^(true|false)$/i.test(v) ? v.toLowerCase() === "true" : null;
    if (b === null) throw invalidFilter("active is compared with true or false.");
    return sql`coalesce(s.active, 1) = ${b ? 1 : 0}`;
  },
};

const GROUP_ATTRS: Record<string, Leaf> = {
  id: (v) => sql`g.id = ${stringValue("id", v)}`,
  displayname: (v) => sql`g.display_name_key = ${stringValue("displayName", v).toLowerCase()}`,
  externalid: (v) => sql`g.external_id = ${stringValue("externalId", v)}`,
  "members.value": (v) =>
    sql`EXISTS (SELECT 1 FROM scim_group_members m WHERE m.account_id = g.account_id AND m.group_id = g.id AND m.user_id = ${stringValue("members.value", v)})`,
};

function toSql(f: Filter, attrs: Record<string, Leaf>, prefix = ""): SQL {
  switch (f.op) {
    case "and":
    case "or": {
      const parts = (f as { filters: Filter[] }).filters.map((x) => toSql(x, attrs, prefix));
      return sql`(${sql.join(parts, f.op === "and" ? sql` AND ` : sql` OR `)})`;
    }
    case "[]": {
      const vp = f as { attrPath: string; valFilter: Filter };
      return toSql(vp.valFilter, attrs, `${vp.attrPath.replace(URN_PREFIX, "")}.`);
    }
    case "eq": {
      const cmp = f as { attrPath: string; compValue: unknown };
      const name = `${prefix}${cmp.attrPath.replace(URN_PREFIX, "")}`.toLowerCase();
      const leaf = attrs[name];
      if (!leaf) throw invalidFilter(`Filtering on ${prefix}${cmp.attrPath} is not supported; use ${Object.keys(attrs).join(", ")}.`);
      return leaf(cmp.compValue);
    }
    default:
      throw invalidFilter(`The operator "${f.op}" is not supported; use eq, and, or.`);
  }
}

export const userFilter = (text: string | undefined): SQL | null => (text ? toSql(parsed(text), USER_ATTRS) : null);
export const groupFilter = (text: string | undefined): SQL | null => (text ? toSql(parsed(text), GROUP_ATTRS) : null);
