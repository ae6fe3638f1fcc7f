// Holds every SMTP reply of the soak against what the program logged, and words the verdicts.
import type { SmtpReply } from '../e2e/smtp.js'
import { ACTIONS, PERM_STATUS, type Action } from './soak-program.js'

/** One message the soak sent. */
export interface Sent {
  readonly seq: number
  /** The message's size with LF line ends, as the program receives it (plus Haraka's Received). */
  readonly lfBytes: number
  /** Hung up after the final dot: no reply to check. */
  readonly dropped: boolean
  readonly reply?: SmtpReply
  /** The client failed (connection refused or reset, no reply): Haraka is not serving. */
  readonly error?: string
}

/** One line of the program's log. */
export interface Logged {
  readonly queueId: string
  readonly action: Action
  readonly bytes: number
  readonly last: string
}

export function parseLog(text: string): Logged[] {
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const [queueId = '', action = '', bytes = '', ...last] = line.split(' ')
      if (!(ACTIONS as readonly string[]).includes(action)) throw new Error(`bad soak log line: ${line}`)
      return { queueId, action: action as Action, bytes: Number(bytes), last: last.join(' ') }
    })
}

/** The last line of every soak message; the program logs it when it read the whole message. */
export const lastLineOf = (seq: number): string => `soak-end ${seq}`

/** The reply each action must get, given the soak's [soak.code] and its 2 s timeout. */
const EXPECTED: Readonly<Record<Action, (reply: SmtpReply) => boolean>> = {
  ok: (reply) => reply.code === 250,
  temp: (reply) => reply.code === 450 && reply.text.startsWith('4.3.0 soak program'),
  perm: (reply) => reply.code === 550 && reply.text.includes(`exit status ${PERM_STATUS}`),
  kill: (reply) => reply.code === 450 && reply.text.includes('killed by signal SIGKILL'),
  hang: (reply) => reply.code === 450 && reply.text.includes('timed out'),
}

export interface Verdicts {
  /** 250 replies for which the program did not log "ok" after reading the whole message. */
  readonly acceptedWithoutDelivery: readonly string[]
  /** Messages the program logged "ok" for (read all, exit 0) that got a failure reply. */
  readonly deliveredButFailed: readonly string[]
  /** Other replies that do not fit what the program did (or a reply with no program run). */
  readonly mismatched: readonly string[]
  /** Queue ids the program logged more than once: a message delivered twice. */
  readonly duplicated: readonly string[]
  /** Program runs that no reply names, beyond the number of dropped connections. */
  readonly unaccounted: number
  readonly clientErrors: readonly string[]
  readonly actions: Readonly<Record<Action, number>>
}

/** The queue id Haraka appends to a reply at the queue hook: `... (QUEUE-ID)`. */
function queueIdOf(reply: SmtpReply): string | undefined {
  return /\(([^()\s]+)\)$/.exec(reply.text)?.[1]
}

export function judge(sent: readonly Sent[], logged: readonly Logged[]): Verdicts {
  const byQueueId = new Map<string, Logged[]>()
  for (const entry of logged) byQueueId.set(entry.queueId, [...(byQueueId.get(entry.queueId) ?? []), entry])
  const acceptedWithoutDelivery: string[] = []
  const deliveredButFailed: string[] = []
  const mismatched: string[] = []
  const clientErrors: string[] = []
  const answered = new Set<string>()

  for (const message of sent) {
    if (message.error !== undefined) clientErrors.push(`message ${message.seq}: ${message.error}`)
    const reply = message.reply
    if (!reply) continue
    const queueId = queueIdOf(reply)
    const entry = queueId === undefined ? undefined : byQueueId.get(queueId)?.[0]
    if (queueId !== undefined) answered.add(queueId)
    const said = `message ${message.seq} got "${reply.code} ${reply.text}"`
    if (reply.code === 250) {
      const fullyRead =
        entry?.action === 'ok' && entry.last === lastLineOf(message.seq) && entry.bytes >= message.lfBytes
      if (!fullyRead)
        acceptedWithoutDelivery.push(
          `${said}; program logged ${entry ? `${entry.action} ${entry.bytes} "${entry.last}"` : 'nothing'}`,
        )
    } else if (entry?.action === 'ok') {
      deliveredButFailed.push(`${said} although the program read it all and exited 0`)
    } else if (!entry || !EXPECTED[entry.action](reply)) {
      mismatched.push(`${said}; program logged ${entry?.action ?? 'nothing'}`)
    }
  }

  const actions = Object.fromEntries(ACTIONS.map((action) => [action, 0])) as Record<Action, number>
  for (const entry of logged) actions[entry.action]++
  const dropped = sent.filter((message) => message.dropped).length
  const unanswered = [...byQueueId.keys()].filter((queueId) => !answered.has(queueId)).length
  return {
    acceptedWithoutDelivery,
    deliveredButFailed,
    mismatched,
    duplicated: [...byQueueId].filter(([, entries]) => entries.length > 1).map(([queueId]) => queueId),
    unaccounted: Math.max(0, unanswered - dropped),
    clientErrors,
    actions,
  }
}

/** RSS is flat when the median of the last third of samples is within this of the first third's. */
export function rssGrowthLimit(firstThirdBytes: number): number {
  return Math.max(16 * 1024 * 1024, 0.15 * firstThirdBytes)
}
