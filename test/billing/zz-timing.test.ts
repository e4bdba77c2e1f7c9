import { it } from "vitest";
import { agentTokens, checkout, licensedUsers, newAccount, putPool, setClock } from "../helpers";
it("timing", async () => {
  let t = Date.now();
  const lap = (l: string) => { console.log(l, Date.now() - t); t = Date.now(); };
  const f = await newAccount({ lease_ttl_seconds: 3600 }); lap("account");
  await putPool(f, "premium-concurrent", 100); lap("pool");
  const users = await licensedUsers(f, "premium-concurrent", 10); lap("users");
  const tokens = await agentTokens(f, users); lap("tokens");
  await setClock(f, Date.now() + 86400000*40); lap("clock");
  for (const token of tokens) await checkout(token); lap("checkouts");
}, 60000);
