// Every journal operation ends within a stated time, whatever the store does: a hung disk or an
// unanswered Redis must not hold an SMTP transaction past its own timeout, and the caller needs a
// clear answer in time to choose between running anyway and deferring.

import { messageOf } from '../util/error-message.js'
import { within } from '../util/within.js'
import { JournalUnavailableError } from './delivery-journal.js'

const timedOut = Symbol('timed out')

export async function boundedOperation<T>(
  journal: string,
  operation: string,
  timeoutMs: number,
  work: () => Promise<T>,
  /** What the store knows of why it may be slow (e.g. the last connection error). */
  context: () => string = () => '',
): Promise<T> {
  let result: T | typeof timedOut
  try {
    result = await within(work(), timeoutMs, timedOut)
  } catch (error) {
    if (error instanceof JournalUnavailableError) throw error
    throw new JournalUnavailableError(journal, operation, messageOf(error), { cause: error })
  }
  // The late outcome of the work is still awaited by the race above, so a rejection that comes
  // after the timeout is handled there and never becomes an unhandled rejection.
  if (result === timedOut)
    throw new JournalUnavailableError(journal, operation, `no answer within ${timeoutMs} ms${context()}`, {
      timedOut: true,
    })
  return result
}
