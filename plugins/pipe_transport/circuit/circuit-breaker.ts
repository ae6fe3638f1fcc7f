// The circuit breaker: when an instance's back end is down (RT, a database behind the program),
// every delivery would run its program to the timeout, holding a slot of max_concurrency, and the
// sender would send the whole message again only to fail again. After `failures` consecutive runs
// that timed out, could not start or failed temporarily, the circuit opens: RCPT answers 451 at
// once (rcpt/), and a transaction already past RCPT gets 450 without its program running (queue/).
// After the wait, one probe delivery at a time may run: a probe the program answers closes the
// circuit, a failed one opens it again for twice the wait, up to the longest wait.
//
// A permanent answer (5xx) means the program ran and decided: the back end is up. It resets the
// count and never opens the circuit, and the breaker itself only ever defers (4xx).
//
// The state lives in each Haraka process (each cluster worker has its own circuits), like the
// slots of max_concurrency.
import type { Instance } from '../settings/vocabulary.js'
import { once } from '../util/once.js'

/** What a finished run says of its back end. */
export type RunHealth =
  /** The program ran and gave its verdict: delivered, or refused for good. */
  | 'answered'
  /** Timed out, could not start, was killed by a signal, or exited with a temporary failure. */
  | 'failed'
  /** Says nothing of the back end: no slot in time, Haraka stopping, a refused address, a loop. */
  | 'neutral'

export interface CircuitChange {
  readonly instance: string
  /** The route data of a `circuit_breaker_scope = route_data` circuit; undefined for the instance's one. */
  readonly routeData: string | undefined
  readonly change: 'opened' | 'closed'
  /** Opened: the consecutive failed runs that opened it. */
  readonly failures: number
  /** Opened: how long RCPT is answered 451 before a probe may run. Closed: how long it was open. */
  readonly seconds: number
}

/** Lets one run through the circuit; its health must be told once the run has ended. */
export interface CircuitPass {
  settle(health: RunHealth): void
}

class Circuit {
  /** Consecutive failed runs while closed. */
  failures = 0
  /** When it opened (ms); 0 while closed. */
  openedAt = 0
  /** No run (and no RCPT) before this time while open. */
  openUntil = 0
  waitMs = 0
  probing = false

  constructor(
    /** Its key in `circuits` (keyOf). */
    readonly key: string,
    readonly instance: string,
    readonly routeData: string | undefined,
  ) {}

  get isOpen(): boolean {
    return this.openedAt !== 0
  }

  /** Open, and a probe may not start now: its wait has not run out, or a probe is running. */
  refuses(now: number): boolean {
    return this.isOpen && (now < this.openUntil || this.probing)
  }
}

const NO_CIRCUIT: CircuitPass = { settle: () => undefined }

/** Circuits that have seen a failure, by instance (and route data, by scope). Closed ones without failures go. */
const circuits = new Map<string, Circuit>()
const listeners: ((change: CircuitChange) => void)[] = []

/** Who hears that a circuit opened or closed: the log (wired by the entry), the metrics. */
export function onCircuitChange(hear: (change: CircuitChange) => void): void {
  listeners.push(hear)
}

/** At RCPT: false while the circuit of this instance (and route data) refuses new mail. */
export function circuitAdmits(instance: Instance, routeData: string, now = Date.now()): boolean {
  return !instance.circuitBreaker || !circuits.get(keyOf(instance, routeData))?.refuses(now)
}

/**
 * Before a run takes its slot: a pass (the probe's, when the circuit is open and due for one), or
 * undefined when the circuit refuses this run.
 */
export function enterCircuit(instance: Instance, routeData: string, now = Date.now()): CircuitPass | undefined {
  const config = instance.circuitBreaker
  if (!config) return NO_CIRCUIT
  const key = keyOf(instance, routeData)
  const found = circuits.get(key)
  if (found?.refuses(now)) return undefined
  if (found?.isOpen) {
    found.probing = true
    return { settle: once((health: RunHealth) => settleProbe(found, health, config.maxWaitSeconds)) }
  }
  const settle = once((health: RunHealth) => {
    if (health === 'neutral') return
    const circuit =
      circuits.get(key) ?? new Circuit(key, instance.name, config.scope === 'route_data' ? routeData : undefined)
    // Runs that began before the circuit opened end while it is open: only its probe decides then.
    if (circuit.isOpen) return
    if (health === 'answered') {
      circuits.delete(key)
      return
    }
    circuit.failures++
    circuits.set(key, circuit)
    if (circuit.failures >= config.failures) open(circuit, config.waitSeconds * 1000)
  })
  return { settle }
}

/** How many circuits of each instance are open in this process, for the metrics. */
export function openCircuits(): Map<string, number> {
  const counts = new Map<string, number>()
  for (const circuit of circuits.values())
    if (circuit.isOpen) counts.set(circuit.instance, (counts.get(circuit.instance) ?? 0) + 1)
  return counts
}

function settleProbe(circuit: Circuit, health: RunHealth, maxWaitSeconds: number): void {
  circuit.probing = false
  if (health === 'neutral') return
  if (health === 'failed') {
    circuit.waitMs = Math.min(circuit.waitMs * 2, maxWaitSeconds * 1000)
    circuit.openUntil = Date.now() + circuit.waitMs
    return
  }
  const seconds = Math.round((Date.now() - circuit.openedAt) / 1000)
  circuits.delete(circuit.key)
  tell({ instance: circuit.instance, routeData: circuit.routeData, change: 'closed', failures: 0, seconds })
}

function open(circuit: Circuit, waitMs: number): void {
  const now = Date.now()
  circuit.openedAt = now
  circuit.waitMs = waitMs
  circuit.openUntil = now + waitMs
  tell({
    instance: circuit.instance,
    routeData: circuit.routeData,
    change: 'opened',
    failures: circuit.failures,
    seconds: waitMs / 1000,
  })
}

function tell(change: CircuitChange): void {
  for (const hear of listeners) hear(change)
}

function keyOf(instance: Instance, routeData: string): string {
  return instance.circuitBreaker?.scope === 'route_data' ? `${instance.name}\0${routeData}` : instance.name
}
