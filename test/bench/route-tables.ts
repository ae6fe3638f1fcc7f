// The bench's large routing table: a pipe_transport.ini with 100,000 [NAME.address]
// entries over 200 domains, plus 500 `domain` entries. It measures what the plugin takes to load
// it (its own log line), what one lookup costs, how much more memory Haraka holds with it than
// with a one-line table, and a live reload of it. Run alone as `node test/bench/route-tables.js`.
import { Address } from '@haraka/email-address'
import { setTimeout as sleep } from 'node:timers/promises'
import { Haraka } from '../e2e/harness.js'
import { Scratch, crlf } from '../e2e/fixtures.js'
import { rssBytes } from '../e2e/processes.js'
import { sendMail } from '../e2e/smtp.js'
import { routeRecipient } from '../../plugins/pipe_transport/routing/route-recipient.js'
import { splitExtension } from '../../plugins/pipe_transport/routing/address-parts.js'
import { harakaConfigGrammar, iniFromText } from '../../plugins/pipe_transport/settings/ini-text.js'
import { lookupRoute } from '../../plugins/pipe_transport/routing/route.js'
import { readSettings } from '../../plugins/pipe_transport/settings/settings.js'
import type { Settings } from '../../plugins/pipe_transport/settings/vocabulary.js'

export const TABLE_ADDRESSES = 100_000
const ADDRESS_DOMAINS = 200
const DOMAIN_ENTRIES = 500
const LOOKUPS = 1_000_000

const addressAt = (i: number): string => `user${i}@list${i % ADDRESS_DOMAINS}.test`

/** The ini text, with `changed` (the entry a reload changes) given its own route data. */
function tableIni(program: string, changed = 'data0'): string {
  const lines = [
    `[main]`,
    `program_name = ${program}`,
    `recipient_delimiter = +`,
    ``,
    `[lists]`,
    `arguments = \${route_data} \${recipient}`,
    ``,
    `[lists.address]`,
  ]
  for (let i = 0; i < TABLE_ADDRESSES; i++) lines.push(`${addressAt(i)} = ${i === 0 ? changed : `data${i}`}`)
  lines.push(
    '',
    '[mailboxes]',
    `domain = ${Array.from({ length: DOMAIN_ENTRIES }, (_, i) => `mail${i}.test`).join(' ')}`,
    '',
  )
  return lines.join('\n')
}

/** The same table as the plugin reads it, for timing lookups in this process. */
function tableSettings(program: string): Settings {
  const read = readSettings(iniFromText('pipe_transport.ini', tableIni(program), harakaConfigGrammar(require)), {
    installDir: '/',
    haraka: { root: false, account: undefined },
  })
  if ('errors' in read) throw new Error(read.errors.map((error) => error.message).join('; '))
  return read.settings
}

export interface TableFigures {
  readonly loadMs: number
  readonly reloadMs: number
  readonly lookupNs: number
  readonly routeRecipientNs: number
  readonly rssGrowthBytes: number
  readonly rssAfterReloadGrowthBytes: number
  readonly reloadRouted: boolean
}

/** Nanoseconds per call of `fn` over `count` calls. */
function timePerCall(count: number, fn: (i: number) => unknown): number {
  let sink = 0
  const start = process.hrtime.bigint()
  for (let i = 0; i < count; i++) if (fn(i) !== undefined) sink++
  const ns = Number(process.hrtime.bigint() - start) / count
  if (sink < 0) throw new Error('unreachable')
  return ns
}

function lookupFigures(program: string): { lookupNs: number; routeRecipientNs: number } {
  const settings = tableSettings(program)
  // Half the lookups hit an address entry, a quarter a domain entry, a quarter nothing.
  const probes = Array.from({ length: 4096 }, (_, i) => {
    const address =
      i % 4 < 2
        ? addressAt((i * 7919) % TABLE_ADDRESSES)
        : i % 4 === 2
          ? `x@mail${i % DOMAIN_ENTRIES}.test`
          : `x@nowhere${i}.test`
    const at = address.lastIndexOf('@')
    const local = address.slice(0, at)
    return {
      parts: { local, user: splitExtension(local, '+').user, domain: address.slice(at + 1) },
      address: new Address(`<${address}>`),
    }
  })
  const probe = (i: number): (typeof probes)[number] => probes[i % probes.length] as (typeof probes)[number]
  timePerCall(LOOKUPS / 10, (i) => lookupRoute(settings.routes, probe(i).parts)) // warm up
  return {
    lookupNs: timePerCall(LOOKUPS, (i) => lookupRoute(settings.routes, probe(i).parts)),
    routeRecipientNs: timePerCall(LOOKUPS / 10, (i) => routeRecipient(settings, probe(i).address).match),
  }
}

/** Haraka's RSS once its heap has settled after start or reload. */
async function settledRss(haraka: Haraka): Promise<number> {
  await sleep(3000)
  return rssBytes(haraka.pid)
}

const loadLine = /\[pipe_transport\] (re)?loaded \S+ in (\d+) ms/g

export async function measureRouteTables(): Promise<TableFigures> {
  const work = new Scratch()
  // Records the route data it was given, so the reload can be seen to route the new way.
  const program = work.shell('record', `cat > /dev/null\necho "$1" >> "${work.path('routed')}"`)
  const harakas: Haraka[] = []
  try {
    const small = await Haraka.start({ ini: `[one]\nprogram_name = ${program}\ndomain = one.test\n` })
    harakas.push(small)
    const big = await Haraka.start({ ini: tableIni(program), hostList: ['list0.test'] })
    harakas.push(big)
    const [smallRss, bigRss] = [await settledRss(small), await settledRss(big)]
    const loadMs = Number([...big.log.matchAll(loadLine)].at(-1)?.[2])

    // A live reload of the whole table with one entry changed: it routes the new way once logged.
    big.writeIni(tableIni(program, 'changed'))
    await big.waitForLog(/\[pipe_transport\] reloaded \S+ in \d+ ms/, 60_000)
    const reloadMs = Number([...big.log.matchAll(loadLine)].filter((match) => match[1] === 're').at(-1)?.[2])
    const { reply } = await sendMail(big.port, {
      from: 's@origin.test',
      to: [addressAt(0)],
      message: crlf(['Subject: x', '', 'x']),
    })
    const reloadRss = await settledRss(big)
    return {
      loadMs,
      reloadMs,
      ...lookupFigures(program),
      rssGrowthBytes: bigRss - smallRss,
      rssAfterReloadGrowthBytes: reloadRss - smallRss,
      reloadRouted: reply?.code === 250 && work.take('routed').toString() === 'changed\n',
    }
  } finally {
    for (const haraka of harakas) await haraka.stop()
    work.remove()
  }
}

export function formatTableFigures(figures: TableFigures): string {
  const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MB`
  return [
    `Routing table: ${TABLE_ADDRESSES.toLocaleString('en')} [NAME.address] entries over ${ADDRESS_DOMAINS} domains, ${DOMAIN_ENTRIES} domain entries`,
    '',
    '| figure | measured | goal |',
    '|---|---:|---:|',
    `| load at start (haraka-config's parse and pipe_transport's checks) | ${figures.loadMs} ms | < 2000 ms |`,
    `| one route lookup (RouteTable.lookup) | ${figures.lookupNs.toFixed(0)} ns | < 5000 ns |`,
    `| one recipient routed (address parts, lookup, macro values) | ${figures.routeRecipientNs.toFixed(0)} ns | |`,
    `| Haraka's RSS over a one-line table | ${mb(figures.rssGrowthBytes)} | < 50 MB |`,
    `| live reload of the whole table | ${figures.reloadMs} ms, then ${figures.reloadRouted ? 'routed by the new entry' : 'NOT routed by the new entry'} | |`,
    `| Haraka's RSS after the reload, over a one-line table | ${mb(figures.rssAfterReloadGrowthBytes)} | |`,
    '',
  ].join('\n')
}

if (require.main === module) {
  measureRouteTables()
    .then((figures) => process.stdout.write(formatTableFigures(figures)))
    .catch((err: unknown) => {
      process.stderr.write(
        `route-tables bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
      )
      process.exitCode = 1
    })
}
