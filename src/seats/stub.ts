import type { Env } from "../env";

/** The Durable Object of one account (named by the account id, so every edge reaches the same one). */
export const seatsOf = (env: Env, accountId: string) => env.SEATS.getByName(accountId);
