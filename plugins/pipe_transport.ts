// pipe_transport: delivers mail for configured recipient domains to a local program during the
// SMTP transaction, and answers with that program's verdict. This entry runs in Haraka's plugin
// sandbox and only wires hooks; the work is done by the modules under ./pipe_transport/.
import { join, resolve } from 'node:path'
import type { DeliveryJournal } from './pipe_transport/journal/delivery-journal.js'
import { openJournal } from './pipe_transport/journal/open-journal.js'
import type { JournalConfig } from './pipe_transport/settings/journal-settings.js'
import { deliverTransaction } from './pipe_transport/transaction/deliver-transaction.js'
import { messageFingerprint, noteClientHeaders } from './pipe_transport/transaction/fingerprint.js'
import { describeDelivery, describeTransaction } from './pipe_transport/reply/delivery-log.js'
import DSN = require('haraka-dsn')
import { parseIni } from 'haraka-config/lib/readers/ini'
import regex = require('haraka-config/lib/regex')
import { envelopeOf, senderOf } from './pipe_transport/invocation/envelope.js'
import { PRESETS, replyFor } from './pipe_transport/reply/exit-reply.js'
import { describeSpawner } from './pipe_transport/running/run-program.js'
import type { HarakaAddress, HarakaConnection, HarakaPlugin, Next } from './pipe_transport/types/haraka-types.js'
import { KILL_GRACE_MS, shutdownAll } from './pipe_transport/running/process-groups.js'
import { acceptedFromRcptCommand, noteRcptCommand, originalOf } from './pipe_transport/routing/original-recipients.js'
import { QUEUE_NAME, rcptDecision } from './pipe_transport/routing/rcpt-policy.js'
import { routeRecipient } from './pipe_transport/routing/route-recipient.js'
import { iniFromText } from './pipe_transport/settings/ini-text.js'
import { MAX_TIMEOUT_SECONDS, formatConfigError, readSettings, type Instance, type Settings } from './pipe_transport/settings/settings.js'

// The sandbox provides Haraka's return codes as globals; helper modules use plain verdicts.
declare const OK: number
declare const DENY: number
declare const DENYSOFT: number

const CONFIG_FILE = 'pipe_transport.ini'
const VERDICT_CODE = { ok: () => OK, deny: () => DENY, denysoft: () => DENYSOFT } as const

interface PipeTransport extends HarakaPlugin {
  settings: Settings
  /** The delivery journal of `[main] journal`; undefined for `off`. */
  journal: DeliveryJournal | undefined
  load_pipe_transport_ini(): void
  handles(connection: HarakaConnection): boolean
}

export function register(this: PipeTransport): void {
  // Haraka's hook timeout must never answer for us ("450 plugin timeout" while the program may
  // still deliver). Our own worst case is a slot wait plus a run plus the kill grace.
  this.timeout = 2 * MAX_TIMEOUT_SECONDS + KILL_GRACE_MS / 1000 + 10
  this.load_pipe_transport_ini()
  // Before every other rcpt plugin, the client's address as it came: haraka-plugin-aliases and
  // the like replace it, and ${original_recipient} is what the client sent.
  this.register_hook('rcpt', 'note_original_rcpt', -100)
  // The route decisions follow the address as rcpt plugins left it, so they are made at rcpt_ok,
  // which runs for every accepted recipient after the whole rcpt chain (whatever the plugin order,
  // even after rcpt_to.in_host_list ended that chain), and before other plugins' rcpt_ok.
  this.register_hook('rcpt_ok', 'check_rcpt_route', -100)
  this.register_hook('data_post', 'note_client_headers', -100)
}

export function load_pipe_transport_ini(this: PipeTransport): void {
  const starting = this.settings === undefined
  const began = Date.now()
  // bin/haraka sets HARAKA to the install dir (`-c DIR`); haraka-config's root_path is not it.
  const installDir = resolve(process.env['HARAKA'] ?? '.')
  const file = join(installDir, 'config', CONFIG_FILE)
  // Read as bytes, then as haraka-config reads an ini, but for the [NAME.address] entries, which
  // go from the text straight into the routing table (settings/ini-text.ts). Not `get('x.ini')`:
  // haraka-config keeps what it parsed for ever and hands out a deep copy on each get(); for a
  // table of 100,000 addresses that is about 22 MB held and 22 MB more copied at every load.
  const bytes = this.config.get(CONFIG_FILE, 'binary', (err?: unknown) => {
    // haraka-config hands an Error when the edited file cannot be read; the old one stays cached.
    if (err) this.logerror(`${file}: cannot be read, keeping the last good config: ${String(err)}`)
    else this.load_pipe_transport_ini()
  })
  const read = readSettings(iniFromText(file, bytes === null ? '' : bytes.toString('utf8'), { regex, parseIni }), {
    installDir,
    // Haraka drops to smtp.ini's `user` once it listens; programs are started after that.
    runningAsRoot: process.getuid?.() === 0 && !(this.config.get('smtp.ini') as { main?: { user?: unknown } }).main?.user,
  })
  if ('errors' in read) {
    const messages = read.errors.map((error) => formatConfigError(file, error))
    for (const message of messages) this.logcrit(message)
    // Thrown from register(), this stops Haraka: a plugin that cannot route must not accept mail.
    if (starting) throw new Error(`${messages.length} error(s) in ${file}, listed above; Haraka cannot start`)
    this.logerror(`${file}: not reloaded, the last good config stays in force`)
    return
  }
  const previous = this.settings?.journal
  this.settings = read.settings
  if (!previous || !sameJournal(previous, read.settings.journal)) {
    // Deliveries still running record their outcome in the journal they began with.
    const retired = this.journal
    if (retired) setTimeout(() => void retired.close(), JOURNAL_RETIRE_MS).unref()
    this.journal = openJournal(read.settings.journal, (message) => this.logwarn(message))
  }
  const names = read.settings.instances.map((instance) => describeRoutes(instance, read.settings))
  const took = `in ${Date.now() - began} ms`
  this.loginfo(`${starting ? 'loaded' : 'reloaded'} ${file} ${took}: ${names.length ? names.join('; ') : 'no instances, nothing is routed'}`)
}

/** Longer than any delivery that began with a journal a reload replaced (slot wait, run, grace). */
const JOURNAL_RETIRE_MS = (2 * MAX_TIMEOUT_SECONDS + 60) * 1000

function sameJournal(a: JournalConfig, b: JournalConfig): boolean {
  return a.store === b.store && a.directory === b.directory && a.retentionDays === b.retentionDays
}

/** `[rt] 2 addresses`, `[lists] lists.example.com 1 address`: what an instance routes, in brief. */
function describeRoutes(instance: Instance, settings: Settings): string {
  const addresses = settings.addressCounts.get(instance) ?? 0
  const routes = [...instance.domains, ...(addresses === 0 ? [] : [`${addresses} address${addresses === 1 ? '' : 'es'}`])]
  return `[${instance.name}] ${routes.join(' ')}`
}

/** Notes the client's address before any rcpt plugin can replace it (original-recipients.ts). */
export function note_original_rcpt(this: PipeTransport, next: Next, connection: HarakaConnection, params: [HarakaAddress]): void {
  if (connection.transaction) noteRcptCommand(connection.transaction, params[0])
  next()
}

/** Recipients for other queue plugins go in other transactions; no address may become an option. */
export function check_rcpt_route(this: PipeTransport, next: Next, connection: HarakaConnection): void {
  const transaction = connection.transaction
  if (!transaction) return next()
  const candidates = acceptedFromRcptCommand(transaction)
  if (!this.handles(connection)) return next()
  const start = transaction.rcpt_to.length - candidates.length
  const first = transaction.rcpt_to[0]
  let firstAccepted = start > 0 && first ? routeRecipient(this.settings, first, originalOf(first)) : undefined
  const context = { sender: senderOf(transaction.mail_from), queueWants: transaction.notes.get('queue.wants') }
  for (const candidate of candidates) {
    const routed = routeRecipient(this.settings, candidate, originalOf(candidate))
    const decision = rcptDecision(routed, { ...context, firstAccepted })
    if (decision.kind !== 'continue') {
      // Haraka takes the last recipient back on a refusal; the others this command added go too.
      transaction.rcpt_to.splice(start, candidates.length - 1)
      return next(decision.kind === 'deny' ? DENY : DENYSOFT, DSN.create(decision.code, decision.text, decision.subject, decision.detail))
    }
    firstAccepted ??= routed
  }
  next()
}

/** check_recipient: accept this plugin's own recipients, so they need no other rcpt plugin. */
export function hook_rcpt(this: PipeTransport, next: Next, connection: HarakaConnection, params: [HarakaAddress]): void {
  const instance = this.handles(connection) ? routeRecipient(this.settings, params[0]).match?.route : undefined
  if (!instance?.checkRecipient) return next()
  connection.transaction?.results.add(this, { pass: `rcpt ${instance.name}` })
  next(OK)
}

/** Claims routed transactions, so that other queue plugins leave them to this one. */
export function hook_rcpt_ok(this: PipeTransport, next: Next, connection: HarakaConnection, address: HarakaAddress): void {
  const notes = connection.transaction?.notes
  if (notes && !notes.get('queue.wants') && this.handles(connection) && routeRecipient(this.settings, address).match) {
    notes.set('queue.wants', QUEUE_NAME)
  }
  next()
}

/** Relayed mail (authenticated or relay-listed clients) comes through queue_outbound. */
export function hook_queue_outbound(this: PipeTransport, next: Next, connection: HarakaConnection): void {
  if (!this.settings.enableOutbound) return next()
  hook_queue.call(this, next, connection)
}

/** With enable_outbound = false, relayed transactions are Haraka outbound's, not ours. */
export function handles(this: PipeTransport, connection: HarakaConnection): boolean {
  return !connection.relaying || this.settings.enableOutbound
}

export function hook_queue(this: PipeTransport, next: Next, connection: HarakaConnection): void {
  const transaction = connection.transaction
  if (!transaction) return next()
  const wanted = transaction.notes.get('queue.wants')
  if (wanted && wanted !== QUEUE_NAME) return next()

  const routed = transaction.rcpt_to.map((rcpt) => routeRecipient(this.settings, rcpt, originalOf(rcpt)))
  const ours = routed.flatMap(({ match, recipient }) => (match && recipient ? [{ instance: match.route, recipient }] : []))
  if (ours.length === 0) return next()
  if (ours.length < routed.length) {
    const others = routed.filter((each) => !each.match).map((each) => each.address)
    connection.logerror(this, `recipients ${others.join(' ')} are not routed, beside routed ones; refusing to deliver part of the transaction`)
    return next(DENYSOFT, '4.3.0 pipe transport: some recipients are delivered by other means, send them separately')
  }

  const stream = transaction.message_stream
  const envelope = envelopeOf(connection, transaction)
  let answered = false
  const answer: Next = (code, text) => {
    if (answered) return
    answered = true
    next(code, text)
  }
  deliverTransaction({
    routed: ours,
    envelope,
    message: { stream, bytes: transaction.data_bytes, fingerprint: () => messageFingerprint(transaction, envelope.sender) },
    journal: this.journal,
    journalUnavailable: this.settings.journal.unavailable,
  })
    .then((report) => {
      for (const { run, envelope: runEnvelope, report: runReport } of report.runs) {
        const log = describeDelivery(run.instance, runEnvelope, runReport)
        transaction.results.add(this, log.result)
        connection[`log${log.level}`](this, log.message, log.fields)
      }
      for (const problem of report.journalProblems) connection.logerror(this, problem)
      const log = describeTransaction(envelope.queueId, report)
      connection[`log${log.level}`](this, log.message, log.fields)
      answer(VERDICT_CODE[report.reply.verdict](), report.reply.text || undefined)
    })
    .catch((err: unknown) => {
      stream.unpipe()
      connection.logerror(this, `delivery failed inside the plugin: ${String(err)}`)
      answer(DENYSOFT, replyFor({ kind: 'internal-error', cause: String(err) }, PRESETS.seed).text)
    })
}

/** Before any other data_post plugin adds headers: what the client sent, for the journal's fingerprint. */
export function note_client_headers(this: PipeTransport, next: Next, connection: HarakaConnection): void {
  if (connection.transaction) noteClientHeaders(connection.transaction)
  next()
}

/**
 * Says once how programs will start, where Haraka serves SMTP: not in register(), which runs in a
 * cluster master too, and that delivers nothing.
 */
export function hook_init_master(this: PipeTransport, next: Next, server: { cluster?: unknown }): void {
  if (!server.cluster) announceSpawner(this)
  next()
}

export function hook_init_child(this: PipeTransport, next: Next): void {
  announceSpawner(this)
  next()
}

function announceSpawner(plugin: PipeTransport): void {
  const spawner = describeSpawner()
  if (spawner.level === 'warn') plugin.logwarn(spawner.message)
  else plugin.loginfo(spawner.message)
}

/** Haraka is stopping: end every running program; their transactions are not answered 250. */
export function shutdown(this: PipeTransport): void {
  shutdownAll()
  void this.journal?.close()
}
