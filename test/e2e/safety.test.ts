// The program runs safely and within bounds: argv, a clean environment, timeouts, signals, output files.
import assert from 'node:assert/strict'
import { chmodSync, existsSync, readFileSync, rmSync } from 'node:fs'
import { connect } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { after, before, describe, it } from 'node:test'
import { lookupUser } from '../../plugins/pipe_transport/settings/accounts.js'
import { HARAKA_SECRET, Haraka, writeProgram } from './harness.js'
import { Scratch, crlf } from './fixtures.js'
import { rssBytes, survivorsAfter, waitForFile } from './processes.js'
import { sendMail } from './smtp.js'

const MESSAGE = crlf(['Subject: safety', '', 'body'])

interface Report {
  argv: string[]
  env: Record<string, string>
  cwd: string
  uid: number
  gid: number
  stdinBytes: number
}

describe('running the program safely and within bounds', () => {
  const work = new Scratch()
  let haraka: Haraka
  const runningAsRoot = process.getuid?.() === 0

  /** The JSON report the `report` program wrote for the last delivery of an instance. */
  function report(file: string): Report {
    const lines = work.take(file).toString().trim().split('\n')
    assert.equal(lines.length, 1, 'exactly one program run')
    return JSON.parse(lines[0] ?? '{}') as Report
  }

  before(async () => {
    const reporter = work.node(
      'report',
      `const chunks = []
process.stdin.on('data', (chunk) => chunks.push(chunk))
process.stdin.on('end', () => {
  const report = { argv: process.argv.slice(2), env: process.env, cwd: process.cwd(), uid: process.getuid(), gid: process.getgid(),
    stdinBytes: Buffer.concat(chunks).length }
  process.stdout.write(JSON.stringify(report) + '\\n')
})`,
    )
    // Forks a grandchild, writes both pids, and hangs; with "stubborn" both ignore SIGTERM.
    const hang = work.shell(
      'hang',
      `[ "$1" = stubborn ] && trap '' TERM
sleep 300 &
echo "$$ $!" > "${work.path('hang-pids')}.tmp" && mv "${work.path('hang-pids')}.tmp" "${work.path('hang-pids')}"
wait`,
    )
    const selfKill = work.shell('self-kill', 'cat > /dev/null\nkill -SEGV $$')
    const vanishing = work.shell('vanishing', 'cat > /dev/null')
    const exitEarly = work.shell('exit-early', 'exit "$1"')
    const sleepy = work.shell(
      'sleepy',
      `cat > /dev/null\necho "+" >> "${work.path('overlap')}"\nsleep "$1"\necho "-" >> "${work.path('overlap')}"`,
    )
    const busy = work.shell(
      'busy',
      `cat > /dev/null\ntouch "${work.path('busy-started')}-$1"\n[ "$1" = a ] && exec sleep 1.5\nexec sleep 300`,
    )
    const flood = work.shell('flood', 'cat > /dev/null\nhead -c 1073741824 /dev/zero\nhead -c 1073741824 /dev/zero >&2')
    const identity = work.shell('identity', 'cat > /dev/null\nid -u\nid -g\npwd\necho "$HOME $LOGNAME $SHELL"')
    // The unprivileged user must be able to reach its program and working directory.
    if (runningAsRoot) chmodSync(work.dir, 0o755)
    haraka = await Haraka.start({
      hostList: [
        'args.test',
        'env.test',
        'hang.test',
        'stubborn.test',
        'signal.test',
        'vanish.test',
        'badout.test',
        'early.test',
        'huge.test',
        'slow.test',
        'busy.test',
        'flood.test',
        'id.test',
        'late.test',
      ],
      // Haraka's own hook timeout is 1 s here; the plugin must set its own so this never fires.
      config: { plugin_timeout: '1' },
      ini: `
[args]
program_name = ${reporter}
arguments = -f \${sender} -- \${recipient} "q \${user}" --domain=\${domain} \${queue_id} \${client_address} \${client_helo} \${instance}
domain = args.test
output_file = ${work.path('args.out')}

[env]
program_name = ${reporter}
domain = env.test
output_file = ${work.path('env.out')}

[env.env]
LANG = C.UTF-8
PATH = /bin

[hang]
program_name = ${hang}
domain = hang.test
timeout = 1

[stubborn]
program_name = ${hang}
arguments = stubborn
domain = stubborn.test
timeout = 1

[signal]
program_name = ${selfKill}
domain = signal.test

[vanish]
program_name = ${vanishing}
domain = vanish.test

[badout]
program_name = /bin/cat
domain = badout.test
output_file = ${work.path('no-such-dir/out')}

[huge]
program_name = /bin/cat
arguments = ${'z'.repeat(100_000)}\${recipient}
domain = huge.test

[early]
program_name = ${exitEarly}
arguments = \${user}
domain = early.test

[slow]
program_name = ${sleepy}
arguments = \${user}
domain = slow.test
max_concurrency = 2

[busy]
program_name = ${busy}
arguments = \${user}
domain = busy.test
max_concurrency = 1
timeout = 2

[flood]
program_name = ${flood}
domain = flood.test

[late]
program_name = ${sleepy}
arguments = 2
domain = late.test
timeout = 5
${
  runningAsRoot
    ? `
[id]
program_name = ${identity}
domain = id.test
user = nobody
group = nogroup
directory = ${work.dir}
output_file = ${work.path('id.out')}
`
    : ''
}`,
    })
  })

  after(async () => {
    await haraka?.stop()
    work.remove()
  })

  describe('arguments', () => {
    it('expands macros into exactly the configured words, one per recipient for ${recipient}', async () => {
      const { reply } = await sendMail(haraka.port, {
        from: 'S@origin.test',
        to: ['a@args.test', 'b.c@ARGS.test'],
        message: MESSAGE,
      })
      assert.equal(reply?.code, 250)
      const queueId = /\(([^)]+)\)$/.exec(reply?.text ?? '')?.[1]
      assert.deepEqual(report('args.out').argv, [
        '-f',
        'S@origin.test',
        '--',
        'a@args.test',
        'b.c@ARGS.test',
        'q a',
        'q b.c',
        '--domain=args.test',
        '--domain=args.test',
        queueId,
        '127.0.0.1',
        'client.test',
        'args',
      ])
    })

    it('passes the null sender as an empty word', async () => {
      const { reply } = await sendMail(haraka.port, { from: '', to: ['a@args.test'], message: MESSAGE })
      assert.equal(reply?.code, 250)
      assert.deepEqual(report('args.out').argv.slice(0, 3), ['-f', '', '--'])
    })

    it('hands shell metacharacters in addresses to the program literally, local parts unquoted', async () => {
      const hostile = '"a;touch ${HOME}/pwned $(touch /tmp/pwned-pipe)`id`|&"@args.test'
      const sender = '"$(touch /tmp/pwned-pipe);x"@origin.test'
      const { reply } = await sendMail(haraka.port, { from: sender, to: [hostile], message: MESSAGE })
      assert.equal(reply?.code, 250)
      const { argv } = report('args.out')
      assert.equal(argv[1], '$(touch /tmp/pwned-pipe);x@origin.test')
      assert.equal(argv[3], 'a;touch ${HOME}/pwned $(touch /tmp/pwned-pipe)`id`|&@args.test')
      assert.equal(argv[4], 'q a;touch ${HOME}/pwned $(touch /tmp/pwned-pipe)`id`|&')
      assert.equal(existsSync('/tmp/pwned-pipe'), false)
    })

    it('refuses a recipient or sender that would become an option, at RCPT, without running anything', async () => {
      // Quoting does not hide the dash: what would be passed is -oQ/tmp/x@args.test either way.
      const rcpt = await sendMail(haraka.port, {
        from: 's@origin.test',
        to: ['-oQ/tmp/x@args.test', '"-oQ/tmp/y"@args.test'],
        message: MESSAGE,
      })
      assert.equal(rcpt.reply, undefined)
      for (const refused of ['-oQ/tmp/x@args.test', '"-oQ/tmp/y"@args.test']) {
        assert.equal(rcpt.refused.get(refused)?.code, 550, refused)
        assert.match(
          rcpt.refused.get(refused)?.text ?? '',
          /^5\.1\.3 pipe transport refuses a recipient that would start a program argument with "-"/,
        )
      }
      const sender = await sendMail(haraka.port, { from: '-f@origin.test', to: ['a@args.test'], message: MESSAGE })
      assert.equal(sender.reply, undefined)
      assert.match(sender.refused.get('a@args.test')?.text ?? '', /^5\.1\.7 /)
      assert.equal(work.take('args.out').length, 0)
    })
  })

  it("gives the program a clean environment and nothing of Haraka's", async () => {
    const { reply } = await sendMail(haraka.port, {
      from: 's@origin.test',
      to: ['Who@env.test', 'second@env.test'],
      message: MESSAGE,
    })
    assert.equal(reply?.code, 250)
    const { env, stdinBytes } = report('env.out')
    const queueId = /\(([^)]+)\)$/.exec(reply?.text ?? '')?.[1] ?? ''
    // Derived from the message and the recipient: delivery-id.test.ts shows when it is the same.
    assert.match(env['DELIVERY_ID'] ?? '', /^[0-9a-f]{32}$/)
    // Haraka's own user here (no `user`): its passwd entry, as Postfix's local(8) gives HOME, LOGNAME, SHELL.
    const account = lookupUser(String(process.getuid?.()))
    assert.deepEqual(env, {
      PATH: '/bin',
      ...(account && { HOME: account.home, LOGNAME: account.name, SHELL: account.shell }),
      LANG: 'C.UTF-8',
      SENDER: 's@origin.test',
      RECIPIENT: 'Who@env.test',
      LOCAL: 'Who',
      USER: 'Who',
      EXTENSION: '',
      DOMAIN: 'env.test',
      ORIGINAL_RECIPIENT: 'Who@env.test',
      ROUTE_DATA: '',
      QUEUE_ID: queueId,
      CLIENT_ADDRESS: '127.0.0.1',
      CLIENT_HELO: 'client.test',
      // No AUTH, no ENVID; the DATA bytes as Haraka counts them, the final ".\r\n" included.
      SASL_USERNAME: '',
      SIZE: String(Buffer.byteLength(MESSAGE) + 3),
      ENVID: '',
      DELIVERY_ID: env['DELIVERY_ID'],
      INSTANCE: 'env',
    })
    assert.ok(stdinBytes > MESSAGE.length)
    assert.equal(HARAKA_SECRET in env, false)
  })

  describe('timeouts', () => {
    for (const [domain, what] of [
      ['hang.test', 'a program and the grandchild it forked'],
      ['stubborn.test', 'a program group that ignores SIGTERM'],
    ] as const) {
      it(`kill ${what}: 450 4.3.0, and nothing of it left running`, async () => {
        rmSync(work.path('hang-pids'), { force: true })
        const { reply } = await sendMail(haraka.port, { from: 's@origin.test', to: [`x@${domain}`], message: MESSAGE })
        assert.equal(reply?.code, 450)
        assert.match(reply?.text ?? '', /^4\.3\.0 pipe transport program timed out after 1s \(/)
        const pids = (await waitForFile(work.path('hang-pids'))).trim().split(' ').map(Number)
        assert.equal(pids.length, 2)
        // SIGKILL follows SIGTERM after a 2 s grace.
        assert.deepEqual(await survivorsAfter(pids), [], 'program and grandchild are gone')
      })
    }

    it("never lets Haraka's own plugin timeout (1 s here) answer for a slower program", async () => {
      const { reply } = await sendMail(haraka.port, { from: 's@origin.test', to: ['x@late.test'], message: MESSAGE })
      assert.equal(reply?.code, 250)
      assert.doesNotMatch(haraka.log, /plugin timeout|timed out on hook/)
    })
  })

  it('answers a program killed by a signal with 450 4.3.0 naming the signal', async () => {
    const { reply } = await sendMail(haraka.port, { from: 's@origin.test', to: ['x@signal.test'], message: MESSAGE })
    assert.equal(reply?.code, 450)
    assert.match(reply?.text ?? '', /^4\.3\.0 pipe transport program was killed by signal SIGSEGV \(/)
  })

  describe('start failures: 450 4.3.0, the cause in the log, and Haraka keeps running', () => {
    it('a program that has disappeared', async () => {
      rmSync(work.path('vanishing'))
      const { reply } = await sendMail(haraka.port, { from: 's@origin.test', to: ['x@vanish.test'], message: MESSAGE })
      assert.equal(reply?.code, 450)
      assert.match(reply?.text ?? '', /^4\.3\.0 pipe transport program could not be started \(/)
      await haraka.waitForLog(
        /\[ERROR\] .*\[pipe_transport\] delivery .*instance=vanish .*ended=start-failed .*cause="cannot start \S+vanishing: spawn \S+vanishing ENOENT"/,
      )
    })

    it('a program that is no longer executable', async () => {
      work.shell('vanishing', 'cat > /dev/null')
      chmodSync(work.path('vanishing'), 0o644)
      const { reply } = await sendMail(haraka.port, { from: 's@origin.test', to: ['x@vanish.test'], message: MESSAGE })
      assert.equal(reply?.code, 450)
      await haraka.waitForLog(/cause="cannot start \S+vanishing: spawn \S+vanishing EACCES"/)
    })

    it('a script whose #! interpreter has disappeared: the interpreter is named', async () => {
      writeProgram(work.dir, 'vanishing', '#!/usr/bin/perl5.99 -w\nprint "never"\n')
      const { reply } = await sendMail(haraka.port, { from: 's@origin.test', to: ['x@vanish.test'], message: MESSAGE })
      assert.equal(reply?.code, 450)
      await haraka.waitForLog(
        /cause="cannot start (\S+vanishing): its #! interpreter \/usr\/bin\/perl5\.99 does not exist \(spawn \1 ENOENT\)"/,
      )
    })

    it('an output file that cannot be opened', async () => {
      const { reply } = await sendMail(haraka.port, { from: 's@origin.test', to: ['x@badout.test'], message: MESSAGE })
      assert.equal(reply?.code, 450)
      assert.match(reply?.text ?? '', /^4\.3\.0 /)
      await haraka.waitForLog(/cause="cannot open output_file \S+no-such-dir\/out: ENOENT/)
      assert.ok(haraka.running)
      const { reply: next } = await sendMail(haraka.port, {
        from: 's@origin.test',
        to: ['0@early.test'],
        message: MESSAGE,
      })
      assert.equal(next?.code, 250)
    })

    it('arguments that grow past what Linux allows with many recipients (E2BIG)', async () => {
      // One recipient fits; 30 of them, one 100 kB word each, take 3 MB where 2 MiB is allowed.
      const to = Array.from({ length: 30 }, (_, i) => `r${i}@huge.test`)
      const { reply } = await sendMail(haraka.port, { from: 's@origin.test', to, message: MESSAGE })
      assert.equal(reply?.code, 450)
      assert.match(reply?.text ?? '', /^4\.3\.0 pipe transport program could not be started \(30 of 30 recipients/)
      await haraka.waitForLog(
        /\[ERROR\] .*delivery .*instance=huge .*ended=start-failed .*cause="cannot start \/bin\/cat: its arguments and environment take \d+ bytes, more than Linux allows \(E2BIG: 2097152 bytes in all, 131072 for one\); set recipient_limit, or shorten arguments and \[NAME\.env\]"/,
      )
      assert.ok(haraka.running)
    })
  })

  describe('a program that exits without reading its input', () => {
    const big = crlf(['Subject: big', '', ...Array.from({ length: 100_000 }, (_, i) => `line ${i} ${'y'.repeat(60)}`)])
    it('exit 0 is a success (EPIPE is not an error)', async () => {
      const { reply } = await sendMail(haraka.port, { from: 's@origin.test', to: ['0@early.test'], message: big })
      assert.equal(reply?.code, 250)
    })
    it('a failure status still decides', async () => {
      const { reply } = await sendMail(haraka.port, { from: 's@origin.test', to: ['3@early.test'], message: big })
      assert.equal(reply?.code, 550)
      assert.match(reply?.text ?? '', /^5\.5\.0 pipe transport gave exit status 3 \(/)
    })
  })

  describe('max_concurrency', () => {
    it('runs at most max_concurrency programs of an instance at once; the rest wait their turn', async () => {
      rmSync(work.path('overlap'), { force: true })
      const replies = await Promise.all(
        [1, 2, 3, 4, 5].map(() =>
          sendMail(haraka.port, { from: 's@origin.test', to: ['0.4@slow.test'], message: MESSAGE }),
        ),
      )
      assert.deepEqual(
        replies.map((r) => r.reply?.code),
        [250, 250, 250, 250, 250],
      )
      let running = 0
      let most = 0
      for (const mark of readFileSync(work.path('overlap'), 'utf8').trim().split('\n')) {
        running += mark === '+' ? 1 : -1
        most = Math.max(most, running)
      }
      assert.equal(most, 2)
    })

    it('answers 450 4.3.2 to a delivery that gets no slot within its timeout', async () => {
      // A takes the only slot for 1.5 s; B, queued at once, gets it then and hangs until its 2 s
      // timeout; C, queued behind B, sees no slot within its own 2 s.
      const started = (who: string): Promise<string> => waitForFile(`${work.path('busy-started')}-${who}`, 10_000, '')
      const a = sendMail(haraka.port, { from: 's@origin.test', to: ['a@busy.test'], message: MESSAGE })
      await started('a')
      const b = sendMail(haraka.port, { from: 's@origin.test', to: ['b@busy.test'], message: MESSAGE })
      await sleep(300)
      const c = sendMail(haraka.port, { from: 's@origin.test', to: ['c@busy.test'], message: MESSAGE })
      const [ra, rb, rc] = await Promise.all([a, b, c])
      assert.equal(ra.reply?.code, 250)
      assert.match(`${rb.reply?.code} ${rb.reply?.text}`, /^450 4\.3\.0 pipe transport program timed out after 2s/)
      assert.match(
        `${rc.reply?.code} ${rc.reply?.text}`,
        /^450 4\.3\.2 pipe transport busy: no delivery slot within 2s/,
      )
      assert.equal(existsSync(`${work.path('busy-started')}-c`), false, 'C never ran')
    })
  })

  it('lets a program write gigabytes to stdout and stderr without growing Haraka', async () => {
    const before = rssBytes(haraka.pid)
    const { reply } = await sendMail(haraka.port, { from: 's@origin.test', to: ['x@flood.test'], message: MESSAGE })
    assert.equal(reply?.code, 250)
    const growth = rssBytes(haraka.pid) - before
    assert.ok(growth < 64 * 1024 * 1024, `Haraka grew by ${growth} bytes for 2 GB of program output`)
  })

  it(
    'runs as user and group, in directory, with HOME, LOGNAME and SHELL of that user',
    { skip: runningAsRoot ? false : 'needs root' },
    async () => {
      const { reply } = await sendMail(haraka.port, { from: 's@origin.test', to: ['x@id.test'], message: MESSAGE })
      assert.equal(reply?.code, 250)
      const nobody = /^nobody:[^:]*:(\d+):/m.exec(readFileSync('/etc/passwd', 'utf8'))?.[1]
      const nogroup = /^nogroup:[^:]*:(\d+):/m.exec(readFileSync('/etc/group', 'utf8'))?.[1]
      const { home, name, shell } = lookupUser('nobody') ?? { home: '?', name: '?', shell: '?' }
      assert.equal(work.take('id.out').toString(), `${nobody}\n${nogroup}\n${work.dir}\n${home} ${name} ${shell}\n`)
    },
  )

  it('survives a client that disconnects right after the final dot', async () => {
    const socket = connect(haraka.port, '127.0.0.1')
    const script = ['EHLO client.test', 'MAIL FROM:<s@origin.test>', 'RCPT TO:<0.5@slow.test>', 'DATA']
    let answered = ''
    socket.on('data', (chunk) => (answered += chunk.toString()))
    for (const line of script) {
      const seen = answered.length
      socket.write(`${line}\r\n`)
      while (answered.length === seen || !answered.endsWith('\r\n')) await sleep(10)
    }
    socket.end('Subject: gone\r\n\r\nbye\r\n.\r\n')
    socket.destroy()
    await haraka.waitForLog(/delivery queue_id=\S+ instance=slow .*ended="exit 0"/)
    assert.ok(haraka.running)
    const { reply } = await sendMail(haraka.port, { from: 's@origin.test', to: ['0@slow.test'], message: MESSAGE })
    assert.equal(reply?.code, 250)
  })

  it("answered every transaction exactly once, and never through Haraka's own timeout", () => {
    assert.doesNotMatch(haraka.log, /ran callback multiple times|plugin timeout|Caught exception/)
  })
})
