// The journal process: one per Haraka process that uses `journal = local` (journal-link.ts starts
// it), owning the LMDB store so that Haraka never maps it. A store that a disk, a bug or a hand
// damages can crash the process that reads it (SIGSEGV, SIGBUS, an LMDB assertion); here that
// ends this process, which Haraka replaces, and never Haraka. Nor can a program that Haraka starts
// inherit a descriptor of the store.
//
// It reads request frames on stdin and writes reply frames on stdout (journal-wire.ts). The
// requests of one read run in one write transaction and their replies leave in one write, so under
// load a commit serves many messages. Commits are not flushed; once a second the store is swept of
// expired entries and flushed, and it is flushed when this process ends.
//
// When its stdin closes, Haraka is gone. The claims Haraka held are then released, so that a
// retry after a restart runs at once instead of being answered "still running" until the leases
// end; but only once no program of that Haraka can still be delivering: at once when Haraka said
// so (SIGUSR2: it has killed its programs, or they have all ended), else after the time the
// guardian takes to kill them.
//
// Run as `node journal-process.js DIRECTORY RETENTION_MS PROGRAMS_GONE_MS` by journal-link.ts only.
import { mkdir } from 'node:fs/promises'
import { performance } from 'node:perf_hooks'
import { messageOf } from '../util/error-message.js'
import { systemClock } from './lease-clock.js'
import type { KeyState } from './delivery-journal.js'
import { LocalStore } from './local-store.js'
import { checkStore } from './store-check.js'
import { EXIT_REOPEN, FrameReader, decodeRequest, encodeReply, type Reply, type Request } from './journal-wire.js'

/** A read-through check of a week of entries takes about a second per million: allow for a slow disk. */
const CHECK_TIMEOUT_MS = 60_000
/** How often the store is swept of expired entries and flushed to disk. */
const UPKEEP_EVERY_MS = 1000
/** A flush that keeps failing is said once, and again at most this often. */
const FLUSH_WARNING_EVERY_MS = 60_000

function send(replies: readonly Reply[]): void {
  if (replies.length === 0) return
  const frames = replies.map(encodeReply)
  process.stdout.write(frames.length === 1 ? (frames[0] as Buffer) : Buffer.concat(frames))
}

async function openStore(directory: string, retentionMs: number): Promise<LocalStore> {
  await mkdir(directory, { recursive: true }).catch((error: unknown) => {
    throw new Error(`cannot create the directory: ${messageOf(error)}`, { cause: error })
  })
  const check = await checkStore(directory, CHECK_TIMEOUT_MS)
  if (check.verdict === 'refused') throw new Error(check.why)
  if (check.verdict === 'moved aside') {
    send([
      {
        id: 0,
        status: 'warning',
        text: `the store was damaged (${check.why}); moved it to ${check.to} and started a new one`,
      },
    ])
    await mkdir(directory, { recursive: true })
  }
  return LocalStore.open(directory, retentionMs, systemClock())
}

/**
 * Before the store is read: a store removed, replaced or cut short under this process ends it (the
 * requests of the moment failing), so that a new journal process checks and opens what is there.
 */
function reopenIfChanged(store: LocalStore, requests: readonly Request[]): void {
  const changed = store.changedOnDisk()
  if (changed === undefined) return
  send([
    ...requests.map((request): Reply => ({ id: request.id, status: 'failed', text: changed })),
    { id: 0, status: 'warning', text: `${changed} while in use; opening the store anew` },
  ])
  process.exit(EXIT_REOPEN)
}

/**
 * The requests of one read, against the store, in one transaction: a begin gets its states, a
 * delivered or release no answer; if the transaction failed, each gets the failure.
 */
function serve(store: LocalStore, requests: readonly Request[]): void {
  reopenIfChanged(store, requests)
  let results: KeyState[][]
  try {
    results = store.apply(requests)
  } catch (error) {
    const why = messageOf(error)
    send(requests.map((request): Reply => ({ id: request.id, status: 'failed', text: why })))
    return
  }
  // Only a begin waits for its answer; a delivered or release hears back only when it failed.
  send(
    requests.flatMap((request, index): Reply[] =>
      request.operation === 'begin' ? [{ id: request.id, status: 'done', states: results[index] ?? [] }] : [],
    ),
  )
}

async function main(): Promise<void> {
  const [directory, retention, programsGone] = process.argv.slice(2)
  const retentionMs = Number(retention)
  const programsGoneMs = Number(programsGone)
  if (directory === undefined || !(retentionMs > 0) || !(programsGoneMs >= 0) || process.stdin.isTTY) {
    process.stderr.write('journal-process.js is started by pipe_transport inside Haraka, not by hand\n')
    process.exit(2)
  }
  process.title = 'haraka: pipe_transport journal'
  // Haraka going away closes stdin; replies it can no longer read are no error of ours.
  process.stdout.on('error', () => undefined)
  // SIGUSR2: Haraka's programs are gone. A SIGTERM or SIGINT (a stop of the whole service, a
  // Ctrl-C) ends this process only with Haraka, once it has released Haraka's claims.
  let programsEnded = false
  let whenProgramsEnded: (() => void) | undefined
  process.on('SIGUSR2', () => {
    programsEnded = true
    whenProgramsEnded?.()
  })
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => undefined)

  let store: LocalStore
  try {
    store = await openStore(directory, retentionMs)
  } catch (error) {
    send([{ id: 0, status: 'failed', text: messageOf(error) }])
    process.exit(1)
  }
  send([{ id: 0, status: 'ready' }])

  let flushWarnedAt = Number.NEGATIVE_INFINITY
  const upkeep = setInterval(() => {
    reopenIfChanged(store, [])
    try {
      store.sweepExpired()
    } catch {
      // A store that fails here fails Haraka's next request too, which says why.
    }
    store.flush().then(
      () => (flushWarnedAt = Number.NEGATIVE_INFINITY),
      (error: unknown) => {
        if (performance.now() - flushWarnedAt < FLUSH_WARNING_EVERY_MS) return
        flushWarnedAt = performance.now()
        send([{ id: 0, status: 'warning', text: `flushing the store to disk failed: ${messageOf(error)}` }])
      },
    )
  }, UPKEEP_EVERY_MS)

  const reader = new FrameReader()
  process.stdin.on('data', (chunk: Buffer) => {
    const requests: Request[] = []
    for (const frame of reader.push(chunk)) {
      const request = decodeRequest(frame)
      if (request === undefined) {
        process.stderr.write('pipe_transport journal: a frame that is no request; ending\n')
        process.exit(2)
      }
      requests.push(request)
    }
    if (requests.length > 0) serve(store, requests)
  })
  process.stdin.on('error', () => undefined) // 'close' follows
  process.stdin.once('close', () => {
    clearInterval(upkeep)
    const finish = (): void => {
      whenProgramsEnded = undefined
      try {
        store.releaseHeld()
      } catch {
        // A store that fails now keeps the claims until their leases end.
      }
      void store
        .close()
        .catch(() => undefined)
        .then(() => process.exit(0))
    }
    if (programsEnded || store.heldCount === 0) return finish()
    const timer = setTimeout(finish, programsGoneMs)
    whenProgramsEnded = () => {
      clearTimeout(timer)
      finish()
    }
  })
}

void main()
