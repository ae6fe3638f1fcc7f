// One racer of local-journal.test.ts's cluster test: opens its own journal on the directory,
// says 'ready', reads the contested keys (hex) from stdin and prints begin()'s states as JSON.
// It keeps its claims: the other racers must see them as busy.

import { randomBytes } from 'node:crypto'
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

async function main(): Promise<void> {
  await journal.begin([randomBytes(32)], 60_000) // opens the store before the race starts
  process.stdout.write('ready\n')
  let input = ''
  for await (const chunk of process.stdin) input += String(chunk)
  const keys = input
    .trim()
    .split(' ')
    .map((hex) => Buffer.from(hex, 'hex'))
  const claim = await journal.begin(keys, 60_000)
  process.stdout.write(`${JSON.stringify(claim.states)}\n`)
  await journal.close()
}

main().catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`)
  process.exit(1)
})
