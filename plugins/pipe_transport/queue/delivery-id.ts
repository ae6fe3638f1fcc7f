// `${delivery_id}` and DELIVERY_ID: a name for the delivery of one message to one recipient, which
// a back end can remember to drop a duplicate that no journal can prevent (a run killed at its
// timeout after the back end had committed is run again on the retry). It is derived from the
// journal's fingerprint of the message (fingerprint.ts) and the recipient, so every retry of the
// same message to the same recipient, through any Haraka process or MX host, gets the same id,
// and anything else another one. It exists with `journal = off` too.
import { createHash } from 'node:crypto'

/**
 * 128 bits as 32 lower-case hex digits: a word any program can take as a file name or a key. From
 * the recipient's journal key (fingerprint.ts recipientKey), which the transaction has anyway.
 */
export function deliveryId(recipientKey: Buffer): string {
  // Hashed once more, so that the id a program sees is not the journal's own key.
  return createHash('sha256').update('pipe_transport delivery id\0').update(recipientKey).digest('hex').slice(0, 32)
}
