// Everything a run of a program needs but its input, from an instance and a transaction: the one
// builder for a delivery (`arguments`, the instance's files and timeout) and for check_program
// (`check_arguments`, no output, its own timeout), so that both expand macros and build the
// environment the same way.
import type { Instance } from '../settings/vocabulary.js'
import { ok, type Result } from '../util/result.js'
import { expandArguments } from './arguments.js'
import type { Envelope } from './envelope.js'
import { programEnvironment } from './environment.js'

export interface ProgramSpec {
  readonly program: string
  /** After the program's own name. */
  readonly argv: readonly string[]
  readonly env: Readonly<Record<string, string>>
  readonly directory: string
  readonly uid: number | undefined
  readonly gid: number | undefined
  readonly outputFile: string
  readonly errorFile: string
  readonly timeoutSeconds: number
  /**
   * Pipe stderr through Haraka, keeping its first line (for the log of a failure, status_from_stderr
   * and reply_text), and stdout, keeping its last line (reply_text = stdout); both still reach
   * their files.
   */
  readonly capture: { readonly stderr: boolean; readonly stdout: boolean }
  /** Leave what the program leaves of its process group when it exits (`leftover_processes = keep`). */
  readonly keepLeftovers: boolean
}

/** What runs for `envelope`'s recipients, or why it must not (an address that would be an option). */
export function programSpec(
  instance: Instance,
  envelope: Envelope,
  purpose: 'delivery' | 'check',
): Result<ProgramSpec> {
  const check = purpose === 'check' ? instance.checkProgram : undefined
  const argv = expandArguments(check ? check.arguments : instance.arguments, { envelope, instance: instance.name })
  if (!argv.ok) return argv
  return ok({
    program: check ? check.program : instance.program,
    argv: argv.value,
    env: programEnvironment(envelope, instance.name, instance.env),
    directory: instance.directory,
    uid: instance.uid,
    gid: instance.gid,
    outputFile: check ? '/dev/null' : instance.outputFile,
    errorFile: instance.errorFile,
    timeoutSeconds: check ? check.timeoutSeconds : instance.timeoutSeconds,
    capture: { stderr: !check, stdout: !check && instance.replyText === 'stdout' },
    // A check program answers a question; anything it leaves behind is ended.
    keepLeftovers: check ? false : instance.keepLeftovers,
  })
}
