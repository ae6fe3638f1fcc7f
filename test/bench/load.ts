// Drives one Haraka with a fixed number of messages over `concurrency` reused connections and
// records each message's latency (MAIL FROM to the reply to the final dot).
import { performance } from 'node:perf_hooks'
import { SmtpSession, type Mail } from '../e2e/smtp.js'

export interface LoadResult {
  readonly elapsedMs: number
  readonly latenciesMs: readonly number[]
  /** Replies other than 250, as "code text"; the bench refuses to report a run with any. */
  readonly failures: readonly string[]
}

/**
 * `mail` is the message, or what gives the n-th one: a delivery journal answers a message sent
 * again without running anything, so a bench of real runs sends each message once.
 */
export async function runLoad(
  port: number,
  mail: Mail | ((n: number) => Mail),
  messages: number,
  concurrency: number,
): Promise<LoadResult> {
  const nth = typeof mail === 'function' ? mail : (): Mail => mail
  // Connections are opened before the clock starts: the bench measures delivery, not connecting.
  const sessions = await Promise.all(Array.from({ length: concurrency }, () => SmtpSession.open(port)))
  const latenciesMs: number[] = []
  const failures: string[] = []
  let started = 0
  const worker = async (session: SmtpSession): Promise<void> => {
    while (started < messages) {
      const message = nth(started++)
      const sent = performance.now()
      const { reply } = await session.send(message)
      latenciesMs.push(performance.now() - sent)
      if (reply?.code !== 250) failures.push(reply ? `${reply.code} ${reply.text}` : 'no recipient accepted')
    }
  }
  const begin = performance.now()
  try {
    await Promise.all(sessions.map(worker))
    return { elapsedMs: performance.now() - begin, latenciesMs, failures }
  } finally {
    for (const session of sessions) session.close()
  }
}

/** The q-quantile (0..1) of the values, nearest rank. */
export function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((x, y) => x - y)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? Number.NaN
}
