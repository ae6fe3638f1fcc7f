// A Haraka stand-in for local-journal.test.ts: opens its own journal on the directory, claims the
// keys given (hex, on the command line), prints begin()'s states as JSON, then holds the claims
// until the test kills it, or exits (as Haraka does at a stop) when its stdin says `exit`.
import { LocalJournal } from '../../plugins/pipe_transport/journal/local-journal.js'

const [directory = '', ...hexKeys] = process.argv.slice(2)
const journal = new LocalJournal({
  directory,
  retentionMs: 60_000,
  timeoutMs: 10_000,
  warn: () => undefined,
  error: () => undefined,
  unavailable: 'deliver',
})

async function main(): Promise<void> {
  const claim = await journal.begin(
    hexKeys.map((hex) => Buffer.from(hex, 'hex')),
    60_000,
  )
  process.stdout.write(`${JSON.stringify(claim.states)}\n`)
  process.stdin.setEncoding('utf8').on('data', (line: string) => {
    if (line.trim() === 'exit') process.exit(0)
  })
}

main().catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`)
  process.exit(1)
})
