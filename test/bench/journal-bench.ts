// The delivery journal's cost per message: begin() then delivered() for every recipient, as
// pipe_transport does for a message whose runs all succeed. For 1 and 3 recipients, one message
// at a time and 8 in flight, against the local store and a real
// redis-server on loopback. Then the local store's size per recipient entry.
// Run after the build: node test/bench/journal-bench.js [rounds] [messages per round]

import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { DeliveryJournal } from '../../plugins/pipe_transport/journal/delivery-journal.js'
import { LocalJournal } from '../../plugins/pipe_transport/journal/local-journal.js'
import { RedisJournal } from '../../plugins/pipe_transport/journal/redis-journal.js'
import { RedisServer } from '../journal/redis-server.js'
import { quantile } from './load.js'

const ROUNDS = Number(process.argv[2] ?? 5)
const MESSAGES = Number(process.argv[3] ?? 2000)
const SIZE_ENTRIES = 100_000
const LEASE_MS = 60_000
const WEEK_MS = 7 * 24 * 3600 * 1000

interface Store {
  readonly name: string
  readonly open: () => DeliveryJournal
}

async function deliverMessages(
  journal: DeliveryJournal,
  messages: number,
  recipients: number,
  inFlight: number,
): Promise<number> {
  let next = 0
  const started = process.hrtime.bigint()
  const worker = async (): Promise<void> => {
    while (next++ < messages) {
      const keys = Array.from({ length: recipients }, () => randomBytes(32))
      const claim = await journal.begin(keys, LEASE_MS)
      await journal.delivered(claim, keys)
    }
  }
  await Promise.all(Array.from({ length: inFlight }, worker))
  return Number(process.hrtime.bigint() - started) / 1000 / messages
}

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'journal-bench-'))
  const redis = await RedisServer.start()
  const stores: Store[] = [
    {
      name: 'local (LMDB)',
      open: () =>
        new LocalJournal({
          directory: join(root, 'local'),
          retentionMs: WEEK_MS,
          timeoutMs: 10_000,
          warn: console.error,
          error: console.error,
          unavailable: 'deliver',
        }),
    },
    {
      name: 'redis (loopback)',
      open: () =>
        new RedisJournal({
          url: redis.url,
          retentionMs: WEEK_MS,
          timeoutMs: 10_000,
          warn: console.error,
          error: console.error,
        }),
    },
  ]
  try {
    console.log(
      `journal bench: begin + delivered per message; median of ${ROUNDS} rounds of ${MESSAGES} messages (min-max)`,
    )
    console.log('store                     recipients  in flight   µs/message (min-max)        messages/s')
    for (const store of stores) {
      const journal = store.open()
      await deliverMessages(journal, 200, 1, 8) // warm up: open the store, load the scripts
      for (const recipients of [1, 3]) {
        for (const inFlight of [1, 8]) {
          const rounds: number[] = []
          for (let round = 0; round < ROUNDS; round++)
            rounds.push(await deliverMessages(journal, MESSAGES, recipients, inFlight))
          const median = quantile(rounds, 0.5)
          const range = `${Math.min(...rounds).toFixed(0)}-${Math.max(...rounds).toFixed(0)}`
          console.log(
            `${store.name.padEnd(26)}${String(recipients).padStart(10)}${String(inFlight).padStart(11)}${`${median.toFixed(1).padStart(13)} (${range})`.padEnd(
              28,
            )}${(1e6 / median).toFixed(0).padStart(14)}`,
          )
        }
      }
      await journal.close()
    }
    await sizePerEntry(root)
  } finally {
    await redis.remove()
    rmSync(root, { recursive: true, force: true })
  }
}

/** The local store's size after SIZE_ENTRIES delivered recipients, per entry. */
async function sizePerEntry(root: string): Promise<void> {
  const directory = join(root, 'size')
  const journal = new LocalJournal({
    directory,
    retentionMs: WEEK_MS,
    timeoutMs: 10_000,
    warn: console.error,
    error: console.error,
    unavailable: 'deliver',
  })
  for (let done = 0; done < SIZE_ENTRIES; done += 100) {
    const keys = Array.from({ length: 100 }, () => randomBytes(32))
    await journal.delivered(await journal.begin(keys, LEASE_MS), keys)
  }
  await journal.close()
  const file = statSync(join(directory, 'data.mdb'))
  console.log(
    `local store size: ${SIZE_ENTRIES} recipient entries, data.mdb ${(file.size / 1e6).toFixed(1)} MB ` +
      `(${((file.blocks * 512) / 1e6).toFixed(1)} MB on disk): ${(file.size / SIZE_ENTRIES).toFixed(0)} bytes per entry`,
  )
}

main().catch((error: unknown) => {
  console.error(error)
  process.exit(1)
})
