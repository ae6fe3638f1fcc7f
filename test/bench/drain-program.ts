// The program every benchmarked transport runs: it reads the message on fd 0 to EOF, then fd 1 to
// EOF when fd 1 is readable (qmail-queue writes the envelope there; pipe_transport gives it
// /dev/null opened for writing, where read() fails at once), and exits 0. Being a few lines of C,
// it costs next to nothing, so what is measured is the transport.
import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { writeProgram } from '../e2e/harness.js'

const SOURCE = `#include <errno.h>
#include <unistd.h>

static void drain(int fd) {
  static char buf[65536];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n > 0 || (n < 0 && errno == EINTR)) continue;
    return;
  }
}

int main(void) {
  drain(0);
  drain(1);
  return 0;
}
`

/** The same in sh, for a machine without a C compiler; slower to start, but alike for every mode. */
const FALLBACK = `#!/bin/sh
cat > /dev/null
cat <&1 > /dev/null 2>&1
exit 0
`

export interface DrainProgram {
  readonly path: string
  /** What was built, for the report. */
  readonly kind: 'C (cc -O2)' | 'sh + cat (no cc)'
}

export function buildDrainProgram(dir: string): DrainProgram {
  const source = join(dir, 'drain.c')
  const path = join(dir, 'drain')
  writeFileSync(source, SOURCE)
  try {
    execFileSync('cc', ['-O2', '-o', path, source], { stdio: ['ignore', 'ignore', 'pipe'] })
    return { path, kind: 'C (cc -O2)' }
  } catch {
    return { path: writeProgram(dir, 'drain', FALLBACK), kind: 'sh + cat (no cc)' }
  }
}
