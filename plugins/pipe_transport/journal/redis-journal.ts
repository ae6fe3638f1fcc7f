// journal = redis://HOST:PORT/DB: one journal shared by several MX hosts through Redis, with
// node-redis (the client Haraka itself depends on). Claims are SET NX PX, releases a
// compare-and-delete script, retention a TTL.
//
// While the client is not connected, an operation waits for it within its own time bound, and the
// client reconnects by itself, so an operation made as Redis comes back succeeds. Commands are never
// queued inside the client while it is disconnected (disableOfflineQueue).

import { createHash, randomBytes } from 'node:crypto'
import { createClient } from 'redis'
import { messageOf } from '../util/error-message.js'
import { boundedOperation } from './bounded-operation.js'
import {
  JournalUnavailableError,
  type Claim,
  type DeliveryJournal,
  type KeyState,
  type StoreOptions,
} from './delivery-journal.js'
import { BEGIN, DELIVERED, RELEASE } from './redis-scripts.js'

export interface RedisJournalOptions extends StoreOptions {
  /** redis://[[user]:password@]HOST[:PORT][/DB] */
  readonly url: string
}

/** Reconnect attempts back off from 50 ms to this, so a Redis that is back is used within a second. */
const MAX_RECONNECT_DELAY_MS = 1000
/** Commands sent or waiting for a reply: far above a busy server's, where a silent Redis piles them up. */
const MAX_QUEUED_COMMANDS = 20_000
const KEY_PREFIX = Buffer.from('pipe_transport:journal:')
const STATES: readonly KeyState[] = ['delivered', 'claimed', 'busy']

export class RedisJournal implements DeliveryJournal {
  readonly description: string
  private readonly client
  /** Resolves at the client's next 'ready', for the operations that wait for it meanwhile. */
  private nextReady: Promise<void> | undefined
  private down = false
  private closed = false
  private lastError = ''

  constructor(private readonly options: RedisJournalOptions) {
    const url = new URL(options.url)
    this.description = `redis ${url.host}${url.pathname === '' ? '/0' : url.pathname}`
    this.client = createClient({
      url: options.url,
      disableOfflineQueue: true,
      // Each operation has its own bound (boundedOperation); a timer per command on top of it cost
      // a tenth of Haraka's time for the journal. A Redis that stops answering leaves its commands
      // here, so their number is bounded instead: beyond it a command is refused at once.
      commandsQueueMaxLength: MAX_QUEUED_COMMANDS,
      socket: {
        connectTimeout: options.timeoutMs,
        reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, MAX_RECONNECT_DELAY_MS),
      },
    })
    // node-redis emits 'error' for every failed connection attempt; an EventEmitter 'error'
    // without a listener throws, which would stop Haraka.
    this.client.on('error', (error: unknown) => {
      this.lastError = messageOf(error)
      if (this.down) return
      this.down = true
      options.warn(`${this.description}: ${messageOf(error)}; retrying in the background`)
    })
    this.client.on('ready', () => {
      if (!this.down) return
      this.down = false
      options.warn(`${this.description}: connected again`)
    })
    // Rejected only by close() before a first connection (the reconnect strategy never gives up).
    this.client.connect().catch(() => undefined)
  }

  async begin(keys: readonly Buffer[], leaseMs: number): Promise<Claim> {
    const token = randomBytes(16)
    try {
      return await this.bounded('begin', async () => {
        const reply = await this.script(BEGIN, keys, [claimValue(token), String(Math.max(1, Math.ceil(leaseMs)))])
        if (!Array.isArray(reply) || reply.length !== keys.length)
          throw new Error(`unexpected reply ${JSON.stringify(reply)}`)
        return { states: reply.map((code) => STATES[Number(code)] ?? 'busy'), token }
      })
    } catch (error) {
      // A begin that timed out may still reach Redis: drop whatever it claims, after it.
      if (error instanceof JournalUnavailableError && error.timedOut)
        void this.script(RELEASE, keys, [claimValue(token)]).catch(() => undefined)
      throw error
    }
  }

  delivered(_claim: Claim, keys: readonly Buffer[]): Promise<void> {
    return this.bounded('delivered', async () => {
      await this.script(DELIVERED, keys, [String(this.options.retentionMs)])
    })
  }

  release(claim: Claim, keys: readonly Buffer[]): Promise<void> {
    return this.bounded('release', async () => {
      await this.script(RELEASE, keys, [claimValue(claim.token)])
    })
  }

  close(): Promise<void> {
    this.closed = true
    this.client.destroy()
    return Promise.resolve()
  }

  private bounded<T>(operation: string, work: () => Promise<T>): Promise<T> {
    return boundedOperation(
      this.description,
      operation,
      this.options.timeoutMs,
      async () => {
        if (this.closed) throw new Error('the journal is closed')
        // Connecting at start, or again after Redis went away: not a failure, unless it outlasts the bound.
        if (!this.client.isReady) await this.whenReady()
        return work()
      },
      () => (this.lastError === '' ? '' : ` (last connection error: ${this.lastError})`),
    )
  }

  private whenReady(): Promise<void> {
    this.nextReady ??= new Promise((resolve) =>
      this.client.once('ready', () => {
        this.nextReady = undefined
        resolve()
      }),
    )
    return this.nextReady
  }

  /** EVALSHA, and EVAL when Redis does not know the script yet (first use, or after a restart). */
  private async script(source: string, keys: readonly Buffer[], args: readonly (string | Buffer)[]): Promise<unknown> {
    if (keys.length === 0) return []
    const tail = [String(keys.length), ...keys.map((key) => Buffer.concat([KEY_PREFIX, key])), ...args]
    try {
      return await this.client.sendCommand(['EVALSHA', sha1(source), ...tail])
    } catch (error) {
      if (!messageOf(error).startsWith('NOSCRIPT')) throw error
      return this.client.sendCommand(['EVAL', source, ...tail])
    }
  }
}

/** A claim's stored value, what RELEASE compares before it deletes: `C` and the owner token. */
function claimValue(token: Buffer): Buffer {
  return Buffer.concat([Buffer.from('C'), token])
}

const sha1s = new Map<string, string>()
function sha1(source: string): string {
  let digest = sha1s.get(source)
  if (digest === undefined) sha1s.set(source, (digest = createHash('sha1').update(source).digest('hex')))
  return digest
}
