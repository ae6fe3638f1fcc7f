// The bench's whole transactions: messages of 1, 3 and 10 recipients of an instance
// with recipient_limit = 1, each delivered whole (one transaction, a run per recipient, all at
// once), against the same recipients sent one transaction each (what a sender gets to do when
// every recipient past the first is answered 452). Both with the default local journal.
import { Haraka } from '../e2e/harness.js'
import { runLoad } from './load.js'
import { nthBenchMail } from './messages.js'
import { BENCH_DOMAIN } from './modes.js'

const RECIPIENTS = [1, 3, 10] as const
const RECIPIENTS_PER_RUN = 600
const CONCURRENCY = 8
const ROUNDS = 3

export interface TransactionFigure {
  readonly recipients: number
  /** Recipients delivered per second, the message sent whole; one value per round. */
  readonly wholePerSecond: readonly number[]
  /** The same, each recipient in a transaction of its own. */
  readonly separatePerSecond: readonly number[]
}

let sent = 0

async function recipientsPerSecond(port: number, recipients: number): Promise<number> {
  const messages = Math.ceil(RECIPIENTS_PER_RUN / recipients)
  const load = await runLoad(port, () => nthBenchMail(sent++, recipients), messages, CONCURRENCY)
  if (load.failures.length > 0)
    throw new Error(`whole transactions: ${load.failures.length} not accepted, e.g. ${load.failures[0]}`)
  return (messages * recipients * 1000) / load.elapsedMs
}

export async function measureTransactions(drain: string, work: string): Promise<TransactionFigure[]> {
  const haraka = await Haraka.start({
    plugins: ['rcpt_to.in_host_list', 'pipe_transport'],
    hostList: [BENCH_DOMAIN],
    config: { 'log.ini': '[main]\nlevel=warn\nformat=default' },
    ini: `[main]\njournal = local\njournal_directory = ${work}/journal-transactions\n\n[bench]\nprogram_name = ${drain}\ndomain = ${BENCH_DOMAIN}\nrecipient_limit = 1\nmax_concurrency = 256\n`,
  })
  try {
    await runLoad(haraka.port, () => nthBenchMail(sent++, 3), 100, CONCURRENCY)
    const figures: TransactionFigure[] = []
    for (const recipients of RECIPIENTS) {
      const whole: number[] = []
      const separate: number[] = []
      for (let round = 0; round < ROUNDS; round++) {
        whole.push(await recipientsPerSecond(haraka.port, recipients))
        separate.push(await recipientsPerSecond(haraka.port, 1))
      }
      figures.push({ recipients, wholePerSecond: whole, separatePerSecond: separate })
    }
    return figures
  } finally {
    await haraka.stop()
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((x, y) => x - y)
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN
}

export function formatTransactionFigures(figures: readonly TransactionFigure[]): string {
  return [
    `Whole transactions: recipient_limit = 1, journal = local, ${CONCURRENCY} connections, about ${RECIPIENTS_PER_RUN} recipients per run, median of ${ROUNDS} rounds`,
    '',
    '| recipients per message | recipients/s, sent whole | recipients/s, one transaction each | whole ÷ separate |',
    '|---:|---:|---:|---:|',
    ...figures.map((figure) => {
      const whole = median(figure.wholePerSecond)
      const separate = median(figure.separatePerSecond)
      return `| ${figure.recipients} | ${whole.toFixed(0)} | ${separate.toFixed(0)} | ${(whole / separate).toFixed(2)} |`
    }),
    '',
  ].join('\n')
}
