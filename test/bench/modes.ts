// The Haraka configurations the bench compares. Each runs the same drain program (except the
// discard ceiling, which runs none) behind the same Haraka, recipient check and log level.
import type { HarakaOptions } from '../e2e/harness.js'

export const BENCH_DOMAIN = 'bench.test'

/** What every mode is built with: the program, a scratch directory, the Redis server's URL, a free port for metrics. */
export interface ModeSetup {
  readonly drain: string
  readonly work: string
  readonly redisUrl: string
  readonly metricsPort: number
}

export interface Mode {
  /** Short name used in the table and in ratios, e.g. "a". */
  readonly name: string
  readonly label: string
  readonly haraka: (setup: ModeSetup) => Pick<HarakaOptions, 'plugins' | 'ini' | 'config' | 'env'>
  /** Measured at these connections only; every concurrency when absent. */
  readonly concurrencies?: readonly number[]
}

/**
 * pipe_transport with `main` keys in [main] (the journal: the test harness sets `journal = off`
 * where none is named) and `extra` instance keys. max_concurrency is above the highest bench
 * concurrency because qmail-queue has no such limit.
 */
const pipeTransport =
  (main: (setup: ModeSetup) => string, extra = '', env: Readonly<Record<string, string>> = {}, program?: string) =>
  (setup: ModeSetup): ReturnType<Mode['haraka']> => ({
    plugins: ['rcpt_to.in_host_list', 'pipe_transport'],
    ini: `[main]\n${main(setup)}\n[bench]\nprogram_name = ${program ?? setup.drain}\ndomain = ${BENCH_DOMAIN}\nmax_concurrency = 256\n${extra}`,
    env,
  })

/** The default: a local journal (here in the bench's scratch directory). */
const localJournal = (setup: ModeSetup): string =>
  `journal = local\njournal_directory = ${setup.work}/journal-${Math.random().toString(36).slice(2)}`
const noJournal = (): string => 'journal = off'

/** The comparison's references: the table prints every mode's ratio to these two. */
export const PIPE_TRANSPORT = 'a'
export const QMAIL_QUEUE = 'b'
export const DISCARD = 'c'
/** The metrics' cost: am is a0 with metrics_listen set (goal: am/a0 at least 0.97 in the same run). */
export const NO_METRICS = 'a0'
export const WITH_METRICS = 'am'

/** Modes that need root: a program run as another user. */
const asRoot = process.getuid?.() === 0

/**
 * In this order: pipe_transport, then its two references, so that each round measures the modes
 * whose ratio is the goal right after one another (the bench rotates the order by one per round).
 */
export const MODES: readonly Mode[] = [
  { name: PIPE_TRANSPORT, label: 'pipe_transport, defaults (journal local)', haraka: pipeTransport(localJournal) },
  {
    name: QMAIL_QUEUE,
    label: 'queue/qmail-queue',
    haraka: ({ drain }) => ({
      plugins: ['rcpt_to.in_host_list', 'queue/qmail-queue'],
      ini: '',
      config: { 'qmail-queue.path': drain },
    }),
  },
  {
    name: DISCARD,
    label: 'queue/discard (ceiling)',
    // discard only pretends to deliver when told to; this variable tells it for every message.
    haraka: () => ({
      plugins: ['rcpt_to.in_host_list', 'queue/discard'],
      ini: '',
      env: { YES_REALLY_DO_DISCARD: '1' },
    }),
  },
  // The spawner alone, without the journal; the variants after it change only how programs start.
  { name: NO_METRICS, label: 'pipe_transport, journal off', haraka: pipeTransport(noJournal) },
  {
    name: WITH_METRICS,
    label: 'journal off, metrics on',
    haraka: pipeTransport(({ metricsPort }) => `${noJournal()}\nmetrics_listen = 127.0.0.1:${metricsPort}`),
    concurrencies: [8],
  },
  {
    name: 'ar',
    label: 'pipe_transport, journal redis',
    haraka: pipeTransport(({ redisUrl }) => `journal = ${redisUrl}`),
    concurrencies: [8],
  },
  {
    name: 'af',
    label: 'journal off, child_process',
    haraka: pipeTransport(noJournal, '', { PIPE_TRANSPORT_SPAWNER: 'child_process' }),
    concurrencies: [8],
  },
  ...(asRoot
    ? [
        // user/group: posix_spawn cannot change identity, so such an instance forks (child_process).
        {
          name: 'au',
          label: 'journal off, user nobody (fork)',
          haraka: pipeTransport(noJournal, 'user = nobody\ngroup = nogroup\n'),
          concurrencies: [8],
        },
        // The alternative measured against it: util-linux's setpriv as the program posix_spawn starts.
        {
          name: 'as',
          label: 'journal off, setpriv nobody (spawn)',
          haraka: (setup: ModeSetup) =>
            pipeTransport(
              noJournal,
              `arguments = --reuid=nobody --regid=nogroup --clear-groups -- ${setup.drain}\n`,
              {},
              '/usr/bin/setpriv',
            )(setup),
          concurrencies: [8],
        },
      ]
    : []),
]
