// One racer of local-journal.test.ts's cluster test: opens its own journal on the directory,
// says 'ready', reads the contested keys (hex) from a line of stdin and prints begin()'s states as
// JSON. It holds its claims until its stdin ends, then closes its journal (which releases them):
// the other racers must see them as busy.

import { randomBytes } from 'node:crypto'
import { createInterface } from 'node:readline'
import { LocalJournal } from '../../plugins/pipe_transport/journal/local-journal.js'

const directory = process.argv[2] ?? ''
const journal = new LocalJournal({
  directory,
  retentionMs: 60_000,
  timeoutMs: 10_000,
  warn: () => undefined,
  error: () => undefined,
  unavailable: 'deliver',
})

async function race(line: string): Promise<void> {
  const keys = line.split(' ').map((hex) => Buffer.from(hex, 'hex'))
  const claim = await journal.begin(keys, 60_000)
  process.stdout.write(`${JSON.stringify(claim.states)}\n`)
}

async function main(): Promise<void> {
  await journal.begin([randomBytes(32)], 60_000) // opens the store before the race starts
  process.stdout.write('ready\n')
  const lines = createInterface({ input: process.stdin })
  lines.once('line', (line) => void race(line.trim()).catch(fail))
  lines.once('close', () => void journal.close())
}

function fail(error: unknown): void {
  process.stderr.write(`${String(error)}\n`)
  process.exit(1)
}

main().catch(fail)
