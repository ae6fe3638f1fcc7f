// The Haraka configurations the bench compares. Each runs the same drain program (except the
// discard ceiling, which runs none) behind the same Haraka, recipient check and log level.
import type { HarakaOptions } from '../e2e/harness.js'

export const BENCH_DOMAIN = 'bench.test'

export interface Mode {
  /** Short name used in the table and in ratios, e.g. "a". */
  readonly name: string
  readonly label: string
  readonly haraka: (drain: string) => Pick<HarakaOptions, 'plugins' | 'ini' | 'config' | 'env'>
}

/**
 * pipe_transport with the given spawn_helpers. max_concurrency is above the highest bench
 * concurrency because qmail-queue has no such limit.
 */
const pipeTransport =
  (spawnHelpers: number) =>
  (drain: string): ReturnType<Mode['haraka']> => ({
    plugins: ['rcpt_to.in_host_list', 'pipe_transport'],
    ini: `[main]\nspawn_helpers = ${spawnHelpers}\n\n[bench]\nprogram_name = ${drain}\ndomain = ${BENCH_DOMAIN}\nmax_concurrency = 256\n`,
  })

/** The comparison's references: the table prints every mode's ratio to these two. */
export const QMAIL_QUEUE = 'b'
export const DISCARD = 'c'

/** Spawn helpers in mode a2: the default on this 2-core machine (one per core). */
const HELPERS = 2

export const MODES: readonly Mode[] = [
  { name: 'a', label: 'pipe_transport, spawn_helpers = 0', haraka: pipeTransport(0) },
  { name: 'a2', label: `pipe_transport, spawn_helpers = ${HELPERS}`, haraka: pipeTransport(HELPERS) },
  {
    name: QMAIL_QUEUE,
    label: 'queue/qmail-queue',
    haraka: (drain) => ({ plugins: ['rcpt_to.in_host_list', 'queue/qmail-queue'], ini: '', config: { 'qmail-queue.path': drain } }),
  },
  {
    name: DISCARD,
    label: 'queue/discard (ceiling)',
    // discard only pretends to deliver when told to; this variable tells it for every message.
    haraka: () => ({ plugins: ['rcpt_to.in_host_list', 'queue/discard'], ini: '', env: { YES_REALLY_DO_DISCARD: '1' } }),
  },
]
