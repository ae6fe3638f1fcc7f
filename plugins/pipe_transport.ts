// pipe_transport: delivers mail for configured recipients (domains, addresses) to a local program
// during the SMTP transaction, and answers with that program's verdict. This entry only wires
// Haraka's hooks to the stages under ./pipe_transport/ (docs/architecture.md). Haraka runs it in
// its plugin sandbox when it is copied to plugins/pipe_transport.js, and require()s it as an
// ordinary module when it is the package haraka-plugin-pipe_transport: it works the same both ways.
import { resolve } from 'node:path'
import { DENY, DENYSOFT, OK } from 'haraka-constants'
import DSN = require('haraka-dsn')
import { onCircuitChange } from './pipe_transport/circuit/circuit-breaker.js'
import { JournalHolder } from './pipe_transport/journal/journal-holder.js'
import { pluginLog, processTag, record } from './pipe_transport/log/haraka-log.js'
import { describeCircuitChange, queueLogEntries, rcptLogEntries } from './pipe_transport/log/log-entries.js'
import { PluginMetrics } from './pipe_transport/metrics/plugin-metrics.js'
import {
  noteMailParameters,
  noteRcptParameters,
  type EsmtpParameters,
} from './pipe_transport/invocation/dsn-parameters.js'
import { fingerprintAsItArrives } from './pipe_transport/queue/fingerprint.js'
import { LONGEST_DELIVERY_SECONDS } from './pipe_transport/queue/perform-run.js'
import { outboundOf } from './pipe_transport/queue/haraka-outbound.js'
import { InFlight } from './pipe_transport/queue/in-flight.js'
import { queueTransaction } from './pipe_transport/queue/queue-transaction.js'
import { INTERNAL_ERROR } from './pipe_transport/queue/run-reply.js'
import { CHECK_FAILED, acceptsAtRcpt, answerRcptCommand, claimQueue } from './pipe_transport/rcpt/rcpt-command.js'
import { noteRcptCommand } from './pipe_transport/routing/original-recipients.js'
import type { RcptDecision } from './pipe_transport/routing/rcpt-policy.js'
import { shutdownAll } from './pipe_transport/running/process-groups.js'
import { describeSpawner } from './pipe_transport/running/run-program.js'
import { loadConfigFile } from './pipe_transport/settings/config-file.js'
import { harakaConfigGrammar } from './pipe_transport/settings/ini-text.js'
import type { Settings } from './pipe_transport/settings/vocabulary.js'
import type {
  HarakaAddress as Address,
  HarakaConnection as Connection,
  HarakaPlugin,
  Next,
} from './pipe_transport/types/haraka-types.js'
import { once } from './pipe_transport/util/once.js'

/** Haraka's server, a global in both of the ways Haraka loads a plugin. */
declare const server: { readonly cfg?: { readonly main?: { readonly nodes?: unknown } } } | undefined
/** Which process of a cluster speaks, for lines logged outside a connection. */
const who = (): string => processTag(typeof server === 'object' ? server.cfg?.main?.nodes : undefined)

const VERDICT_CODE = { ok: OK, deny: DENY, denysoft: DENYSOFT } as const
// Through the entry's own require: in the sandbox, Haraka's haraka-config (a copied install dir has
// none beside the plugin's folder); as a package, the package's dependency.
const GRAMMAR = harakaConfigGrammar(require)

interface PipeTransport extends HarakaPlugin {
  settings: Settings
  journal: JournalHolder
  delivering: InFlight
  metrics: PluginMetrics
  load_pipe_transport_ini(): void
}

/** A hook as Haraka calls it, with the hook's own arguments after the connection. */
type Hook<Args extends unknown[] = []> = (
  this: PipeTransport,
  next: Next,
  connection: Connection,
  ...args: Args
) => void
type Parameters = [Address, EsmtpParameters?]

export function register(this: PipeTransport): void {
  // Haraka's hook timeout must never answer for us ("450 plugin timeout" while a program may
  // still deliver).
  this.timeout = LONGEST_DELIVERY_SECONDS + 10
  this.journal = new JournalHolder()
  this.delivering = new InFlight()
  this.metrics = new PluginMetrics()
  onCircuitChange((change) => {
    const { level, message } = describeCircuitChange(change)
    this[`log${level}`](`${who()}${message}`)
  })
  this.load_pipe_transport_ini()
  // Before every other rcpt plugin: the client's address as it came, which haraka-plugin-aliases
  // and the like replace. Routing follows the address as rcpt plugins left it, at rcpt_ok, which
  // runs for every accepted recipient whatever the plugin order.
  this.register_hook('mail', 'note_mail_parameters', -100)
  this.register_hook('rcpt', 'note_original_rcpt', -100)
  this.register_hook('rcpt_ok', 'check_rcpt_route', -100)
  // Before any other data hook could answer DATA: the message's lines are hashed as they arrive.
  this.register_hook('data', 'fingerprint_message', -100)
}

export function load_pipe_transport_ini(this: PipeTransport): void {
  const starting = !('settings' in this)
  const tag = who()
  // bin/haraka sets HARAKA to the install dir (`-c DIR`); haraka-config's root_path is not it.
  const loaded = loadConfigFile(resolve(process.env['HARAKA'] ?? '.'), this.config, GRAMMAR, (notReloaded) => {
    if (notReloaded === undefined) this.load_pipe_transport_ini()
    else this[`log${notReloaded.level}`](`${tag}${notReloaded.message}`)
  })
  for (const line of loaded.log) this[`log${line.level}`](`${tag}${line.message}`)
  if (!loaded.settings) {
    // Thrown from register(), this stops Haraka: a plugin that cannot route must not accept mail.
    // eslint-disable-next-line @typescript-eslint/only-throw-error -- one CRIT line, as Haraka's loader logs a string
    if (starting) throw `${loaded.errorCount} error(s) in ${loaded.file}, listed above; Haraka cannot start`
    this.logerror(`${tag}${loaded.file}: not reloaded, the last good config stays in force`)
    return
  }
  this.settings = loaded.settings
  this.journal.use(loaded.settings.journal, pluginLog(this))
  const metrics = this.metrics.use(loaded.settings)
  if (!metrics.ok) this.logerror(`${tag}${metrics.error}`)
  this.loginfo(`${tag}${starting ? 'loaded' : 'reloaded'} ${loaded.summary}`)
}

/** RET and ENVID, for a DSN and `${envid}`. */
export const note_mail_parameters: Hook<[Parameters]> = function (next, connection, params) {
  if (connection.transaction) noteMailParameters(connection.transaction, params[1])
  next()
}

export const note_original_rcpt: Hook<[Parameters]> = function (next, connection, params) {
  if (connection.transaction) noteRcptCommand(connection.transaction, params[0])
  noteRcptParameters(params[0], params[1])
  next()
}

/** The recipients one RCPT command added: the RCPT decision, then check_program. */
export function check_rcpt_route(this: PipeTransport, next: Next, connection: Connection): void {
  const answer = once((decision: RcptDecision) => {
    if (decision.kind === 'continue') next()
    else next(VERDICT_CODE[decision.kind], DSN.create(decision.code, decision.text, decision.subject, decision.detail))
  })
  answerRcptCommand(this.settings, connection)
    .then((answered) => {
      record(this, connection, rcptLogEntries(answered))
      answer(answered.decision)
    })
    .catch((err: unknown) => {
      connection.logerror(this, `recipient check failed inside the plugin: ${String(err)}`)
      answer(CHECK_FAILED)
    })
}

/** check_recipient: accept this plugin's own recipients, so they need no other rcpt plugin. */
export function hook_rcpt(this: PipeTransport, next: Next, connection: Connection, params: [Address]): void {
  const instance = acceptsAtRcpt(this.settings, connection, params[0])
  if (!instance) return next()
  connection.transaction?.results.add(this, { pass: `rcpt ${instance.name}` })
  next(OK)
}

export function hook_rcpt_ok(this: PipeTransport, next: Next, connection: Connection, address: Address): void {
  claimQueue(this.settings, connection, address)
  next()
}

/** Relayed mail (authenticated or relay-listed clients) comes through queue_outbound. */
export function hook_queue_outbound(this: PipeTransport, next: Next, connection: Connection): void {
  if (!this.settings.enableOutbound) return next()
  hook_queue.call(this, next, connection)
}

export function hook_queue(this: PipeTransport, next: Next, connection: Connection): void {
  const transaction = connection.transaction
  if (!transaction) return next()
  const answer = once(next)
  this.delivering
    .track(queueTransaction(this.settings, this.journal.current, connection, transaction, outboundOf(this)))
    .then((outcome) => {
      record(this, connection, queueLogEntries(outcome))
      if (outcome.kind === 'not-ours') answer()
      else answer(VERDICT_CODE[outcome.reply.verdict], outcome.reply.text || undefined)
    })
    .catch((err: unknown) => {
      connection.logerror(this, `delivery failed inside the plugin: ${String(err)}`)
      answer(DENYSOFT, INTERNAL_ERROR.text)
    })
}

/** At DATA: the journal's fingerprint is taken from the message's lines as the client sends them. */
export function fingerprint_message(this: PipeTransport, next: Next, connection: Connection): void {
  if (connection.transaction) fingerprintAsItArrives(connection.transaction)
  next()
}

/**
 * The metrics endpoint, in the process Haraka starts first: a single Haraka serves its own
 * metrics, a cluster master the sum of its workers'. How programs will start is said where Haraka
 * serves SMTP: not in a cluster master, which delivers nothing.
 */
export function hook_init_master(this: PipeTransport, next: Next, server: { cluster?: unknown }): void {
  this.metrics.serve(Boolean(server.cluster), pluginLog(this))
  if (!server.cluster) hook_init_child.call(this, next)
  else next()
}

export function hook_init_child(this: PipeTransport, next: Next): void {
  const spawner = describeSpawner()
  this[`log${spawner.level}`](spawner.message)
  next()
}

/**
 * Haraka is stopping gracefully: end every running program (their transactions are not answered
 * 250). Their runs release their claims as they end; then the journal closes. A Haraka that exits
 * without this (a plain SIGINT, a crash) has its journal process release the claims instead.
 */
export function shutdown(this: PipeTransport): void {
  shutdownAll()
  void this.delivering.settled().then(() => this.journal.close())
  void this.metrics.close()
}
