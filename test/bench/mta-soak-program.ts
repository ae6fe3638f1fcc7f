// The program the MTA soak delivers to. Its recipients (argv, one word each) name their message
// and whether they fail once: `m17-r1@one.test` always succeeds, `m17-t2@two.test` fails
// temporarily on its first run (a marker file remembers that run) and succeeds when retried. It
// appends `<queue id> <instance> <ok|temp> <bytes read> <seq on the last line read, or -> <recipients...>`
// to the log before it exits, so the soak can count every recipient's successful runs. bash, for
// its $RANDOM and string operations without forking.
import { writeProgram } from '../e2e/harness.js'
import { BASH_READ_ALL } from './soak-program.js'

/** The exit status for "try again later", mapped to a 4xx reply in the soak's [main.code]. */
export const MTA_TEMP_STATUS = 75
export const MTA_TEMP_TEXT = '4.3.0 mta soak program asks to try again later'

/** The message's last line; the program logs the seq it names once it has read the whole message. */
export const mtaLastLine = (seq: number): string => `mta-soak-end ${seq}`

/** A recipient's address: message seq, index, and whether its first run fails. */
export function mtaRecipient(seq: number, index: number, failsOnce: boolean, domain: string): string {
  return `m${seq}-${failsOnce ? 't' : 'r'}${index}@${domain}`
}

/** The message seq an address of mtaRecipient() belongs to; undefined for any other address. */
export function seqOfRecipient(address: string): number | undefined {
  const match = /^m(\d+)-[rt]\d+@/.exec(address)
  return match ? Number(match[1]) : undefined
}

const SCRIPT = `${BASH_READ_ALL}seq=-
read_message() {
  read_all
  [[ $last == 'mta-soak-end '* ]] && seq=\${last#mta-soak-end }
}
# log OUTCOME RECIPIENTS...
log() { local outcome=$1; shift; printf '%s %s %s %s %s %s\\n' "$QUEUE_ID" "$INSTANCE" "$outcome" "$bytes" "$seq" "$*" >> "$MTA_SOAK_LOG"; }

outcome=ok
for rcpt in "$@"; do
  # The first run of a "t" recipient creates its marker (noclobber: exactly one run can) and fails.
  if [[ \${rcpt%%@*} == *-t* ]] && { set -C; true > "$MTA_SOAK_MARKS/$rcpt"; } 2>/dev/null; then outcome=temp; fi
  set +C
done
r=$RANDOM
# Some runs take a while, so that a retry after a dropped reply can meet them still running.
((r % 4 == 0)) && sleep 0.$((r % 3))
if [[ $outcome == ok ]]; then
  read_message; log ok "$@"; exit 0
fi
# Odd draws read the message first, even ones leave it unread (the plugin then meets EPIPE).
((r % 2)) && read_message
log temp "$@"
exit ${MTA_TEMP_STATUS}
`

export function writeMtaSoakProgram(dir: string): string {
  return writeProgram(dir, 'mta-soak-program', SCRIPT)
}
