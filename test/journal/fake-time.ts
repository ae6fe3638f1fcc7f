// libfaketime (Debian's faketime package) for the tests that step the clock: a process started
// with these variables sees the wall clock offset by what the file says ("+0", "+1h", "-1h"),
// re-read at every reading, so a test steps the clock of a running process by rewriting the file.
// The monotonic clock is left alone, as a step by ntpd or an operator leaves it.
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'

/** Where Debian puts the library: /usr/lib/<the machine's triplet>/faketime/. */
function libfaketime(): string {
  const found = readdirSync('/usr/lib')
    .map((entry) => join('/usr/lib', entry, 'faketime', 'libfaketime.so.1'))
    .find((path) => existsSync(path))
  if (found === undefined) throw new Error('libfaketime.so.1 is missing: apt-get install faketime')
  return found
}

/** The environment that puts a process under libfaketime; throws where it is not installed. */
export function fakeTimeEnvironment(offsetFile: string): Record<string, string> {
  return {
    LD_PRELOAD: libfaketime(),
    FAKETIME_TIMESTAMP_FILE: offsetFile,
    FAKETIME_NO_CACHE: '1',
    FAKETIME_DONT_FAKE_MONOTONIC: '1',
  }
}
