import { app } from "./app";
import type { Env } from "./env";

export { AccountSeats } from "./seats/account-seats";

export default {
  fetch: app.fetch,
} satisfies ExportedHandler<Env>;
