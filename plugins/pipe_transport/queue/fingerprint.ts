// What makes a retry "the same message" for the delivery journal: the envelope sender and the
// message exactly as the client sent it, every line of DATA as Haraka reads it from the client
// (dot-stuffed, with its line end). Haraka's own Received header is not among them (Haraka adds it
// before the data hook, where hashing starts), nor is anything that plugins add or change later
// (Authentication-Results, spam scores, a banner): they change the message stream, not the lines
// the client sent.
//
// The lines are hashed as they arrive: Haraka's transaction.add_data() takes each line of DATA,
// and this wraps it for the transaction. So the fingerprint costs one hash update per line while
// DATA streams past, and neither a copy of the message nor a second read of Haraka's message
// stream. The journal keeps hashes of these, never content.
import { createHash, type Hash } from 'node:crypto'
import { QUEUE_NAME } from '../routing/rcpt-policy.js'
import { senderOf } from '../routing/recipient.js'
import type { HarakaTransaction } from '../types/haraka-types.js'

interface Fingerprint {
  readonly hash: Hash
  digest?: Buffer
}

const fingerprints = new WeakMap<HarakaTransaction, Fingerprint>()

/**
 * At the data hook, before the client sends the message: hashes its lines as they arrive, for a
 * transaction that pipe_transport delivers (rcpt_ok claimed it: the queue.wants note).
 */
export function fingerprintAsItArrives(transaction: HarakaTransaction): void {
  if (transaction.notes.get('queue.wants') !== QUEUE_NAME) return
  const fingerprint: Fingerprint = { hash: createHash('sha256').update(`${senderOf(transaction.mail_from)}\0`) }
  fingerprints.set(transaction, fingerprint)
  const addData = transaction.add_data.bind(transaction)
  transaction.add_data = (line) => {
    // An update after the digest would throw inside Haraka's socket handler, and stop Haraka.
    if (fingerprint.digest === undefined) fingerprint.hash.update(line)
    addData(line)
  }
}

/**
 * The message's fingerprint, SHA-256 over the sender and the lines of DATA; undefined when none was
 * taken (another plugin's data hook answered DATA before this plugin's ran).
 */
export function messageFingerprint(transaction: HarakaTransaction): Buffer | undefined {
  const fingerprint = fingerprints.get(transaction)
  if (fingerprint === undefined) return undefined
  fingerprint.digest ??= fingerprint.hash.digest()
  return fingerprint.digest
}

/** The journal's key for one recipient of a fingerprinted message. */
export function recipientKey(fingerprint: Buffer, address: string): Buffer {
  return createHash('sha256').update(fingerprint).update(address.toLowerCase()).digest()
}
