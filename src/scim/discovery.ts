import { PER_SEAT_PRODUCTS, POOL_IDS } from "../domain/catalog";
import { GROUP_SCHEMA, SEATKEEPER_SCHEMA, USER_SCHEMA } from "./protocol";

/** The discovery documents of RFC 7644 section 4: what this service provider supports. */

export const MAX_RESULTS = 200;

export const serviceProviderConfig = (base: string) => ({
  schemas: ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
  patch: { supported: true },
  bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
  filter: { supported: true, maxResults: MAX_RESULTS },
  changePassword: { supported: false },
  sort: { supported: false },
  etag: { supported: false },
  authenticationSchemes: [
    {
      type: "oauthbearertoken",
      name: "API key",
      description: "An account API key with the provisioning (or admin) scope, as `Authorization: Bearer sk_…`.",
      primary: true,
    },
  ],
  meta: { resourceType: "ServiceProviderConfig", location: `${base}/ServiceProviderConfig` },
});

export const resourceTypes = (base: string) => [
  {
    schemas: ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
    id: "User",
    name: "User",
    endpoint: "/Users",
    description: "A contact-center user; the extension carries the license",
    schema: USER_SCHEMA,
    schemaExtensions: [{ schema: SEATKEEPER_SCHEMA, required: false }],
    meta: { resourceType: "ResourceType", location: `${base}/ResourceTypes/User` },
  },
  {
    schemas: ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
    id: "Group",
    name: "Group",
    endpoint: "/Groups",
    description: "A group; provisioning rules map groups to a pool, a team or add-ons",
    schema: GROUP_SCHEMA,
    meta: { resourceType: "ResourceType", location: `${base}/ResourceTypes/Group` },
  },
];

type Attr = Record<string, unknown>;
const attr = (name: string, type: string, extra: Attr = {}): Attr => ({
  name,
  type,
  multiValued: false,
  required: false,
  caseExact: false,
  mutability: "readWrite",
  returned: "default",
  uniqueness: "none",
  ...extra,
});

const sub = (names: string[]) => names.map((n) => attr(n, "string"));

export const schemas = (base: string) => [
  {
    schemas: ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
    id: USER_SCHEMA,
    name: "User",
    description: "User account",
    attributes: [
      attr("userName", "string", { required: true, uniqueness: "server", description: "Unique (case-insensitive); at creation it becomes the user id, so it must match ^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$" }),
      attr("name", "complex", { subAttributes: sub(["formatted", "familyName", "givenName", "middleName", "honorificPrefix", "honorificSuffix"]) }),
      attr("displayName", "string"),
      attr("active", "boolean"),
      attr("emails", "complex", { multiValued: true, subAttributes: [...sub(["value", "type"]), attr("primary", "boolean")] }),
      attr("groups", "complex", { multiValued: true, mutability: "readOnly", subAttributes: sub(["value", "$ref", "display"]) }),
      attr("externalId", "string", { caseExact: true }),
    ],
    meta: { resourceType: "Schema", location: `${base}/Schemas/${USER_SCHEMA}` },
  },
  {
    schemas: ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
    id: GROUP_SCHEMA,
    name: "Group",
    description: "Group",
    attributes: [
      attr("displayName", "string", { required: true, uniqueness: "server" }),
      attr("members", "complex", { multiValued: true, subAttributes: sub(["value", "$ref", "display"]) }),
      attr("externalId", "string", { caseExact: true }),
    ],
    meta: { resourceType: "Schema", location: `${base}/Schemas/${GROUP_SCHEMA}` },
  },
  {
    schemas: ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
    id: SEATKEEPER_SCHEMA,
    name: "SeatkeeperUser",
    description: "The user's contact-center license, set by the identity provider. Reads show the license as it is; writes set the provider's own values, which group rules do not override.",
    attributes: [
      attr("pool", "string", { caseExact: true, canonicalValues: POOL_IDS, description: "The license pool, e.g. elite-concurrent; empty revokes what the provider set" }),
      attr("team", "string", { caseExact: true, description: "The user's team, ^[A-Za-z0-9_.-]{1,64}$" }),
      attr("addons", "string", { multiValued: true, caseExact: true, canonicalValues: PER_SEAT_PRODUCTS, description: "Per-seat add-ons; a comma-separated string is accepted too" }),
    ],
    meta: { resourceType: "Schema", location: `${base}/Schemas/${SEATKEEPER_SCHEMA}` },
  },
];
