// pipe_transport: delivers mail for configured recipient domains to a local program during the
// SMTP transaction, and answers with that program's verdict. This entry only wires hooks; the
// work is done by the modules under ./pipe_transport/. Haraka runs it in its plugin sandbox when
// it is copied to plugins/pipe_transport.js, and require()s it as an ordinary module when it is
// the package haraka-plugin-pipe_transport: it works the same both ways.
import cluster from 'node:cluster'
import { resolve } from 'node:path'
import { deliver } from './pipe_transport/delivery.js'
import { describeDelivery } from './pipe_transport/reply/delivery-log.js'
import { DENY, DENYSOFT, OK } from 'haraka-constants'
import DSN = require('haraka-dsn')
import { envelopeOf, senderOf } from './pipe_transport/invocation/envelope.js'
import { helperPool } from './pipe_transport/running/helper-pool.js'
import { replyFor } from './pipe_transport/reply/exit-reply.js'
import { shapedFeed } from './pipe_transport/invocation/message-shape.js'
import type { HarakaAddress, HarakaConnection, HarakaPlugin, Next } from './pipe_transport/types/haraka-types.js'
import { KILL_GRACE_MS, shutdownAll } from './pipe_transport/running/process-groups.js'
import { QUEUE_NAME, rcptDecision } from './pipe_transport/routing/rcpt-policy.js'
import { sharedRoute } from './pipe_transport/routing/route.js'
import { CONFIG_FILE, checkConfigFile, configFileOf, deliversAsRoot } from './pipe_transport/settings/config-file.js'
import { MAX_TIMEOUT_SECONDS, type RawIni, type Settings } from './pipe_transport/settings/settings.js'

/** Haraka's server, a global in both of the ways Haraka loads a plugin. */
declare const server: { readonly cfg?: { readonly main?: { readonly nodes?: unknown } } } | undefined

const VERDICT_CODE = { ok: OK, deny: DENY, denysoft: DENYSOFT } as const

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
  // Before any plugin that accepts recipients: rcpt_to.in_host_list answers OK and ends the
  // chain, and a plugin listed after it would never see the recipient.
  this.register_hook('rcpt', 'check_rcpt_route', -100)
}

export function load_pipe_transport_ini(this: PipeTransport): void {
  const starting = this.settings === undefined
  // bin/haraka sets HARAKA to the install dir (`-c DIR`); haraka-config's root_path is not it.
  const installDir = resolve(process.env['HARAKA'] ?? '.')
  const file = configFileOf(installDir)
  const who = clusterProcess()
  const raw = this.config.get(CONFIG_FILE, (err?: unknown) => {
    // haraka-config hands an Error when the edited file cannot be parsed; the old one stays cached.
    if (err) this.logerror(`${who}${file}: cannot be parsed, keeping the last good config: ${String(err)}`)
    else this.load_pipe_transport_ini()
  })
  const loaded = checkConfigFile(file, raw as RawIni, { installDir, runningAsRoot: deliversAsRoot(this.config.get('smtp.ini')) })
  for (const warning of loaded.warnings) this.logwarn(`${who}${warning}`)
  for (const error of loaded.errors) this.logcrit(`${who}${error}`)
  if (!loaded.settings) {
    // Thrown from register(), this stops Haraka: a plugin that cannot route must not accept mail.
    // A string, as Haraka's own plugin loader throws: an Error would add a stack trace to the log.
    if (starting) throw `${loaded.errors.length} error(s) in ${file}, listed above; Haraka cannot start`
    this.logerror(`${who}${file}: not reloaded, the last good config stays in force`)
    return
  }
  this.settings = loaded.settings
  helperPool.configure(loaded.settings.spawnHelpers)
  const names = loaded.settings.instances.map((instance) => `[${instance.name}] ${instance.domains.join(' ')}`)
  this.loginfo(`${who}${starting ? 'loaded' : 'reloaded'} ${file}: ${names.length ? names.join('; ') : 'no instances, nothing is routed'}`)
}

/**
 * In cluster mode (smtp.ini `nodes`) the master and every worker load the config and log about
 * it; each says which it is. Haraka fills in `nodes = 1` when smtp.ini leaves it unset.
 */
function clusterProcess(): string {
  if (cluster.isWorker) return `worker ${cluster.worker?.id ?? '?'}: `
  return typeof server === 'object' && server.cfg?.main?.nodes ? 'cluster master: ' : ''
}

/** One route per transaction, recipient limits, and no address that could become an option. */
export function check_rcpt_route(this: PipeTransport, next: Next, connection: HarakaConnection, params: [HarakaAddress]): void {
  const transaction = connection.transaction
  if (!transaction || !this.handles(connection)) return next()
  const [candidate] = params
  const decision = rcptDecision(
    this.settings,
    { address: candidate.address, domain: candidate.host },
    {
      sender: senderOf(transaction.mail_from),
      // Haraka has already appended the candidate; the others were accepted before it.
      acceptedDomains: transaction.rcpt_to.filter((rcpt) => rcpt !== candidate).map((rcpt) => rcpt.host),
      queueWants: transaction.notes.get('queue.wants'),
    },
  )
  if (decision.kind === 'continue') return next()
  const code = decision.kind === 'deny' ? DENY : DENYSOFT
  next(code, DSN.create(decision.code, decision.text, decision.subject, decision.detail))
}

/** check_recipient: accept this plugin's own domains, so they need no other rcpt plugin. */
export function hook_rcpt(this: PipeTransport, next: Next, connection: HarakaConnection, params: [HarakaAddress]): void {
  const instance = this.handles(connection) ? this.settings.routes.lookup(params[0].host) : undefined
  if (!instance?.checkRecipient) return next()
  connection.transaction?.results.add(this, { pass: `rcpt ${instance.name}` })
  next(OK)
}

/** Claims routed transactions, so that other queue plugins leave them to this one. */
export function hook_rcpt_ok(this: PipeTransport, next: Next, connection: HarakaConnection, address: HarakaAddress): void {
  const notes = connection.transaction?.notes
  if (notes && !notes.get('queue.wants') && this.handles(connection) && this.settings.routes.lookup(address.host)) {
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

  const shared = sharedRoute(this.settings.routes, transaction.rcpt_to.map((rcpt) => rcpt.host))
  if ('mixed' in shared) {
    const names = shared.mixed.map((instance) => instance?.name ?? '(none)').join(', ')
    connection.logerror(this, `recipients span several routes (${names}); refusing to deliver part of the transaction`)
    return next(DENYSOFT, '4.3.0 pipe transport: recipients need different routes, send them separately')
  }
  const instance = shared.route
  if (!instance) return next()

  const envelope = envelopeOf(connection, transaction, transaction.rcpt_to)
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
      answer(VERDICT_CODE[report.reply.verdict], report.reply.text || undefined)
    })
    .catch((err: unknown) => {
      stream.unpipe()
      connection.logerror(this, `delivery through [${instance.name}] failed inside the plugin: ${String(err)}`)
      answer(DENYSOFT, replyFor({ kind: 'internal-error', cause: String(err) }, instance.exitCodes).text)
    })
}

/**
 * The spawn helpers start once Haraka serves SMTP, not in register(): register() runs in a cluster
 * master too, which delivers nothing, and before Haraka drops privileges (smtp.ini user/group).
 */
export function hook_init_master(this: PipeTransport, next: Next, server: { cluster?: unknown }): void {
  if (!server.cluster) helperPool.start(this)
  next()
}

export function hook_init_child(this: PipeTransport, next: Next): void {
  helperPool.start(this)
  next()
}

/** Haraka is stopping: end every running program; their transactions are not answered 250. */
export function shutdown(): void {
  shutdownAll()
  helperPool.stop()
}
