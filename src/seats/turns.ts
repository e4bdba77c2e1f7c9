/**
 * One at a time across every Worker: SCIM writes read D1, work out the license changes and send
 * them to this object, so two at once could each read the same user and the second undo the
 * first (decision 230). A write takes a turn here first and gives it back when done; the next
 * waiter (first come, first served) goes on. A turn not given back (its Worker died) ends after
 * `leaseMs`, so one lost Worker stalls the account's provisioning for at most that long.
 */
export class Turns {
  private current: { token: string; timer: ReturnType<typeof setTimeout> } | null = null;
  private readonly waiting: { token: string; go: () => void }[] = [];

  constructor(private readonly leaseMs: number) {}

  /** With `done`, gives that turn back (a stale or unknown token changes nothing); else waits for a turn and returns its token. */
  async pass(done?: string): Promise<string | null> {
    if (done !== undefined) {
      if (this.current?.token === done) this.next();
      return null;
    }
    const token = crypto.randomUUID();
    if (this.current === null) this.hold(token);
    else await new Promise<void>((go) => this.waiting.push({ token, go }));
    return token;
  }

  /** Waiting writes, for tests. */
  get queued(): number {
    return this.waiting.length;
  }

  private next(): void {
    clearTimeout(this.current!.timer);
    this.current = null;
    const waiter = this.waiting.shift();
    if (!waiter) return;
    this.hold(waiter.token);
    waiter.go();
  }

  private hold(token: string): void {
    this.current = { token, timer: setTimeout(() => this.current?.token === token && this.next(), this.leaseMs) };
  }
}
