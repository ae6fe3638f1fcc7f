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
 * pipe_transport with its default settings, plus `extra` instance keys. max_concurrency is above
 * the highest bench concurrency because qmail-queue has no such limit.
 */
const pipeTransport =
  (extra = '', env: Readonly<Record<string, string>> = {}, program?: string) =>
  (drain: string): ReturnType<Mode['haraka']> => ({
    plugins: ['rcpt_to.in_host_list', 'pipe_transport'],
    ini: `[bench]\nprogram_name = ${program ?? drain}\ndomain = ${BENCH_DOMAIN}\nmax_concurrency = 256\n${extra}`,
    env,
  })

/** The comparison's references: the table prints every mode's ratio to these two. */
export const PIPE_TRANSPORT = 'a'
export const QMAIL_QUEUE = 'b'
export const DISCARD = 'c'

/** Modes that need root: a program run as another user. */
const asRoot = process.getuid?.() === 0

/**
 * In this order: pipe_transport, then its two references, so that each round measures the modes
 * whose ratio is the goal right after one another (the bench rotates the order by one per round).
 */
export const MODES: readonly Mode[] = [
  { name: PIPE_TRANSPORT, label: 'pipe_transport (posix_spawn)', haraka: pipeTransport() },
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
  { name: 'af', label: 'pipe_transport, child_process', haraka: pipeTransport('', { PIPE_TRANSPORT_SPAWNER: 'child_process' }) },
  ...(asRoot
    ? [
        // user/group: posix_spawn cannot change identity, so such an instance forks (child_process).
        { name: 'au', label: 'pipe_transport, user = nobody (fork)', haraka: pipeTransport('user = nobody\ngroup = nogroup\n') },
        // The alternative measured against it: util-linux's setpriv as the program posix_spawn starts.
        {
          name: 'as',
          label: 'pipe_transport, setpriv nobody (spawn)',
          haraka: (drain: string) =>
            pipeTransport(`arguments = --reuid=nobody --regid=nogroup --clear-groups -- ${drain}\n`, {}, '/usr/bin/setpriv')(drain),
        },
      ]
    : []),
]
