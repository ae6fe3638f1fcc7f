// The few parts of Haraka 3.3 that pipe_transport touches, written structurally because Haraka
// ships no type definitions. Only what the plugin uses is described.
import type { Writable } from 'node:stream'

/** `@haraka/email-address` Address: `.address` is a property; `.host` is lower-cased. */
export interface HarakaAddress {
  readonly user: string
  readonly host: string
  readonly address: string
  isNull(): boolean
}

export interface HarakaMessageStream {
  pipe(
    dest: Writable,
    options: { line_endings: '\n' | '\r\n'; dot_stuffed?: boolean; end?: boolean; skip_headers?: boolean },
  ): Writable
  unpipe(dest?: Writable): void
}

export interface HarakaResults {
  add(plugin: object, result: Record<string, unknown>): void
}

export interface HarakaNotes {
  get(path: string): unknown
  set(path: string, value: unknown): void
}

/** haraka-email-message Header: the message's parsed header block. */
export interface HarakaHeader {
  /** Every value of a header field, in order. */
  get_all(name: string): string[]
  /** The header lines as they are now, folded lines whole, with their line ends. */
  readonly header_list: readonly string[]
}

export interface HarakaTransaction {
  readonly uuid: string
  readonly mail_from: HarakaAddress
  readonly rcpt_to: HarakaAddress[]
  readonly message_stream: HarakaMessageStream
  readonly header: HarakaHeader
  readonly data_bytes: number
  readonly notes: HarakaNotes
  readonly results: HarakaResults
  /** Takes each line of DATA as the client sent it (dot-stuffed, with its line end). */
  add_data(line: Buffer | string): void
}

type LogFn = (plugin: object, message: string, data?: Record<string, unknown>) => void

export interface HarakaConnection {
  readonly transaction: HarakaTransaction | null | undefined
  readonly remote: { readonly ip: string }
  readonly hello: { readonly host?: string | undefined }
  /** `auth_user`: set by Haraka's auth plugins once the client has authenticated. */
  readonly notes: { readonly auth_user?: unknown }
  readonly relaying: boolean
  loginfo: LogFn
  logwarn: LogFn
  logerror: LogFn
}

/** haraka-config's reader, as handed to a plugin in `this.config`. */
export interface HarakaConfig {
  get(name: string, onChange?: (err?: unknown) => void): unknown
  /** The file's bytes (null when it does not exist), watched like any config. */
  get(name: string, type: 'binary', onChange?: (err?: unknown) => void): Buffer | null
}

/** Hook callback: `next()` declines, `next(code, text)` answers. */
export type Next = (code?: number, text?: string | object) => void

/** Haraka's outbound module: `send_email` queues a message, and calls `next` once it is queued (or not). */
export interface HarakaOutbound {
  send_email(
    from: string,
    to: string,
    contents: string,
    next: (code: number, message?: unknown) => void,
    options?: { readonly origin?: object },
  ): void
}

/** The plugin object Haraka builds around the compiled entry (`exports` is `this`). */
export interface HarakaPlugin {
  readonly name: string
  readonly config: HarakaConfig
  timeout: number
  register_hook(hook: string, method: string, priority?: number): void
  /** One of Haraka's own modules, as a plugin loaded either way reaches it. */
  haraka_require(name: string): unknown
  loginfo(message: string): void
  logwarn(message: string): void
  logerror(message: string): void
  logcrit(message: string): void
}
