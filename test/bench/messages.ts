// The messages the bench sends: a typical small one for throughput, and a large one for memory.
import { crlf } from '../e2e/fixtures.js'
import type { Mail } from '../e2e/smtp.js'
import { BENCH_DOMAIN } from './modes.js'

const LINE = 'The quick brown fox jumps over the lazy dog; pack my box with five dozen liquor jugs.'

function message(subject: string, bodyLines: number, id = 'bench'): string {
  return crlf([
    'From: Bench Sender <sender@client.test>',
    `To: <rcpt@${BENCH_DOMAIN}>`,
    `Subject: ${subject}`,
    'Date: Thu, 01 Jan 2026 00:00:00 +0000',
    `Message-ID: <${id}@client.test>`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=us-ascii',
    '',
    ...Array.from({ length: bodyLines }, (_, i) => `${i} ${LINE}`),
  ])
}

/** About 3 kB, the size of an ordinary text mail. */
export const benchMail: Mail = {
  from: 'sender@client.test',
  to: [`rcpt@${BENCH_DOMAIN}`],
  message: message('bench', 32),
}

/**
 * The n-th of a run's messages: benchMail with a Message-ID of its own, the same size give or take
 * a few bytes. Every message differs, as real mail does, so a delivery journal runs each one.
 */
export function nthBenchMail(n: number, recipients = 1): Mail {
  const to = Array.from({ length: recipients }, (_, i) => `rcpt${i}@${BENCH_DOMAIN}`)
  return { from: 'sender@client.test', to, message: message('bench', 32, `bench-${process.pid}-${n}-${Date.now()}`) }
}

/** `megabytes` MB of short lines (Haraka limits line length; it holds up to 25 MiB in memory). */
export function largeMail(megabytes: number): Mail {
  const lines = Math.ceil((megabytes * 1024 * 1024) / (LINE.length + 8))
  return { from: 'sender@client.test', to: [`rcpt@${BENCH_DOMAIN}`], message: message('large', lines) }
}
