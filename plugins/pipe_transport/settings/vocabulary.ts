// The words every stage speaks: what the config says, read and checked once (settings.ts), then
// used as it is by routing, invocation, running and the queue. Everything here is immutable.

/** One argv word, or one environment value: literal text and macros (templates.ts). */
export type Template = readonly TemplatePart[]
export type TemplatePart = { readonly literal: string } | { readonly macro: Macro }

export const MACROS = [
  'sender',
  'recipient',
  'user',
  'extension',
  'mailbox',
  'domain',
  'original_recipient',
  'route_data',
  'queue_id',
  'client_address',
  'client_helo',
  'instance',
] as const
export type Macro = (typeof MACROS)[number]

export type Verdict = 'ok' | 'denysoft' | 'deny'

/**
 * A reply the plugin gives at the queue hook, where Haraka fixes the basic code by verdict (250,
 * 450, 550): a reply is a verdict plus the text after the code. Empty text lets Haraka use its own.
 */
export interface Reply {
  readonly verdict: Verdict
  readonly text: string
}

/** The exit-status table: explicit entries, then the answer for any other non-zero status. */
export interface ExitCodeTable {
  /** Values may hold `%d`, replaced by the exit status. */
  readonly entries: ReadonlyMap<number, Reply>
  readonly otherwise: Reply
}

/** How the message is shaped for one program; never changes the transaction itself. */
export interface MessageShape {
  readonly lineEnding: '\n' | '\r\n'
  /** Prepend `Return-Path: <sender>`. */
  readonly returnPath: boolean
  /** Prepend `Delivered-To: recipient` (one recipient per run), and refuse a message that has it already. */
  readonly deliveredTo: boolean
  /** Prepend `X-Original-To: original recipient` (one recipient per run). */
  readonly xOriginalTo: boolean
  /** Start with an mbox `From sender date` line and escape body lines starting `From `. */
  readonly fromLine: boolean
}

/** check_program: asked at RCPT whether a recipient exists (rcpt/check-program.ts). */
export interface CheckProgram {
  readonly program: string
  readonly arguments: readonly Template[]
  readonly timeoutSeconds: number
  /** How long an answer (exists, or does not) is reused; 0 asks every time. */
  readonly cacheSeconds: number
}

export interface Instance {
  readonly name: string
  readonly program: string
  readonly arguments: readonly Template[]
  /** `domain` entries, lower-case: `example.com`, `*.example.com`, `*`. */
  readonly domains: readonly string[]
  readonly outputFile: string
  readonly errorFile: string
  readonly directory: string
  readonly timeoutSeconds: number
  readonly maxConcurrency: number
  readonly uid: number | undefined
  readonly gid: number | undefined
  /** `[main.env]` and `[NAME.env]`, their values with macros. */
  readonly env: Readonly<Record<string, Template>>
  readonly exitCodes: ExitCodeTable
  /** Let a failing program's first stderr line, if it starts with an enhanced code, be the reply. */
  readonly statusFromStderr: boolean
  readonly shape: MessageShape
  /** Most recipients per transaction (and so per program run); undefined for no limit. */
  readonly recipientLimit: number | undefined
  /** check_recipient: accept (OK) this instance's recipients at RCPT, so they need no other rcpt plugin. */
  readonly acceptsAtRcpt: boolean
  /** lowercase_local_part (Postfix flag u): the local part in lower case in macros and environment. */
  readonly lowercaseLocalPart: boolean
  readonly checkProgram: CheckProgram | undefined
  /** Undefined with `circuit_breaker = false`. */
  readonly circuitBreaker: CircuitBreakerConfig | undefined
}

/**
 * The circuit breaker of an instance (circuit/): it opens after `failures` consecutive runs that
 * timed out, could not start or failed temporarily; after `waitSeconds` one probe may run, and
 * each failed probe doubles the wait, up to `maxWaitSeconds`.
 */
export interface CircuitBreakerConfig {
  readonly failures: number
  readonly waitSeconds: number
  readonly maxWaitSeconds: number
  /** `route_data`: one circuit per `[NAME.address]` value (each mailing list, say) instead of one per instance. */
  readonly scope: 'instance' | 'route_data'
}

/** A route found for a recipient: which instance, and the `[NAME.address]` entry's value. */
export interface RouteMatch {
  readonly instance: Instance
  /** `${route_data}`; empty for a `domain` entry. */
  readonly data: string
}

/** The routing table as the config gives it; routing/route.ts looks recipients up in it. */
export interface RouteEntries {
  /** `local@domain` and `@domain` keys with their route data (an AddressTable behind it). */
  readonly addresses: { get(key: string): RouteMatch | undefined }
  /** `local@domain` and `local@` (that local part in every domain) keys: left to other queue plugins. */
  readonly unrouted: ReadonlySet<string>
  /** `example.com`, `*.example.com` and `*` keys, as configured. */
  readonly domains: ReadonlyMap<string, RouteMatch>
}

export interface JournalConfig {
  /** `local`, `off`, or a `redis://HOST:PORT/DB` URL. */
  readonly store: string
  /** Where `local` keeps its store. */
  readonly directory: string
  /** journal_days: how long a delivery is remembered, longer than senders retry (5 days, commonly). */
  readonly retentionDays: number
  /**
   * When the journal cannot be read or written: `deliver` runs the program anyway (a retry of a
   * message already delivered may then be delivered again), `defer` answers 4xx (the sender retries
   * once the journal is back). Either way no recipient whose run did not succeed is answered 250.
   */
  readonly unavailable: 'deliver' | 'defer'
}

export interface Settings {
  readonly instances: readonly Instance[]
  readonly routes: RouteEntries
  /** How many `[NAME.address]` entries each instance has (the routing table holds them). */
  readonly addressCounts: ReadonlyMap<Instance, number>
  /** recipient_delimiter: the characters that start an address extension; undefined for none. */
  readonly recipientDelimiter: string | undefined
  /** Deliver routed domains for relaying clients too (queue_outbound). */
  readonly enableOutbound: boolean
  readonly journal: JournalConfig
  /** metrics_listen: where the Prometheus metrics are served; undefined when they are off. */
  readonly metricsListen: ListenAddress | undefined
}

export interface ListenAddress {
  /** A name or an address, an IPv6 one without its brackets. */
  readonly host: string
  readonly port: number
}
