import { drizzle } from "drizzle-orm/d1";
import * as schema from "./schema";

export type Db = ReturnType<typeof database>;

/** The Drizzle client over the D1 binding. Cheap to create: one per request or per DO. */
export const database = (d1: D1Database) => drizzle(d1, { schema });
