// E2BIG: the kernel refused to start a program whose argv and environment, as expanded for this
// run's recipients, exceed what it allows. The load refuses what cannot fit one recipient (or
// recipient_limit, settings/argument-space.ts); a run of many recipients without a limit can
// still meet it, and the log then says so in words.
import type { ProgramSpec } from '../invocation/program-spec.js'
import { ONE_STRING_MAX, argumentSpace } from '../settings/argument-space.js'

const POINTER_BYTES = 8

/** Why the program could not start, for the log. */
export function tooLargeToStart(spec: ProgramSpec): string {
  const strings = [spec.program, ...spec.argv, ...Object.entries(spec.env).map(([name, value]) => `${name}=${value}`)]
  const sizes = strings.map((text) => Buffer.byteLength(text) + 1)
  const total = sizes.reduce((sum, size) => sum + size + POINTER_BYTES, 0)
  const longest = Math.max(...sizes)
  const oneOfThem = longest > ONE_STRING_MAX ? `, one of them ${longest}` : ''
  return (
    `cannot start ${spec.program}: its arguments and environment take ${total} bytes${oneOfThem}, more than Linux ` +
    `allows (E2BIG: ${argumentSpace().bytes} bytes in all, ${ONE_STRING_MAX} for one); ` +
    'set recipient_limit, or shorten arguments and [NAME.env]'
  )
}
