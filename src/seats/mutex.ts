/**
 * A promise-chain lock. A Durable Object's input gate does not hold across a D1 await, so an admin
 * write that checks an invariant and then writes D1 holds this from the check until its in-memory
 * state is updated (docs/architecture.md#the-write-path). Checkouts never take it.
 */
export class Mutex {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(critical: () => Promise<T>): Promise<T> {
    const result = this.tail.then(critical);
    this.tail = result.catch(() => undefined);
    return result;
  }
}
