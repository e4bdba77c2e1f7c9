import type { AddonState } from "./addons";
import type { PerSeatProduct, PoolId } from "./catalog";

/**
 * `GrantLookup.earlierInPool` (./addons.ts) over the plain maps, by binary search: per pool and
 * product, the licensed members assigned it, sorted by (assignment order, user id), built on first
 * ask. The reference (`grantLookup`) walks every license per question, so telling N connected
 * agents what an add-on change did cost O(N × licenses); with this it is O(N log k) plus one
 * build per pool and product. The owner drops it on any change of licenses or assignments.
 */
export class AddonRanks {
  private readonly sorted = new Map<string, { order: number; user: string }[]>();

  constructor(private readonly state: Pick<AddonState, "licenses" | "assignments">) {}

  /** How many other licensed members of `pool` were assigned `product` before (order, user), up to `atMost`. */
  earlierInPool(pool: PoolId, product: PerSeatProduct, user: string, order: number, atMost: number): number {
    const key = `${pool}\n${product}`;
    let members = this.sorted.get(key);
    if (!members) this.sorted.set(key, (members = this.build(pool, product)));
    // The first entry not before (order, user).
    let lo = 0;
    let hi = members.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (before(members[mid], order, user)) lo = mid + 1;
      else hi = mid;
    }
    // Others only: the user's own entry counts when asked with a later order than its own.
    const own = this.state.licenses.get(user) === pool ? this.state.assignments.get(user)?.get(product) : undefined;
    if (own !== undefined && before({ order: own, user }, order, user)) lo -= 1;
    return Math.min(atMost, lo);
  }

  private build(pool: PoolId, product: PerSeatProduct): { order: number; user: string }[] {
    const out: { order: number; user: string }[] = [];
    for (const [user, userPool] of this.state.licenses) {
      if (userPool !== pool) continue;
      const order = this.state.assignments.get(user)?.get(product);
      if (order !== undefined) out.push({ order, user });
    }
    // Ties by user id as the reference compares them (`<` on strings, UTF-16 code units).
    return out.sort((a, b) => a.order - b.order || (a.user < b.user ? -1 : a.user > b.user ? 1 : 0));
  }
}

const before = (m: { order: number; user: string }, order: number, user: string) => m.order < order || (m.order === order && m.user < user);
