// Writes to a stream that come in one tick leave together: the stream is corked at the first
// and uncorked on the next tick, so they go out in one writev() instead of one write() each, and
// wake the reader once. Backpressure is unchanged: write() still returns false once the stream
// holds more than its high-water mark.
import type { Writable } from 'node:stream'

export function gatherWrites(stream: Writable): void {
  const write = stream.write.bind(stream)
  let gathering = false
  stream.write = function (...args: Parameters<Writable['write']>): boolean {
    if (!gathering) {
      gathering = true
      stream.cork()
      process.nextTick(() => {
        gathering = false
        stream.uncork()
      })
    }
    return write(...args)
  } as Writable['write']
}
