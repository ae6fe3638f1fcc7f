// The frames between Haraka and its journal process (journal-link.ts, journal-process.ts), over the
// process's stdin and stdout. Binary and fixed-layout, because both sides handle two of them per
// message: no serialiser, no text to parse. Every frame starts with its length (uint32 LE) and the
// id of the request it belongs to (uint32 LE). Each side writes the frames of one tick together,
// so under load one read takes many.
//
// request   id, op (1 begin, 2 delivered, 3 release), owner token (16 bytes), lease in ms (uint32,
//           begin only), key count (uint16), the keys (32 bytes each)
// reply     id, status (0 done, 1 failed), then for a begin done one state byte per key
//           (0 delivered, 1 claimed, 2 busy), for a failure the reason (UTF-8)
// notice    id 0, status (2 ready: the store is open; 3 warning), then for a warning its text
import type { KeyState } from './delivery-journal.js'

export const OP = { begin: 1, delivered: 2, release: 3 } as const
export type Operation = keyof typeof OP

export const STATUS = { done: 0, failed: 1, ready: 2, warning: 3 } as const

/** The journal process ended on purpose (its store was removed or replaced): start a new one. */
export const EXIT_REOPEN = 3

export const KEY_BYTES = 32
export const TOKEN_BYTES = 16
const LENGTH_BYTES = 4
const REQUEST_HEAD = LENGTH_BYTES + 4 + 1 + TOKEN_BYTES + 4 + 2
const REPLY_HEAD = LENGTH_BYTES + 4 + 1
/** More keys than a frame can count are a bug of the caller, not something to cut short. */
export const MAX_KEYS = 0xffff

const STATES: readonly KeyState[] = ['delivered', 'claimed', 'busy']
const STATE_CODES: Readonly<Record<KeyState, number>> = { delivered: 0, claimed: 1, busy: 2 }

export interface Request {
  readonly id: number
  readonly operation: Operation
  readonly token: Buffer
  readonly leaseMs: number
  readonly keys: readonly Buffer[]
}

export function encodeRequest(request: Request): Buffer {
  const { keys } = request
  if (keys.length > MAX_KEYS) throw new RangeError(`${keys.length} keys in one journal request, at most ${MAX_KEYS}`)
  const frame = Buffer.allocUnsafe(REQUEST_HEAD + keys.length * KEY_BYTES)
  frame.writeUInt32LE(frame.length - LENGTH_BYTES, 0)
  frame.writeUInt32LE(request.id, 4)
  frame[8] = OP[request.operation]
  request.token.copy(frame, 9, 0, TOKEN_BYTES)
  frame.writeUInt32LE(Math.min(0xffffffff, Math.max(0, Math.ceil(request.leaseMs))), 25)
  frame.writeUInt16LE(keys.length, 29)
  keys.forEach((key, index) => key.copy(frame, REQUEST_HEAD + index * KEY_BYTES, 0, KEY_BYTES))
  return frame
}

/** undefined for a frame that is not a request: the peer is not this version's Haraka. */
export function decodeRequest(frame: Buffer): Request | undefined {
  if (frame.length < REQUEST_HEAD) return undefined
  const operation = (['begin', 'delivered', 'release'] as const)[(frame[8] ?? 0) - 1]
  const count = frame.readUInt16LE(29)
  if (operation === undefined || frame.length !== REQUEST_HEAD + count * KEY_BYTES) return undefined
  const keys: Buffer[] = []
  for (let offset = REQUEST_HEAD; offset < frame.length; offset += KEY_BYTES)
    keys.push(frame.subarray(offset, offset + KEY_BYTES))
  return {
    id: frame.readUInt32LE(4),
    operation,
    token: frame.subarray(9, 9 + TOKEN_BYTES),
    leaseMs: frame.readUInt32LE(25),
    keys,
  }
}

export type Reply =
  | { readonly id: number; readonly status: 'done'; readonly states: readonly KeyState[] }
  | { readonly id: number; readonly status: 'failed' | 'warning'; readonly text: string }
  | { readonly id: 0; readonly status: 'ready' }

export function encodeReply(reply: Reply): Buffer {
  const payload =
    reply.status === 'done'
      ? Buffer.from(reply.states.map((state) => STATE_CODES[state]))
      : reply.status === 'ready'
        ? Buffer.alloc(0)
        : Buffer.from(reply.text, 'utf8')
  const frame = Buffer.allocUnsafe(REPLY_HEAD + payload.length)
  frame.writeUInt32LE(frame.length - LENGTH_BYTES, 0)
  frame.writeUInt32LE(reply.id, 4)
  frame[8] = STATUS[reply.status]
  payload.copy(frame, REPLY_HEAD)
  return frame
}

export function decodeReply(frame: Buffer): Reply | undefined {
  if (frame.length < REPLY_HEAD) return undefined
  const id = frame.readUInt32LE(4)
  const payload = frame.subarray(REPLY_HEAD)
  switch (frame[8]) {
    case STATUS.done: {
      const states = [...payload].map((code) => STATES[code])
      return states.every((state) => state !== undefined) ? { id, status: 'done', states } : undefined
    }
    case STATUS.failed:
      return { id, status: 'failed', text: payload.toString('utf8') }
    case STATUS.warning:
      return { id, status: 'warning', text: payload.toString('utf8') }
    case STATUS.ready:
      return { id: 0, status: 'ready' }
    default:
      return undefined
  }
}

/**
 * Cuts a byte stream into whole frames: a read may end inside a frame, and hold many. The frames
 * handed out are views of the chunks read: a receiver copies what it keeps.
 */
export class FrameReader {
  private rest: Buffer = Buffer.alloc(0)

  /** The whole frames that this chunk completes, each with its length prefix. */
  push(chunk: Buffer): Buffer[] {
    let bytes = this.rest.length === 0 ? chunk : Buffer.concat([this.rest, chunk])
    const frames: Buffer[] = []
    while (bytes.length >= LENGTH_BYTES) {
      const end = LENGTH_BYTES + bytes.readUInt32LE(0)
      if (bytes.length < end) break
      frames.push(bytes.subarray(0, end))
      bytes = bytes.subarray(end)
    }
    this.rest = bytes
    return frames
  }
}
