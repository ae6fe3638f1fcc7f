// The queue hook's transactions not yet answered: at a graceful shutdown the journal closes only
// once they have settled, so that the runs Haraka ended release their claims first.

export class InFlight {
  private readonly pending = new Set<Promise<unknown>>()

  /** Returns `work`, kept until it settles. */
  track<T>(work: Promise<T>): Promise<T> {
    this.pending.add(work)
    void work.finally(() => this.pending.delete(work)).catch(() => undefined)
    return work
  }

  settled(): Promise<unknown> {
    return Promise.allSettled(this.pending)
  }
}
