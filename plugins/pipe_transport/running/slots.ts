// max_concurrency: how many programs one instance may run at once in this Haraka process.
// Deliveries beyond it wait in arrival order, each for at most its own deadline.

export class Slots {
  private active = 0
  private readonly waiting: (() => void)[] = []

  constructor(private limit: number) {}

  /** Deliveries holding a slot now: their programs are running. */
  get holding(): number {
    return this.active
  }

  /** Deliveries waiting for a slot. */
  get queued(): number {
    return this.waiting.length
  }

  /** A reload may change the limit; deliveries already running keep their slot. */
  setLimit(limit: number): void {
    this.limit = limit
    this.wakeWaiters()
  }

  /** Resolves true with a slot held (call release() once), or false when none came in time. */
  acquire(timeoutMs: number): Promise<boolean> {
    if (this.active < this.limit && this.waiting.length === 0) {
      this.active++
      return Promise.resolve(true)
    }
    return new Promise((resolve) => {
      const grant = (): void => {
        clearTimeout(timer)
        this.active++
        resolve(true)
      }
      const timer = setTimeout(() => {
        const index = this.waiting.indexOf(grant)
        if (index >= 0) this.waiting.splice(index, 1)
        resolve(false)
      }, timeoutMs)
      this.waiting.push(grant)
    })
  }

  release(): void {
    this.active--
    this.wakeWaiters()
  }

  private wakeWaiters(): void {
    while (this.active < this.limit) {
      const next = this.waiting.shift()
      if (!next) return
      next()
    }
  }
}

/** One Slots per instance name, kept across reloads so that running deliveries stay counted. */
const byInstance = new Map<string, Slots>()

export function slotsFor(instance: string, limit: number): Slots {
  let slots = byInstance.get(instance)
  if (!slots) {
    slots = new Slots(limit)
    byInstance.set(instance, slots)
  } else {
    slots.setLimit(limit)
  }
  return slots
}

/** Every instance's slots, for the metrics. */
export function allSlots(): ReadonlyMap<string, Slots> {
  return byInstance
}
