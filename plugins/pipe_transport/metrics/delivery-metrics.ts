// The Prometheus metrics of this Haraka process: defined here with prom-client, in a registry of
// the plugin's own, and counted by the stages (queue/, rcpt/) through the functions below. With
// metrics_listen unset, prom-client is never loaded, and each of these functions is one test of
// an undefined variable. Gauges of what is going on now (programs running and waiting, open
// circuits) are read when Prometheus scrapes, not kept up to date per delivery.
//
// Labels are bounded: instance names and outcome classes, never an address or route data. The
// instance's label is `instance_name`: Prometheus gives every series it scrapes an `instance`
// label of its own (the target's address), and would rename ours to `exported_instance`.
import cluster from 'node:cluster'
import type * as PromClient from 'prom-client'
import { onCircuitChange, openCircuits } from '../circuit/circuit-breaker.js'
import { allSlots } from '../running/slots.js'
import type { Settings, Verdict } from '../settings/vocabulary.js'
import { messageOf } from '../util/error-message.js'
import { failure, ok, type Result } from '../util/result.js'

/** A run's duration: from a few milliseconds (a local LDA) to the longest timeout. */
const RUN_SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300]
/** A slot wait: none at all, mostly; up to the instance's timeout when max_concurrency is reached. */
const WAIT_SECONDS_BUCKETS = [0.001, 0.01, 0.1, 0.5, 1, 5, 10, 30, 60, 300]

/** The class of reply a run made, as a label: `2xx`, `4xx`, `5xx`. */
const REPLY_CLASS: Readonly<Record<Verdict, string>> = { ok: '2xx', denysoft: '4xx', deny: '5xx' }
/** What became of a recipient in a transaction, by its answer. */
const RECIPIENT_RESULT: Readonly<Record<Verdict, string>> = { ok: 'delivered', denysoft: 'deferred', deny: 'refused' }

export type JournalOperation = 'begin' | 'delivered' | 'release'
export type JournalHit = 'already_delivered' | 'still_running'
export type CheckAnswer = 'exists' | 'unknown' | 'unsure'

function define(client: typeof PromClient, instances: () => readonly string[]) {
  const registry = new client.Registry()
  const registers = [registry]
  const instance = ['instance_name'] as const
  return {
    registry,
    runs: new client.Counter({
      name: 'pipe_transport_runs_total',
      help: 'Delivery runs by instance, the class of reply they made, and how they ended (exit, signal, timed-out, start-failed, no-slot, circuit-open, ...)',
      labelNames: ['instance_name', 'reply', 'ended'] as const,
      registers,
    }),
    recipients: new client.Counter({
      name: 'pipe_transport_recipients_total',
      help: 'Recipients of transactions by instance and answer: delivered (250), deferred (4xx), refused (5xx)',
      labelNames: ['instance_name', 'result'] as const,
      registers,
    }),
    runSeconds: new client.Histogram({
      name: 'pipe_transport_run_duration_seconds',
      help: 'How long delivery programs ran, from their start to their end',
      labelNames: instance,
      buckets: RUN_SECONDS_BUCKETS,
      registers,
    }),
    slotWaitSeconds: new client.Histogram({
      name: 'pipe_transport_slot_wait_seconds',
      help: 'How long deliveries waited for a slot of max_concurrency',
      labelNames: instance,
      buckets: WAIT_SECONDS_BUCKETS,
      registers,
    }),
    running: new client.Gauge({
      name: 'pipe_transport_programs_running',
      help: 'Delivery programs running now',
      labelNames: instance,
      registers,
      collect() {
        const slots = allSlots()
        for (const name of instances()) this.set({ instance_name: name }, slots.get(name)?.holding ?? 0)
      },
    }),
    waiting: new client.Gauge({
      name: 'pipe_transport_programs_waiting',
      help: 'Deliveries waiting now for a slot of max_concurrency',
      labelNames: instance,
      registers,
      collect() {
        const slots = allSlots()
        for (const name of instances()) this.set({ instance_name: name }, slots.get(name)?.queued ?? 0)
      },
    }),
    journalHits: new client.Counter({
      name: 'pipe_transport_journal_hits_total',
      help: 'Recipients the delivery journal settled without a run: already_delivered (250), still_running (4xx)',
      labelNames: ['instance_name', 'result'] as const,
      registers,
    }),
    journalErrors: new client.Counter({
      name: 'pipe_transport_journal_errors_total',
      help: 'Delivery journal operations that failed or timed out, by operation',
      labelNames: ['operation'] as const,
      registers,
    }),
    journalUnavailable: new client.Counter({
      name: 'pipe_transport_journal_unavailable_total',
      help: 'Transactions the journal could not answer for, by what journal_unavailable did: deliver or defer',
      labelNames: ['action'] as const,
      registers,
    }),
    checks: new client.Counter({
      name: 'pipe_transport_recipient_checks_total',
      help: 'check_program answers by instance: exists, unknown (550), unsure (450); from the program or the cache',
      labelNames: ['instance_name', 'answer', 'source'] as const,
      registers,
    }),
    dsnsSent: new client.Counter({
      name: 'pipe_transport_dsns_sent_total',
      help: 'Delivery status notifications sent for recipients that failed after the message was accepted',
      registers,
    }),
    circuitsOpen: new client.Gauge({
      name: 'pipe_transport_circuits_open',
      help: 'Circuit breakers open now (waiting, or running their probe), per instance',
      labelNames: instance,
      registers,
      collect() {
        const open = openCircuits()
        for (const name of instances()) this.set({ instance_name: name }, open.get(name) ?? 0)
      },
    }),
    circuitOpened: new client.Counter({
      name: 'pipe_transport_circuit_opened_total',
      help: 'Times a circuit breaker opened, per instance',
      labelNames: instance,
      registers,
    }),
    circuitRejections: new client.Counter({
      name: 'pipe_transport_circuit_rejections_total',
      help: 'Recipients an open circuit deferred: at rcpt (451), or at queue (450, no program run)',
      labelNames: ['instance_name', 'at'] as const,
      registers,
    }),
  }
}

type Metrics = ReturnType<typeof define>

/** Undefined while metrics are off. */
let metrics: Metrics | undefined
let instanceNames: readonly string[] = []

onCircuitChange(({ instance, change }) => {
  if (change === 'opened') metrics?.circuitOpened.inc({ instance_name: instance })
})

/**
 * Turns the metrics on or off as the settings say (at start and at each reload). In a cluster
 * worker, its registry is what it answers the master with. An error when prom-client cannot be
 * loaded: deliveries go on without metrics.
 */
export function useMetrics(settings: Settings): Result<void> {
  instanceNames = settings.instances.map((instance) => instance.name)
  if (!settings.metricsListen) {
    if (metrics && cluster.isWorker) answerMaster(new (promClient().Registry)())
    metrics = undefined
    return ok(undefined)
  }
  if (metrics) return ok(undefined)
  try {
    const client = promClient()
    metrics = define(client, () => instanceNames)
    if (cluster.isWorker) answerMaster(metrics.registry)
    return ok(undefined)
  } catch (err) {
    return failure(
      `metrics are off: prom-client cannot be loaded (${messageOf(err)}); npm install prom-client@~15.1.3 in the Haraka install dir`,
    )
  }
}

/** This process's own metrics (undefined while off): a single Haraka process serves these. */
export function metricsRegistry(): PromClient.Registry | undefined {
  return metrics?.registry
}

export function metricsOn(): boolean {
  return metrics !== undefined
}

/** One run: the reply class, how it ended, and its slot wait and program time where it had them. */
export function countRun(
  instance: string,
  verdict: Verdict,
  ended: string,
  waitSeconds: number | undefined,
  runSeconds: number | undefined,
): void {
  if (!metrics) return
  metrics.runs.inc({ instance_name: instance, reply: REPLY_CLASS[verdict], ended })
  if (waitSeconds !== undefined) metrics.slotWaitSeconds.observe({ instance_name: instance }, waitSeconds)
  if (runSeconds !== undefined) metrics.runSeconds.observe({ instance_name: instance }, runSeconds)
}

export function countRecipients(instance: string, verdict: Verdict, count: number): void {
  metrics?.recipients.inc({ instance_name: instance, result: RECIPIENT_RESULT[verdict] }, count)
}

export function countJournalHits(instance: string, result: JournalHit, count: number): void {
  metrics?.journalHits.inc({ instance_name: instance, result }, count)
}

export function countJournalError(operation: JournalOperation): void {
  metrics?.journalErrors.inc({ operation })
}

export function countJournalUnavailable(action: 'deliver' | 'defer'): void {
  metrics?.journalUnavailable.inc({ action })
}

export function countCheck(instance: string, answer: CheckAnswer, source: 'program' | 'cache'): void {
  metrics?.checks.inc({ instance_name: instance, answer, source })
}

/** One DSN sent to the envelope sender. */
export function countDsnSent(): void {
  metrics?.dsnsSent.inc()
}

export function countCircuitRejections(instance: string, at: 'rcpt' | 'queue', count: number): void {
  metrics?.circuitRejections.inc({ instance_name: instance, at }, count)
}

/**
 * prom-client, loaded only when metrics are on: it costs a Haraka process about 30 ms and 2.5 MB
 * of heap that a plugin without metrics has no use for.
 */
export function promClient(): typeof PromClient {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded only when metrics_listen is set
  return require('prom-client') as typeof PromClient
}

/**
 * A cluster worker answers the master's requests for its metrics (prom-client's
 * AggregatorRegistry listens for them once one exists in the process) with this registry.
 */
function answerMaster(registry: PromClient.Registry): void {
  const { AggregatorRegistry } = promClient()
  new AggregatorRegistry()
  AggregatorRegistry.setRegistries([registry])
}
