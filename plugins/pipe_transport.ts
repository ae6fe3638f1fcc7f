// pipe_transport: delivers mail for configured recipients (domains, addresses) to a local program
// during the SMTP transaction, and answers with that program's verdict. This entry only wires
// Haraka's hooks to the stages under ./pipe_transport/ (docs/architecture.md). Haraka runs it in
// its plugin sandbox when it is copied to plugins/pipe_transport.js, and require()s it as an
// ordinary module when it is the package haraka-plugin-pipe_transport: it works the same both ways.
import cluster from 'node:cluster'
import { resolve } from 'node:path'
import { DENY, DENYSOFT, OK } from 'haraka-constants'
import DSN = require('haraka-dsn')
import { JournalHolder } from './pipe_transport/journal/journal-holder.js'
import { queueLogEntries, rcptLogEntries, type LogEntry } from './pipe_transport/log/log-entries.js'
import { queueTransaction } from './pipe_transport/queue/queue-transaction.js'
import { INTERNAL_ERROR } from './pipe_transport/queue/run-reply.js'
import { noteClientHeaders } from './pipe_transport/queue/fingerprint.js'
import { answerRcptCommand } from './pipe_transport/rcpt/rcpt-command.js'
import { acceptedFromRcptCommand, noteRcptCommand } from './pipe_transport/routing/original-recipients.js'
import {
  QUEUE_NAME,
  acceptingInstance,
  isRouted,
  servesConnection,
  type RcptDecision,
} from './pipe_transport/routing/rcpt-policy.js'
import { KILL_GRACE_MS, shutdownAll } from './pipe_transport/running/process-groups.js'
import { describeSpawner } from './pipe_transport/running/run-program.js'
import { loadConfigFile } from './pipe_transport/settings/config-file.js'
import { harakaConfigGrammar } from './pipe_transport/settings/ini-text.js'
import { MAX_TIMEOUT_SECONDS } from './pipe_transport/settings/instance.js'
import type { Settings } from './pipe_transport/settings/vocabulary.js'
import type { HarakaAddress, HarakaConnection, HarakaPlugin, Next } from './pipe_transport/types/haraka-types.js'

/** Haraka's server, a global in both of the ways Haraka loads a plugin. */
declare const server: { readonly cfg?: { readonly main?: { readonly nodes?: unknown } } } | undefined

const VERDICT_CODE = { ok: OK, deny: DENY, denysoft: DENYSOFT } as const
// Through the entry's own require: in the sandbox that finds Haraka's haraka-config (a module the
// entry requires by a relative path resolves from its own folder, where a copied install dir has
// none); as a package, the package's dependency.
const GRAMMAR = harakaConfigGrammar(require)

interface PipeTransport extends HarakaPlugin {
  settings: Settings
  journal: JournalHolder
  load_pipe_transport_ini(): void
}

export function register(this: PipeTransport): void {
  // Haraka's hook timeout must never answer for us ("450 plugin timeout" while the program may
  // still deliver). Our own worst case is a slot wait plus a run plus the kill grace.
  this.timeout = 2 * MAX_TIMEOUT_SECONDS + KILL_GRACE_MS / 1000 + 10
  this.journal = new JournalHolder()
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
  const starting = !('settings' in this)
  const who = cluster.isWorker
    ? `worker ${cluster.worker?.id ?? '?'}: `
    : typeof server === 'object' && server.cfg?.main?.nodes
      ? 'cluster master: '
      : ''
  // bin/haraka sets HARAKA to the install dir (`-c DIR`); haraka-config's root_path is not it.
  const installDir = resolve(process.env['HARAKA'] ?? '.')
  const loaded = loadConfigFile(installDir, this.config, GRAMMAR, (error) => {
    if (error === undefined) this.load_pipe_transport_ini()
    else this.logerror(`${who}${error}`)
  })
  for (const line of loaded.log) this[`log${line.level}`](`${who}${line.message}`)
  if (!loaded.settings) {
    // Thrown from register(), this stops Haraka: a plugin that cannot route must not accept mail.
    // A string, as Haraka's own plugin loader throws: an Error would add a stack trace to the log.
    // eslint-disable-next-line @typescript-eslint/only-throw-error -- one CRIT line, as Haraka's loader logs a string
    if (starting) throw `${loaded.errorCount} error(s) in ${loaded.file}, listed above; Haraka cannot start`
    this.logerror(`${who}${loaded.file}: not reloaded, the last good config stays in force`)
    return
  }
  this.settings = loaded.settings
  this.journal.use(loaded.settings.journal, (message) => this.logwarn(message))
  this.loginfo(`${who}${starting ? 'loaded' : 'reloaded'} ${loaded.summary}`)
}

/** Notes the client's address before any rcpt plugin can replace it (original-recipients.ts). */
export function note_original_rcpt(
  this: PipeTransport,
  next: Next,
  connection: HarakaConnection,
  params: [HarakaAddress],
): void {
  if (connection.transaction) noteRcptCommand(connection.transaction, params[0])
  next()
}

/** The recipients one RCPT command added: the RCPT decision, then check_program (rcpt/). */
export function check_rcpt_route(this: PipeTransport, next: Next, connection: HarakaConnection): void {
  const transaction = connection.transaction
  if (!transaction) return next()
  const candidates = acceptedFromRcptCommand(transaction)
  if (!servesConnection(this.settings, connection.relaying)) return next()
  const answer = once((decision: RcptDecision): void =>
    decision.kind === 'continue'
      ? next()
      : next(VERDICT_CODE[decision.kind], DSN.create(decision.code, decision.text, decision.subject, decision.detail)),
  )
  answerRcptCommand(this.settings, connection, transaction, candidates)
    .then((answered) => {
      writeLog(this, connection, rcptLogEntries(answered))
      answer(answered.decision)
    })
    .catch((err: unknown) => {
      connection.logerror(this, `recipient check failed inside the plugin: ${String(err)}`)
      answer({
        kind: 'denysoft',
        code: 450,
        subject: 3,
        detail: 0,
        text: 'pipe transport cannot check this recipient now, try again later',
      })
    })
}

/** check_recipient: accept this plugin's own recipients, so they need no other rcpt plugin. */
export function hook_rcpt(
  this: PipeTransport,
  next: Next,
  connection: HarakaConnection,
  params: [HarakaAddress],
): void {
  const instance = servesConnection(this.settings, connection.relaying)
    ? acceptingInstance(this.settings, params[0])
    : undefined
  if (!instance) return next()
  connection.transaction?.results.add(this, { pass: `rcpt ${instance.name}` })
  next(OK)
}

/** Claims routed transactions, so that other queue plugins leave them to this one. */
export function hook_rcpt_ok(
  this: PipeTransport,
  next: Next,
  connection: HarakaConnection,
  address: HarakaAddress,
): void {
  const notes = connection.transaction?.notes
  if (
    notes &&
    !notes.get('queue.wants') &&
    servesConnection(this.settings, connection.relaying) &&
    isRouted(this.settings, address)
  ) {
    notes.set('queue.wants', QUEUE_NAME)
  }
  next()
}

/** Relayed mail (authenticated or relay-listed clients) comes through queue_outbound. */
export function hook_queue_outbound(this: PipeTransport, next: Next, connection: HarakaConnection): void {
  if (!this.settings.enableOutbound) return next()
  hook_queue.call(this, next, connection)
}

export function hook_queue(this: PipeTransport, next: Next, connection: HarakaConnection): void {
  const transaction = connection.transaction
  if (!transaction) return next()
  const answer = once(next)
  queueTransaction(this.settings, this.journal.current, connection, transaction)
    .then((outcome) => {
      const entries = queueLogEntries(outcome)
      for (const { result } of entries) if (result) transaction.results.add(this, result)
      writeLog(this, connection, entries)
      if (outcome.kind === 'not-ours') answer()
      else answer(VERDICT_CODE[outcome.reply.verdict], outcome.reply.text || undefined)
    })
    .catch((err: unknown) => {
      connection.logerror(this, `delivery failed inside the plugin: ${String(err)}`)
      answer(DENYSOFT, INTERNAL_ERROR.text)
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
  plugin[`log${spawner.level}`](spawner.message)
}

/** A hook's answer goes to Haraka once, whatever fails after it was given. */
function once<Args extends unknown[]>(answer: (...args: Args) => void): (...args: Args) => void {
  let answered = false
  return (...args) => {
    if (answered) return
    answered = true
    answer(...args)
  }
}

function writeLog(plugin: PipeTransport, connection: HarakaConnection, entries: readonly LogEntry[]): void {
  for (const { level, message, fields } of entries) connection[`log${level}`](plugin, message, fields)
}

/** Haraka is stopping: end every running program; their transactions are not answered 250. */
export function shutdown(this: PipeTransport): void {
  shutdownAll()
  void this.journal.close()
}
