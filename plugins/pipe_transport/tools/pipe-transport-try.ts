#!/usr/bin/env node
// pipe-transport-try: tries a Haraka install dir's pipe_transport.ini with one message, before
// it is trusted with mail. --dry-run prints what would run; without it the message is delivered
// for real through the install dir's whole configuration (live-try.ts).
import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { messageOf } from '../util/error-message.js'
import { envelopeOf } from '../invocation/envelope.js'
import { CONFIG_FILE, checkConfigFile, configFileOf, deliversAsRoot } from '../settings/config-file.js'
import { harakaConfigGrammar } from '../settings/ini-text.js'
import type { HarakaAddress, HarakaConnection, HarakaTransaction } from '../types/haraka-types.js'
import { describePlan } from './dry-run.js'
import { findHaraka } from './find-haraka.js'
import { planTry } from './dry-run-plan.js'
import { liveCircuits } from './live-circuits.js'
import { tryLive } from './live-try.js'

const COMMAND = 'pipe-transport-try'
const DEFAULT_HELO = 'pipe-transport-try.local'

const HELP = `usage: ${COMMAND} -c HARAKA_DIR --to RECIPIENT [--to ...] [--from SENDER] --message FILE
       ${COMMAND} -c HARAKA_DIR --to RECIPIENT [--to ...] [--from SENDER] [--message FILE] --dry-run

Tries HARAKA_DIR/config/pipe_transport.ini with one message.

Without --dry-run the message is delivered for real: Haraka's plugins from config/plugins are
loaded in this process and the message goes through them over a loopback connection, so the
configured program runs and may deliver it. The SMTP replies are printed, with Haraka's log.
The running Haraka server, if any, is not touched.

  -c, --configs DIR  the Haraka install dir
      --to ADDRESS   a recipient; give it once per recipient
      --from ADDRESS the envelope sender (default: the null sender <>)
      --message FILE the message to send, headers and body
      --helo NAME    the name the client gives in EHLO (default: ${DEFAULT_HELO})
      --dry-run      run nothing; print what RCPT answers each recipient, and the program's
                     route, argv, environment and reply map for the message
      --haraka DIR   the Haraka package to use (default: the install dir's node_modules/haraka,
                     then the one this command was installed with, then the haraka on PATH)
  -h, --help         this text

Exit status: 0 when the message was answered 250 (with --dry-run: when the config is valid),
1 when it was not or the config has errors, 2 for a usage error.`

const OPTIONS = {
  configs: { type: 'string', short: 'c' },
  to: { type: 'string', multiple: true },
  from: { type: 'string', default: '' },
  message: { type: 'string' },
  helo: { type: 'string', default: DEFAULT_HELO },
  'dry-run': { type: 'boolean', default: false },
  haraka: { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const

/** Thrown for anything the user can fix; printed as one line, never with a stack trace. */
class Refusal extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message)
  }
}
const usage = (message: string): Refusal => new Refusal(`${message} (see ${COMMAND} --help)`, 2)

async function main(args: string[]): Promise<number> {
  const values = parseOptions(args)
  if (values.help) {
    console.log(HELP)
    return 0
  }
  if (values.configs === undefined) throw usage('-c HARAKA_DIR is required')
  if (!values.to?.length) throw usage('--to RECIPIENT is required')
  if (values.message === undefined && !values['dry-run']) throw usage('--message FILE is required, unless --dry-run')
  const installDir = resolve(values.configs)
  if (!existsSync(join(installDir, 'config')))
    throw new Refusal(`${installDir} is not a Haraka install dir: it has no config/ folder`, 1)
  const message = values.message === undefined ? undefined : readMessage(values.message)
  const haraka = findHaraka(installDir, values.haraka === undefined ? undefined : resolve(values.haraka))
  if (!haraka.ok) throw new Refusal(haraka.error, 1)

  // As bin/haraka does for `-c DIR`; haraka-config reads it when it is first required.
  process.env['HARAKA'] = installDir
  const harakaRequire = createRequire(join(haraka.value, 'package.json'))
  const harakaConfig = harakaRequire('haraka-config') as { get(name: string, type?: string): unknown }
  const smtpIni = harakaConfig.get('smtp.ini') as { main?: Record<string, unknown> }
  const bytes = harakaConfig.get(CONFIG_FILE, 'binary') as Buffer | null
  const loaded = checkConfigFile(configFileOf(installDir), bytes, harakaConfigGrammar(harakaRequire), {
    installDir,
    runningAsRoot: deliversAsRoot(smtpIni),
  })
  for (const error of loaded.errors) console.error(error)
  if (!loaded.settings)
    throw new Refusal(`${loaded.errors.length} error(s) in ${configFileOf(installDir)}, listed above`, 1)

  if (values['dry-run']) {
    for (const warning of loaded.warnings) console.error(`warning: ${warning}`)
    // Addresses parsed as Haraka parses them at MAIL FROM and RCPT TO.
    const { Address } = harakaRequire('@haraka/email-address') as { Address: new (text: string) => HarakaAddress }
    const parse = (option: string, text: string): HarakaAddress => {
      try {
        return new Address(`<${text}>`)
      } catch (err) {
        throw usage(`${option} ${text} is not an address: ${(err as Error).message}`)
      }
    }
    const sender = parse('--from', values.from)
    const recipients = values.to.map((to) => parse('--to', to))
    // What envelopeOf() reads of a connection and its transaction, as the live delivery would have them.
    const connection = { remote: { ip: '127.0.0.1' }, hello: { host: values.helo } } as HarakaConnection
    const transaction = {
      mail_from: sender,
      uuid: '<queue id>',
      header: { get_all: () => [] },
    } as unknown as HarakaTransaction
    const file = message && values.message ? { name: values.message, bytes: message.length } : undefined
    console.log(`${COMMAND} --dry-run: nothing runs. What ${configFileOf(installDir)} does with this message:\n`)
    const plan = planTry(loaded.settings, envelopeOf(connection, transaction), recipients)
    for (const line of describePlan(plan, file, await liveCircuits(loaded.settings.metricsListen))) console.log(line)
    return 0
  }
  // The plugin logs the config's warnings itself, through Haraka's log.
  console.error(
    `${COMMAND}: a real delivery: the configured programs run and may deliver the message (--dry-run runs nothing)`,
  )
  return tryLive({
    harakaDir: haraka.value,
    smtpIni,
    from: values.from,
    to: values.to,
    helo: values.helo,
    message: message ?? Buffer.alloc(0),
    messageName: values.message ?? '',
  })
}

function parseOptions(args: string[]) {
  try {
    return parseArgs({ args, options: OPTIONS }).values
  } catch (err) {
    // node's messages run on with advice about positional arguments; the first sentence is enough.
    const first = (err as Error).message.split(/\.\s/)[0] ?? String(err)
    throw usage(first.charAt(0).toLowerCase() + first.slice(1))
  }
}

function readMessage(path: string): Buffer {
  try {
    return readFileSync(path)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EISDIR'
          ? 'it is a directory'
          : code === 'EACCES'
            ? 'permission denied'
            : String(err)
    throw new Refusal(`cannot read --message ${path}: ${why}`, 1)
  }
}

main(process.argv.slice(2)).then(
  // Haraka's modules keep timers (outbound queue, config watchers) that would hold the process.
  (status) => process.exit(status),
  (err: unknown) => {
    console.error(`${COMMAND}: ${messageOf(err)}`)
    process.exit(err instanceof Refusal ? err.status : 1)
  },
)
