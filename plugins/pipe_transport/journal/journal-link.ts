// Haraka's side of one journal process (journal-process.ts): starts it, sends it requests over its
// stdin and matches its replies by id, and says when it is gone. Requests made before the process
// has opened its store wait here, within their own time bound, and one whose bound has passed is
// never sent: a late begin() would claim keys for a message that was answered already.
//
// The process outlives a Haraka that crashes or is killed, long enough to release Haraka's claims
// once the guardian has killed Haraka's programs. When Haraka exits on its own (a stop, whether
// graceful or not), it has killed its programs itself (process-groups.ts) and says so with
// SIGUSR2, so that the claims are released at once.
import { spawn, type ChildProcessByStdio } from 'node:child_process'
import { Socket } from 'node:net'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import type { Readable, Writable } from 'node:stream'
import { markCloseOnExec } from '../running/close-on-exec.js'
import { KILL_GRACE_MS } from '../running/process-groups.js'
import type { KeyState } from './delivery-journal.js'
import { EXIT_REOPEN, FrameReader, decodeReply, encodeRequest, type Operation, type Request } from './journal-wire.js'

const PROCESS_MAIN = join(__dirname, 'journal-process.js')
/**
 * After Haraka's death, how long until no program of it can still be delivering: the guardian
 * notices within a fraction of a second, then gives SIGTERM the kill grace before SIGKILL.
 */
const PROGRAMS_GONE_MS = KILL_GRACE_MS + 1000

export interface LinkEvents {
  /** What the process warns of: a damaged store moved aside, a failed flush. */
  warn(message: string): void
  /** A delivered() or release() that the store could not carry out, after it was handed over. */
  failedAfterHandover(why: string): void
  /** The process is gone, or could not start: every request still open has been rejected. */
  ended(why: string, onPurpose: boolean): void
}

interface Waiting {
  resolve(states: KeyState[]): void
  reject(error: Error): void
}

/** A delivered() or release(): done for Haraka once it is in the pipe. */
interface HandedOver {
  resolve(): void
  reject(error: Error): void
}

/** Who waits for a request: a begin() for its answer, the others only for the write. */
type Waiter = { readonly answer: Waiting } | { readonly written: HandedOver }

function rejectWaiter(waiter: Waiter, error: Error): void {
  if ('answer' in waiter) waiter.answer.reject(error)
  else waiter.written.reject(error)
}

interface Queued {
  readonly request: Request
  readonly waiter: Waiter
  /** performance.now() after which nobody waits for it any more. */
  readonly deadline: number
}

/** Journal processes still running, told at Haraka's exit that its programs are gone. */
const live = new Set<JournalLink>()
let exitHookInstalled = false

export class JournalLink {
  private readonly child: ChildProcessByStdio<Writable, Readable, null>
  private readonly waiting = new Map<number, Waiting>()
  /** Requests made before the store was open; undefined once it is. */
  private queue: Queued[] | undefined = []
  private lastId = 0
  /** Frames to write at the end of this turn of the event loop, and who waits for that write. */
  private outgoing: Buffer[] = []
  private handedOver: HandedOver[] = []
  private openFailure: string | undefined
  private gone = false

  constructor(
    directory: string,
    retentionMs: number,
    private readonly events: LinkEvents,
  ) {
    installExitHook()
    markCloseOnExec()
    const env = { ...process.env }
    // Haraka's Node options (a --require'd agent, the bench's spawn timer) are Haraka's own.
    delete env['NODE_OPTIONS']
    const child = spawn(process.execPath, [PROCESS_MAIN, directory, String(retentionMs), String(PROGRAMS_GONE_MS)], {
      // Its own session: a Ctrl-C for Haraka must not end it before it has released Haraka's claims.
      detached: true,
      env,
      stdio: ['pipe', 'pipe', 'inherit'],
    })
    this.child = child
    live.add(this)
    // Haraka must be able to exit (or a tool that delivers once) while the journal process runs.
    child.unref()
    for (const pipe of [child.stdin, child.stdout]) if (pipe instanceof Socket) pipe.unref()
    child.stdin.on('error', () => undefined) // it died: 'exit' follows
    const reader = new FrameReader()
    child.stdout.on('data', (chunk: Buffer) => {
      for (const frame of reader.push(chunk)) this.take(frame)
    })
    child.once('error', (error) => this.end(`the journal process could not be started: ${error.message}`, false))
    child.once('exit', (code, signal) => {
      if (this.openFailure !== undefined) this.end(`cannot open the store: ${this.openFailure}`, false)
      else if (code === EXIT_REOPEN) this.end('the journal process ended to open its store anew', true)
      else if (signal !== null) this.end(`the journal process was killed by ${signal}`, false)
      else this.end(`the journal process exited with status ${code}`, false)
    })
  }

  /** Whether the process may still answer. */
  get alive(): boolean {
    return !this.gone
  }

  /** Whether it has opened its store (and is still there). */
  get ready(): boolean {
    return !this.gone && this.queue === undefined
  }

  /** A begin(): resolves with the states the store answers. */
  begin(token: Buffer, keys: readonly Buffer[], leaseMs: number, timeoutMs: number): Promise<KeyState[]> {
    return new Promise((resolve, reject) =>
      this.enqueue('begin', token, keys, leaseMs, timeoutMs, { answer: { resolve, reject } }),
    )
  }

  /**
   * A delivered() or release(): resolves once the request is in the journal process's pipe, from
   * where the process takes it even should Haraka die the next moment, ahead of any later request
   * of this Haraka's. Nothing answers it unless it fails (failedAfterHandover).
   */
  handOver(
    operation: 'delivered' | 'release',
    token: Buffer,
    keys: readonly Buffer[],
    timeoutMs: number,
  ): Promise<void> {
    return new Promise((resolve, reject) =>
      this.enqueue(operation, token, keys, 0, timeoutMs, { written: { resolve, reject } }),
    )
  }

  private enqueue(
    operation: Operation,
    token: Buffer,
    keys: readonly Buffer[],
    leaseMs: number,
    timeoutMs: number,
    waiter: Waiter,
  ): void {
    if (this.gone) return rejectWaiter(waiter, new Error('the journal process has ended'))
    this.lastId = this.lastId === 0xffffffff ? 1 : this.lastId + 1
    const request: Request = { id: this.lastId, operation, token, leaseMs, keys }
    if (this.queue) this.queue.push({ request, waiter, deadline: performance.now() + timeoutMs })
    else this.send(request, waiter)
  }

  /**
   * Haraka is done with it (every program has ended): it carries out what it was handed, releases
   * what is held, and exits; resolves then.
   */
  close(): Promise<void> {
    live.delete(this)
    if (this.gone) return Promise.resolve()
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()))
    this.flushOutgoing()
    this.child.kill('SIGUSR2')
    this.child.stdin.end()
    return exited
  }

  /** Ends a process whose store keeps failing; 'ended' follows. */
  kill(): void {
    if (!this.gone) this.child.kill('SIGKILL')
  }

  /**
   * At Haraka's exit, after process-groups.ts has killed every program group. What this turn had
   * still to write is tried now (a pipe takes a small write at once): a record of a run that
   * succeeded, whose 250 will never be sent, then answers the sender's retry.
   */
  programsGone(): void {
    if (this.gone) return
    this.flushOutgoing()
    this.child.kill('SIGUSR2')
  }

  /**
   * The requests of one turn of the event loop leave in one write, after the turn's I/O callbacks:
   * under load, the messages of several connections reach their begin() or delivered() in one
   * turn, and one write wakes the journal process once for all of them, in one transaction.
   */
  private send(request: Request, waiter: Waiter): void {
    if ('answer' in waiter) this.waiting.set(request.id, waiter.answer)
    else this.handedOver.push(waiter.written)
    this.outgoing.push(encodeRequest(request))
    if (this.outgoing.length === 1) setImmediate(() => this.flushOutgoing())
  }

  private flushOutgoing(): void {
    const frames = this.outgoing
    const handedOver = this.handedOver
    this.outgoing = []
    this.handedOver = []
    if (this.gone || frames.length === 0) return
    this.child.stdin.write(frames.length === 1 ? (frames[0] as Buffer) : Buffer.concat(frames), (error) => {
      for (const each of handedOver) {
        if (error) each.reject(new Error(`writing to the journal process failed: ${error.message}`))
        else each.resolve()
      }
    })
  }

  private take(frame: Buffer): void {
    const reply = decodeReply(frame)
    if (reply === undefined) return
    if (reply.id === 0) {
      if (reply.status === 'ready') this.opened()
      else if (reply.status === 'warning') this.events.warn(reply.text)
      else if (reply.status === 'failed') this.openFailure = reply.text
      return
    }
    const waiting = this.waiting.get(reply.id)
    if (!waiting) {
      if (reply.status === 'failed') this.events.failedAfterHandover(reply.text)
      return
    }
    this.waiting.delete(reply.id)
    if (reply.status === 'done') waiting.resolve([...reply.states])
    else if (reply.status === 'failed' || reply.status === 'warning') waiting.reject(new Error(reply.text))
  }

  private opened(): void {
    const queued = this.queue ?? []
    this.queue = undefined
    const now = performance.now()
    for (const { request, waiter, deadline } of queued) {
      if (deadline > now) this.send(request, waiter)
      else rejectWaiter(waiter, new Error('not sent: the journal process opened its store too late'))
    }
  }

  private end(why: string, onPurpose: boolean): void {
    if (this.gone) return
    this.gone = true
    live.delete(this)
    const error = new Error(why)
    for (const { waiter } of this.queue ?? []) rejectWaiter(waiter, error)
    for (const waiting of [...this.waiting.values(), ...this.handedOver]) waiting.reject(error)
    this.queue = undefined
    this.waiting.clear()
    this.outgoing = []
    this.handedOver = []
    this.events.ended(why, onPurpose)
  }
}

/**
 * process-groups.ts has killed every program group in its own exit listener by then: that one is
 * added when process-groups.ts loads (this file imports it), this one when the first journal
 * process starts, and listeners run in the order they were added.
 */
function installExitHook(): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.on('exit', () => {
    for (const link of live) link.programsGone()
  })
}
