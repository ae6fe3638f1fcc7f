// What makes a retry "the same message" for the delivery journal: the envelope sender and the
// content as the client sent it. Left out: the Received header Haraka adds (it names this attempt),
// Authentication-Results (assembled per attempt from checks such as SPF), and every header that
// other plugins add (spam scores, say), by taking the header lines as they were before any
// data_post hook but this plugin's first one ran. The journal keeps hashes of these, never content.
import { createHash } from 'node:crypto'
import type { HarakaTransaction } from '../types/haraka-types.js'
import { readMessage } from './message-source.js'

const clientHeaders = new WeakMap<HarakaTransaction, readonly string[]>()

/** At data_post, before any other plugin: the header lines the client sent. */
export function noteClientHeaders(transaction: HarakaTransaction): void {
  clientHeaders.set(transaction, headerLinesOf(transaction))
}

function headerLinesOf(transaction: HarakaTransaction): string[] {
  const ours = (line: string): boolean =>
    (/^received:/i.test(line) && line.includes(transaction.uuid)) || /^authentication-results:/i.test(line)
  return transaction.header.header_list.filter((line) => !ours(line))
}

/** The message's fingerprint: SHA-256 over sender, client header lines and body. */
export async function messageFingerprint(transaction: HarakaTransaction, sender: string): Promise<Buffer> {
  const hash = createHash('sha256')
  hash.update(`${sender}\0`)
  for (const line of clientHeaders.get(transaction) ?? headerLinesOf(transaction)) hash.update(line)
  hash.update('\0')
  // The body only (no headers, as stored): the client's header lines are hashed above.
  await readMessage(transaction.message_stream, { line_endings: '\n', skip_headers: true }, (chunk) =>
    hash.update(chunk),
  )
  return hash.digest()
}

/** The journal's key for one recipient of a fingerprinted message. */
export function recipientKey(fingerprint: Buffer, address: string): Buffer {
  return createHash('sha256').update(fingerprint).update(address.toLowerCase()).digest()
}
