import { scimPatch, ScimError as LibError, type ScimPatchOperation } from "scim-patch";
import { PATCH_SCHEMA, ScimError, SEATKEEPER_SCHEMA, ENTERPRISE_SCHEMA } from "./protocol";

/**
 * PATCH (RFC 7644 section 3.5.2) applied by scim-patch to the resource as we render it; the
 * result is then read back like a PUT body, so PATCH and PUT share one set of checks.
 *
 * Before handing the operations over we smooth what identity providers actually send:
 * - `op` in any case (Entra ID sends "Replace", "Add", "Remove");
 * - a path-less value keyed by a whole extension URN (`{"urn:…:User": {"pool": …}}`) becomes one
 *   operation per attribute, since the library splits keys on the "." of "2.0";
 * - a path-less value key that is itself a filtered path (`"emails[type eq \"work\"].value"`, as
 *   Entra ID sends) becomes its own operation with that path;
 * - a remove with a value list (`{"op":"Remove","path":"members","value":[{"value":"id"}]}`)
 *   becomes one filtered remove per value, so it matches the stored item whatever else it holds;
 * - at most 1,000 operations.
 */

const MAX_OPERATIONS = 1000;
const EXTENSIONS = [SEATKEEPER_SCHEMA, ENTERPRISE_SCHEMA];

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

export function patchOperations(body: unknown): ScimPatchOperation[] {
  if (!isObject(body)) throw new ScimError(400, "The body must be a PatchOp message.", "invalidSyntax");
  const schemas = body.schemas;
  if (!Array.isArray(schemas) || !schemas.includes(PATCH_SCHEMA)) throw new ScimError(400, `schemas must include ${PATCH_SCHEMA}.`, "invalidSyntax");
  const ops = body.Operations ?? body.operations;
  if (!Array.isArray(ops) || ops.length === 0) throw new ScimError(400, "Operations must be a non-empty list.", "invalidSyntax");
  if (ops.length > MAX_OPERATIONS) throw new ScimError(400, `At most ${MAX_OPERATIONS} operations.`, "tooMany");
  const out: ScimPatchOperation[] = [];
  for (const op of ops) {
    if (!isObject(op) || typeof op.op !== "string") throw new ScimError(400, "Each operation needs an op.", "invalidSyntax");
    const name = op.op.toLowerCase();
    if (name !== "add" && name !== "replace" && name !== "remove") throw new ScimError(400, `Unknown op "${op.op}"; use add, replace or remove.`, "invalidSyntax");
    const path = typeof op.path === "string" && op.path.trim() !== "" ? op.path.trim() : undefined;
    if (op.path !== undefined && op.path !== null && typeof op.path !== "string") throw new ScimError(400, "path must be a string.", "invalidPath");
    if (name === "remove" && !path) throw new ScimError(400, "A remove needs a path.", "noTarget");
    if (!path && name !== "remove" && isObject(op.value)) {
      // Split whole-extension keys into one operation per attribute.
      const rest: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(op.value)) {
        const ext = EXTENSIONS.find((e) => e.toLowerCase() === k.toLowerCase());
        if (ext && isObject(v)) for (const [attr, value] of Object.entries(v)) out.push({ op: name, path: `${ext}:${attr}`, value } as ScimPatchOperation);
        else if (k.includes("[")) out.push({ op: name, path: k, value: v } as ScimPatchOperation);
        else rest[k] = v;
      }
      if (Object.keys(rest).length) out.push({ op: name, value: rest } as ScimPatchOperation);
      continue;
    }
    if (name === "remove" && Array.isArray(op.value) && !path!.includes("[")) {
      for (const item of op.value) {
        const v = isObject(item) ? item.value : undefined;
        if (typeof v !== "string") throw new ScimError(400, "A remove value lists objects with a value.", "invalidValue");
        out.push({ op: "remove", path: `${path}[value eq ${JSON.stringify(v)}]` });
      }
      continue;
    }
    if (name === "remove") out.push({ op: "remove", path: path!, ...(op.value !== undefined ? { value: op.value } : {}) });
    else out.push({ op: name, ...(path ? { path } : {}), value: op.value } as ScimPatchOperation);
  }
  return out;
}

/** The resource after the operations, or a SCIM 400 naming what the library refused. */
export function applyPatch<T extends Record<string, unknown>>(resource: T, ops: ScimPatchOperation[]): T {
  const doc = { ...resource, meta: { created: new Date(0), lastModified: new Date(0) } } as unknown as Parameters<typeof scimPatch>[0];
  try {
    const patched = scimPatch(doc, ops, { mutateDocument: false, treatMissingAsAdd: true }) as unknown as T;
    return { ...patched, meta: resource.meta };
  } catch (err) {
    if (err instanceof LibError) {
      const scimType = (err as { scimType?: string }).scimType;
      const known = ["invalidPath", "noTarget", "invalidValue", "invalidSyntax", "mutability"] as const;
      throw new ScimError(400, err.message, known.find((k) => k === scimType) ?? "invalidValue");
    }
    throw err;
  }
}
