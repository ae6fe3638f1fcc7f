// pipe_transport: delivers mail for configured recipients (domains, addresses) to a local program
// during the SMTP transaction, and answers with that program's verdict. This entry only wires hooks; the
// work is done by the modules under ./pipe_transport/. Haraka runs it in its plugin sandbox when
// it is copied to plugins/pipe_transport.js, and require()s it as an ordinary module when it is
// the package haraka-plugin-pipe_transport: it works the same both ways.
import cluster from 'node:cluster'
import { resolve } from 'node:path'
import type { DeliveryJournal } from './pipe_transport/journal/delivery-journal.js'
import { openJournal } from './pipe_transport/journal/open-journal.js'
import type { JournalConfig } from './pipe_transport/settings/journal-settings.js'
import { deliverTransaction } from './pipe_transport/queue/deliver-transaction.js'
import { messageFingerprint, noteClientHeaders } from './pipe_transport/queue/fingerprint.js'
import { describeDelivery, describeRecipientCheck, describeTransaction } from './pipe_transport/log/log-entries.js'
import { DENY, DENYSOFT, OK } from 'haraka-constants'
import DSN = require('haraka-dsn')
import { envelopeOf, senderOf, type Envelope, type Recipient } from './pipe_transport/invocation/envelope.js'
import { PRESETS, replyFor } from './pipe_transport/settings/replies.js'
import { describeSpawner } from './pipe_transport/running/run-program.js'
import type { HarakaAddress, HarakaConnection, HarakaPlugin, Next } from './pipe_transport/types/haraka-types.js'
import { KILL_GRACE_MS, shutdownAll } from './pipe_transport/running/process-groups.js'
import { acceptedFromRcptCommand, noteRcptCommand, originalOf } from './pipe_transport/routing/original-recipients.js'
import { QUEUE_NAME, rcptDecision, type RcptDecision, type RcptRefusal } from './pipe_transport/routing/rcpt-policy.js'
import { checkRecipient } from './pipe_transport/rcpt/check-program.js'
import { routeRecipient } from './pipe_transport/routing/route-recipient.js'
import { CONFIG_FILE, checkConfigFile, configFileOf, deliversAsRoot } from './pipe_transport/settings/config-file.js'
import { harakaConfigGrammar } from './pipe_transport/settings/ini-text.js'
import { MAX_TIMEOUT_SECONDS, type Instance, type RecipientCheck, type Settings } from './pipe_transport/settings/settings.js'

/** Haraka's server, a global in both of the ways Haraka loads a plugin. */
declare const server: { readonly cfg?: { readonly main?: { readonly nodes?: unknown } } } | undefined

const VERDICT_CODE = { ok: OK, deny: DENY, denysoft: DENYSOFT } as const
// Through the entry's own require: in the sandbox that finds Haraka's haraka-config (a module the
// entry requires by a relative path resolves from its own folder, where a copied install dir has
// none); as a package, the package's dependency.
const GRAMMAR = harakaConfigGrammar(require)

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
  const file = configFileOf(installDir)
  const who = clusterProcess()
  // Read as bytes, then as haraka-config reads an ini, but for the [NAME.address] entries, which
  // go from the text straight into the routing table (settings/ini-text.ts). Not `get('x.ini')`:
  // haraka-config keeps what it parsed for ever and hands out a deep copy on each get(); for a
  // table of 100,000 addresses that is about 22 MB held and 22 MB more copied at every load.
  const bytes = this.config.get(CONFIG_FILE, 'binary', (err?: unknown) => {
    // haraka-config hands an Error when the edited file cannot be read; the old one stays cached.
    if (err) this.logerror(`${who}${file}: cannot be read, keeping the last good config: ${String(err)}`)
    else this.load_pipe_transport_ini()
  })
  const loaded = checkConfigFile(file, bytes, GRAMMAR, { installDir, runningAsRoot: deliversAsRoot(this.config.get('smtp.ini')) })
  for (const warning of loaded.warnings) this.logwarn(`${who}${warning}`)
  for (const error of loaded.errors) this.logcrit(`${who}${error}`)
  const settings = loaded.settings
  if (!settings) {
    // Thrown from register(), this stops Haraka: a plugin that cannot route must not accept mail.
    // A string, as Haraka's own plugin loader throws: an Error would add a stack trace to the log.
    if (starting) throw `${loaded.errors.length} error(s) in ${file}, listed above; Haraka cannot start`
    this.logerror(`${who}${file}: not reloaded, the last good config stays in force`)
    return
  }
  const previous = this.settings?.journal
  this.settings = settings
  if (!previous || !sameJournal(previous, settings.journal)) {
    // Deliveries still running record their outcome in the journal they began with.
    const retired = this.journal
    if (retired) setTimeout(() => void retired.close(), JOURNAL_RETIRE_MS).unref()
    this.journal = openJournal(settings.journal, (message) => this.logwarn(message))
  }
  const names = settings.instances.map((instance) => describeRoutes(instance, settings))
  const took = `in ${Date.now() - began} ms`
  this.loginfo(`${who}${starting ? 'loaded' : 'reloaded'} ${file} ${took}: ${names.length ? names.join('; ') : 'no instances, nothing is routed'}`)
}

/**
 * In cluster mode (smtp.ini `nodes`) the master and every worker load the config and log about
 * it; each says which it is. Haraka fills in `nodes = 1` when smtp.ini leaves it unset.
 */
function clusterProcess(): string {
  if (cluster.isWorker) return `worker ${cluster.worker?.id ?? '?'}: `
  return typeof server === 'object' && server.cfg?.main?.nodes ? 'cluster master: ' : ''
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

/**
 * Recipients for other queue plugins go in other transactions; no address may become an option;
 * with check_program, a recipient its program does not know is refused before any data is taken.
 */
export function check_rcpt_route(this: PipeTransport, next: Next, connection: HarakaConnection): void {
  const transaction = connection.transaction
  if (!transaction) return next()
  const candidates = acceptedFromRcptCommand(transaction)
  if (!this.handles(connection)) return next()
  const start = transaction.rcpt_to.length - candidates.length
  /** Haraka takes the last recipient back on a refusal; the others this command added go too. */
  const refuse = (decision: RcptRefusal): void => {
    transaction.rcpt_to.splice(start, candidates.length - 1)
    next(decision.kind === 'deny' ? DENY : DENYSOFT, DSN.create(decision.code, decision.text, decision.subject, decision.detail))
  }
  const first = transaction.rcpt_to[0]
  let firstAccepted = start > 0 && first ? routeRecipient(this.settings, first, originalOf(first)) : undefined
  const context = { sender: senderOf(transaction.mail_from), queueWants: transaction.notes.get('queue.wants') }
  const checks: Promise<RcptDecision>[] = []
  let envelope: Omit<Envelope, 'recipients'> | undefined
  for (const candidate of candidates) {
    const routed = routeRecipient(this.settings, candidate, originalOf(candidate))
    const decision = rcptDecision(routed, { ...context, firstAccepted })
    if (decision.kind !== 'continue') return refuse(decision)
    firstAccepted ??= routed
    const instance = routed.match?.route
    if (instance?.recipientCheck && routed.recipient) {
      envelope ??= envelopeOf(connection, transaction)
      checks.push(checkAndLog(this, connection, envelope, instance, instance.recipientCheck, routed.recipient))
    }
  }
  if (checks.length === 0) return next()
  Promise.all(checks).then(
    (decisions) => {
      const refused = decisions.find((decision): decision is RcptRefusal => decision.kind !== 'continue')
      if (refused) refuse(refused)
      else next()
    },
    (err: unknown) => {
      connection.logerror(this, `recipient check failed inside the plugin: ${String(err)}`)
      refuse({ kind: 'denysoft', code: 450, subject: 3, detail: 0, text: 'pipe transport cannot check this recipient now, try again later' })
    },
  )
}

/** Runs an instance's check_program for one recipient, and logs what it said. */
async function checkAndLog(
  plugin: PipeTransport,
  connection: HarakaConnection,
  envelope: Omit<Envelope, 'recipients'>,
  instance: Instance,
  check: RecipientCheck,
  recipient: Recipient,
): Promise<RcptDecision> {
  const { decision, outcome } = await checkRecipient(instance, check, recipient, envelope)
  if (outcome !== 'cached') {
    const log = describeRecipientCheck(instance, recipient, decision, outcome)
    connection[`log${log.level}`](plugin, log.message, log.fields)
  }
  return decision
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
      answer(VERDICT_CODE[report.reply.verdict], report.reply.text || undefined)
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
