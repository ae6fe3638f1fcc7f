// A private Postfix instance (Debian's package) as a sending MTA for the end-to-end tests: its own
// config directory, queue and data directories and log file in a scratch directory, no listener
// at all (master.cf has no smtpd), no DNS, no local delivery, and every message relayed to
// [127.0.0.1]:PORT, the test's Haraka. The system's own Postfix (/etc/postfix, /var/spool/postfix)
// is never touched. Needs root: the master daemon starts as root and drops to mail_owner.
import { execFile } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { isAlive } from './processes.js'

export const POSTFIX = '/usr/sbin/postfix'
const SENDMAIL = '/usr/sbin/sendmail'
const POSTQUEUE = '/usr/sbin/postqueue'

/**
 * The services a relay-only sender needs, none of them chrooted (the queue is not laid out for a
 * chroot) and none listening on the network: pickup takes what sendmail drops, qmgr schedules,
 * smtp relays; postlog writes maillog_file, so no syslog is needed (Postfix 3.4 and later).
 */
const MASTER_CF = `
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
`

export interface PostfixOptions {
  /** The port of the Haraka on 127.0.0.1 that gets every message. */
  readonly relayPort: number
  /** More main.cf settings (e.g. short retry times), over the defaults below. */
  readonly main?: Readonly<Record<string, string>>
}

/** One line of `postqueue -j`: a message still in the queue. */
export interface QueuedMessage {
  readonly queue_name: string
  readonly queue_id: string
  readonly recipients: readonly { readonly address: string; readonly delay_reason?: string }[]
}

export class PrivatePostfix {
  private constructor(
    /** The scratch directory holding everything of this instance. */
    readonly dir: string,
  ) {}

  get configDir(): string {
    return join(this.dir, 'etc')
  }

  get logFile(): string {
    return join(this.dir, 'maillog')
  }

  /** Writes the instance's config and starts its master daemon (`postfix -c DIR start`). */
  static async start(options: PostfixOptions): Promise<PrivatePostfix> {
    const dir = mkdtempSync(join(tmpdir(), 'pipe-transport-postfix-'))
    const postfix = new PrivatePostfix(dir)
    try {
      // The daemons run as the postfix user and must reach their queue below this directory.
      chmodSync(dir, 0o755)
      mkdirSync(postfix.configDir)
      // The queue's top directory belongs to root (`postfix start` refuses to chdir to a missing
      // one); Postfix makes its subdirectories and the data directory itself.
      mkdirSync(join(dir, 'queue'))
      const main: Record<string, string> = {
        compatibility_level: '3.6',
        // Its own queue and data (master.lock, caches); `postfix start` lays both out with the
        // owners and modes Postfix wants (post-install create-missing).
        queue_directory: join(dir, 'queue'),
        data_directory: join(dir, 'data'),
        mail_owner: 'postfix',
        setgid_group: 'postdrop',
        myhostname: 'postfix.test',
        mydomain: 'postfix.test',
        myorigin: 'postfix.test',
        // Nothing is local: no alias lookups, no delivery to the machine's users.
        mydestination: '',
        local_transport: 'error:local delivery is disabled in this test instance',
        alias_maps: '',
        alias_database: '',
        inet_interfaces: 'loopback-only',
        inet_protocols: 'ipv4',
        relayhost: `[127.0.0.1]:${options.relayPort}`,
        smtp_dns_support_level: 'disabled',
        smtp_tls_security_level: 'none',
        maillog_file: postfix.logFile,
        // postlogd writes only below these prefixes (default /var, /dev/stdout).
        maillog_file_prefixes: dir,
        ...options.main,
      }
      const mainCf = Object.entries(main).map(([key, value]) => `${key} = ${value}\n`)
      writeFileSync(join(postfix.configDir, 'main.cf'), mainCf.join(''))
      writeFileSync(join(postfix.configDir, 'master.cf'), MASTER_CF)
      await run(POSTFIX, ['-c', postfix.configDir, 'start'])
    } catch (err) {
      const log = postfix.log()
      await postfix.stop()
      throw new Error(`${err instanceof Error ? err.message : String(err)}\nPostfix logged:\n${log}`, { cause: err })
    }
    return postfix
  }

  /** Injects a message as a local user would (sendmail, then postdrop into this instance's maildrop). */
  async send(from: string, to: readonly string[], message: string): Promise<void> {
    await run(SENDMAIL, ['-C', this.configDir, '-i', '-f', from, '--', ...to], message)
  }

  /** Everything the instance has logged so far. */
  log(): string {
    return existsSync(this.logFile) ? readFileSync(this.logFile, 'utf8') : ''
  }

  /** What is still in the queue (postqueue -j: one JSON object per message). */
  async queue(): Promise<QueuedMessage[]> {
    const out = await run(POSTQUEUE, ['-c', this.configDir, '-j'])
    return out
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as QueuedMessage)
  }

  /** The master daemon's pid, from its pid file; undefined when it is not running. */
  masterPid(): number | undefined {
    try {
      const pid = Number(readFileSync(join(this.dir, 'queue', 'pid', 'master.pid'), 'utf8').trim())
      return pid > 0 && isAlive(pid) ? pid : undefined
    } catch {
      return undefined
    }
  }

  /**
   * `postfix stop` (the master ends its daemons), then SIGKILL for a master that outlives it;
   * removes the whole scratch directory, queue and log included.
   */
  async stop(): Promise<void> {
    const pid = this.masterPid()
    if (pid !== undefined) {
      await run(POSTFIX, ['-c', this.configDir, 'stop']).catch(() => undefined)
      const deadline = Date.now() + 10_000
      while (isAlive(pid) && Date.now() < deadline) await sleep(100)
      if (isAlive(pid)) process.kill(pid, 'SIGKILL')
    }
    rmSync(this.dir, { recursive: true, force: true })
  }
}

/** Runs a Postfix command; resolves with its stdout, rejects with its stderr on a non-zero exit. */
function run(program: string, args: readonly string[], input?: string): Promise<string> {
  return new Promise((done, fail) => {
    const child = execFile(program, args, { timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) fail(new Error(`${program} ${args.join(' ')}: ${err.message}\n${stderr}`))
      else done(stdout)
    })
    child.stdin?.end(input)
  })
}
