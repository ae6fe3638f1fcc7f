// The journal's fingerprint, taken from a real Haraka transaction (node_modules/haraka) fed the
// lines of DATA as Haraka's connection feeds them, one add_data() call per line.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { describe, it } from 'node:test'
import { Address } from '@haraka/email-address'
import { fingerprintAsItArrives, messageFingerprint } from '../../plugins/pipe_transport/queue/fingerprint.js'
import type { HarakaTransaction } from '../../plugins/pipe_transport/types/haraka-types.js'

interface RealTransaction extends HarakaTransaction {
  mail_from: HarakaTransaction['mail_from']
  end_data(done: () => void): void
  readonly message_stream: HarakaTransaction['message_stream'] & { readonly bytes_read: number }
}

// eslint-disable-next-line @typescript-eslint/no-require-imports -- Haraka's own module, which ships no types
const { createTransaction } = require('haraka/transaction.js') as {
  createTransaction: (uuid: string, cfg: object) => RealTransaction
}

const LINES = [
  'From: a@x.test\r\n',
  'Subject: fingerprint\r\n',
  '\r\n',
  '..a line that starts with a dot, dot-stuffed\r\n',
  'body\r\n',
]

/** A transaction that rcpt_ok gave to `queue` (the queue.wants note), at its data hook. */
function transactionAtData(sender: string, queue = 'pipe_transport'): RealTransaction {
  const transaction = createTransaction('6B0B1E2C-0000-4000-8000-000000000000.1', { main: {} })
  transaction.mail_from = new Address(`<${sender}>`)
  transaction.notes.set('queue.wants', queue)
  return transaction
}

async function sendLines(transaction: RealTransaction, lines: readonly string[]): Promise<void> {
  for (const line of lines) transaction.add_data(Buffer.from(line))
  await new Promise<void>((done) => transaction.end_data(done))
}

async function fingerprintOf(sender: string, lines: readonly string[]): Promise<Buffer | undefined> {
  const transaction = transactionAtData(sender)
  fingerprintAsItArrives(transaction)
  await sendLines(transaction, lines)
  return messageFingerprint(transaction)
}

describe('the message fingerprint', () => {
  it('is SHA-256 over the sender, a NUL and the lines of DATA exactly as the client sent them', async () => {
    const expected = createHash('sha256').update('s@x.test\0').update(LINES.join('')).digest()
    assert.deepEqual(await fingerprintOf('s@x.test', LINES), expected)
  })

  it('is the same for the same message, and differs for another body or another sender', async () => {
    const first = await fingerprintOf('s@x.test', LINES)
    assert.deepEqual(await fingerprintOf('s@x.test', LINES), first)
    assert.notDeepEqual(await fingerprintOf('s@x.test', [...LINES.slice(0, -1), 'Body\r\n']), first)
    assert.notDeepEqual(await fingerprintOf('t@x.test', LINES), first)
  })

  it("is taken without reading Haraka's message stream, which still gets every line", async () => {
    const transaction = transactionAtData('s@x.test')
    transaction.message_stream.pipe = () => assert.fail('the message stream was read for the fingerprint')
    fingerprintAsItArrives(transaction)
    await sendLines(transaction, LINES)
    assert.ok(messageFingerprint(transaction))
    assert.equal(transaction.message_stream.bytes_read, Buffer.byteLength(LINES.join('')))
  })

  it('is not taken for a transaction that another queue plugin delivers', async () => {
    const transaction = transactionAtData('s@x.test', 'smtp_forward')
    fingerprintAsItArrives(transaction)
    await sendLines(transaction, LINES)
    assert.equal(messageFingerprint(transaction), undefined)
  })

  it('lets a line that comes after the fingerprint was taken through, without throwing', async () => {
    const transaction = transactionAtData('s@x.test')
    fingerprintAsItArrives(transaction)
    await sendLines(transaction, LINES)
    const taken = messageFingerprint(transaction)
    transaction.add_data(Buffer.from('late\r\n'))
    assert.deepEqual(messageFingerprint(transaction), taken)
  })
})
