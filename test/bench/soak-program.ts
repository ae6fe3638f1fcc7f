// The program the soak delivers to. For each message it picks at random what to do, and
// appends `<queue id> <action> <bytes read> <last line read>` to the log BEFORE doing it (for
// "ok", after reading all of stdin), so the soak can hold every SMTP reply against what the
// program really did. bash, for $RANDOM and ${var%pattern} without forking.
import { writeProgram } from '../e2e/harness.js'

/** What the program may do; the soak knows the reply each must give. */
export const ACTIONS = ['ok', 'temp', 'perm', 'kill', 'hang'] as const
export type Action = (typeof ACTIONS)[number]

/** The exit status for "try again later", mapped to a 4xx reply in the soak's [soak.code]. */
export const TEMP_STATUS = 75
/** An exit status the plugin's default table answers with 5xx. */
export const PERM_STATUS = 69

/**
 * The start of a bash program that reads its message: `read_all` reads all of stdin and sets
 * `bytes` (how many it read) and `last` (its last line), which stay 0 and - unless it is called.
 * The MTA soak's program starts the same way.
 */
export const BASH_READ_ALL = `#!/bin/bash
export LC_ALL=C
bytes=0
last=-
read_all() {
  # The x keeps trailing newlines that command substitution would strip.
  data=$(cat; printf x)
  data=\${data%x}
  bytes=\${#data}
  body=\${data%$'\\n'}
  last=\${body##*$'\\n'}
}
`

const SCRIPT = `${BASH_READ_ALL}log() { printf '%s %s %s %s\\n' "$QUEUE_ID" "$1" "$bytes" "$last" >> "$SOAK_LOG"; }

r=$((RANDOM % 100))
# Odd draws read the message first, even ones leave it unread (the plugin then meets EPIPE).
if ((r < 55)); then
  read_all; log ok; exit 0
elif ((r < 67)); then
  ((r % 2)) && read_all; log temp; exit ${TEMP_STATUS}
elif ((r < 79)); then
  ((r % 2)) && read_all; log perm; exit ${PERM_STATUS}
elif ((r < 90)); then
  ((r % 2)) && read_all; log kill; kill -KILL $$
else
  # Stubborn ones ignore SIGTERM, and so does their child: only the SIGKILL after the grace ends them.
  ((r % 2)) && trap '' TERM
  sleep 60 &
  log hang
  wait
  exit 1
fi
`

export function writeSoakProgram(dir: string): string {
  return writeProgram(dir, 'soak-program', SCRIPT)
}
