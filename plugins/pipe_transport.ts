// pipe_transport: delivers mail for configured recipient domains to a local program during the
// SMTP transaction, and answers with that program's verdict. This entry runs in Haraka's plugin
// sandbox and only wires hooks; the work is done by the modules under ./pipe_transport/.
import { join, resolve } from 'node:path'
import { deliver } from './pipe_transport/delivery.js'
import { describeDelivery } from './pipe_transport/reply/delivery-log.js'
import DSN = require('haraka-dsn')
import { envelopeOf, senderOf } from './pipe_transport/invocation/envelope.js'
import { replyFor } from './pipe_transport/reply/exit-reply.js'
import { describeSpawner } from './pipe_transport/running/run-program.js'
import { shapedFeed } from './pipe_transport/invocation/message-shape.js'
import type { HarakaAddress, HarakaConnection, HarakaPlugin, Next } from './pipe_transport/types/haraka-types.js'
import { KILL_GRACE_MS, shutdownAll } from './pipe_transport/running/process-groups.js'
import { acceptedFromRcptCommand, noteRcptCommand, originalOf } from './pipe_transport/routing/original-recipients.js'
import { QUEUE_NAME, rcptDecision } from './pipe_transport/routing/rcpt-policy.js'
import { sameRoute } from './pipe_transport/routing/route.js'
import { routeRecipient } from './pipe_transport/routing/route-recipient.js'
import { MAX_TIMEOUT_SECONDS, formatConfigError, readSettings, type Instance, type Settings } from './pipe_transport/settings/settings.js'

// The sandbox provides Haraka's return codes as globals; helper modules use plain verdicts.
declare const OK: number
declare const DENY: number
declare const DENYSOFT: number

const CONFIG_FILE = 'pipe_transport.ini'
const VERDICT_CODE = { ok: () => OK, deny: () => DENY, denysoft: () => DENYSOFT } as const

interface PipeTransport extends HarakaPlugin {
  settings: Settings
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
}

export function load_pipe_transport_ini(this: PipeTransport): void {
  const starting = this.settings === undefined
  // bin/haraka sets HARAKA to the install dir (`-c DIR`); haraka-config's root_path is not it.
  const installDir = resolve(process.env['HARAKA'] ?? '.')
  const file = join(installDir, 'config', CONFIG_FILE)
  const raw = this.config.get(CONFIG_FILE, (err?: unknown) => {
    // haraka-config hands an Error when the edited file cannot be parsed; the old one stays cached.
    if (err) this.logerror(`${file}: cannot be parsed, keeping the last good config: ${String(err)}`)
    else this.load_pipe_transport_ini()
  })
  const read = readSettings(raw as Parameters<typeof readSettings>[0], {
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
  this.settings = read.settings
  const names = read.settings.instances.map(describeRoutes)
  this.loginfo(`${starting ? 'loaded' : 'reloaded'} ${file}: ${names.length ? names.join('; ') : 'no instances, nothing is routed'}`)
}

/** `[rt] 2 addresses`, `[lists] lists.example.com, 1 address`: what an instance routes, in brief. */
function describeRoutes(instance: Instance): string {
  const addresses = instance.addresses.size
  const routes = [...instance.domains, ...(addresses === 0 ? [] : [`${addresses} address${addresses === 1 ? '' : 'es'}`])]
  return `[${instance.name}] ${routes.join(' ')}`
}

/** Notes the client's address before any rcpt plugin can replace it (original-recipients.ts). */
export function note_original_rcpt(this: PipeTransport, next: Next, connection: HarakaConnection, params: [HarakaAddress]): void {
  if (connection.transaction) noteRcptCommand(connection.transaction, params[0])
  next()
}

/** One route per transaction, recipient limits, and no address that could become an option. */
export function check_rcpt_route(this: PipeTransport, next: Next, connection: HarakaConnection): void {
  const transaction = connection.transaction
  if (!transaction) return next()
  const candidates = acceptedFromRcptCommand(transaction)
  if (!this.handles(connection)) return next()
  const start = transaction.rcpt_to.length - candidates.length
  const first = transaction.rcpt_to[0]
  let firstAccepted = start > 0 && first ? routeRecipient(this.settings, first, originalOf(first)) : undefined
  const context = { sender: senderOf(transaction.mail_from), queueWants: transaction.notes.get('queue.wants') }
  for (const [index, candidate] of candidates.entries()) {
    const routed = routeRecipient(this.settings, candidate, originalOf(candidate))
    const decision = rcptDecision(routed, { ...context, firstAccepted, acceptedCount: start + index })
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
  const [first] = routed
  if (routed.some((each) => !sameRoute(each.match, first?.match))) {
    const names = [...new Set(routed.map((each) => each.match?.route.name ?? '(none)'))].join(', ')
    connection.logerror(this, `recipients span several routes (${names}); refusing to deliver part of the transaction`)
    return next(DENYSOFT, '4.3.0 pipe transport: recipients need different routes, send them separately')
  }
  const instance = first?.match?.route
  if (!instance) return next()

  const envelope = envelopeOf(connection, transaction, routed.flatMap((each) => (each.recipient ? [each.recipient] : [])))
  const stream = transaction.message_stream
  let answered = false
  const answer: Next = (code, text) => {
    if (answered) return
    answered = true
    next(code, text)
  }
  deliver(instance, envelope, shapedFeed(stream, instance.shape, envelope))
    .then((report) => {
      stream.unpipe()
      const log = describeDelivery(instance, envelope, report)
      transaction.results.add(this, log.result)
      connection[`log${log.level}`](this, log.message, log.fields)
      answer(VERDICT_CODE[report.reply.verdict](), report.reply.text || undefined)
    })
    .catch((err: unknown) => {
      stream.unpipe()
      connection.logerror(this, `delivery through [${instance.name}] failed inside the plugin: ${String(err)}`)
      answer(DENYSOFT, replyFor({ kind: 'internal-error', cause: String(err) }, instance.exitCodes).text)
    })
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
export function shutdown(): void {
  shutdownAll()
}
