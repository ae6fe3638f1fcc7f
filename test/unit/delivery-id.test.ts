import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { describe, it } from 'node:test'
import { deliveryId } from '../../plugins/pipe_transport/queue/delivery-id.js'
import { recipientKey } from '../../plugins/pipe_transport/queue/fingerprint.js'

const fingerprint = (text: string): Buffer => createHash('sha256').update(text).digest()
/** The id of a message to a recipient, made as deliver-transaction.ts makes it. */
const idOf = (message: string, address: string): string => deliveryId(recipientKey(fingerprint(message), address))

describe('the delivery id', () => {
  it('is 32 hex digits, the same for the same message and recipient (in any case)', () => {
    const id = idOf('message', 'a@example.com')
    assert.match(id, /^[0-9a-f]{32}$/)
    assert.equal(idOf('message', 'A@Example.COM'), id)
  })

  it('differs for another message or another recipient, and is not the journal key', () => {
    const id = idOf('message', 'a@example.com')
    assert.notEqual(idOf('another message', 'a@example.com'), id)
    assert.notEqual(idOf('message', 'b@example.com'), id)
    assert.notEqual(recipientKey(fingerprint('message'), 'a@example.com').toString('hex').slice(0, 32), id)
  })
})
