// The try command (pipe-transport-try, tools/pipe-transport-try.js): a real delivery through an install
// dir's config, --dry-run, --help, and its one-line errors. It runs as an operator would run the
// copy installed with the plugin, from outside this repository, finding Haraka on PATH.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { Haraka, REPO } from './harness.js'
import { Scratch } from './fixtures.js'
import { sendMail } from './smtp.js'

interface Run {
  readonly status: number | null
  readonly stdout: string
  readonly stderr: string
}

/** PATH as an operator's shell has it: Haraka's command on it, this repository nowhere else. */
const HARAKA_ON_PATH = `${join(REPO, 'node_modules', '.bin')}:/usr/bin:/bin`

function tryCommand(dir: string, args: readonly string[], path = HARAKA_ON_PATH): Promise<Run> {
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: path }
  delete env['HARAKA']
  const tool = join(dir, 'plugins', 'pipe_transport', 'tools', 'pipe-transport-try.js')
  return new Promise((done) => {
    execFile(process.execPath, [tool, ...args], { cwd: tmpdir(), env }, (err, stdout, stderr) => {
      done({ status: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr })
    })
  })
}

/** One line on stderr and nothing else: no stack trace, no usage dump. */
function oneLine(run: Run, status: number, pattern: RegExp): void {
  assert.equal(run.status, status, run.stderr)
  assert.equal(run.stdout, '')
  assert.match(run.stderr, /^pipe-transport-try: [^\n]+\n$/)
  assert.match(run.stderr.trimEnd(), pattern)
}

describe('the try command', () => {
  const work = new Scratch()
  let dir: string
  let program: string
  const message = work.file('message.eml', 'Subject: try\n\n.leading dot\nbody\n')

  before(async () => {
    // Notes that it ran, copies its input to stdout, and exits with the status its first argument names.
    program = work.shell('exit-with', `echo ran >> "${work.path('runs')}"\ncat\nexit "$1"`)
    ;({ dir } = await Haraka.install({
      hostList: ['try.test'],
      ini: [
        '[tried]',
        `program_name = ${program}`,
        'arguments = ${user} -f ${sender} -- ${recipient}',
        'domain = try.test',
        'output_file = tried.out',
        'return_path = true',
        '',
        '[tried.env]',
        'API_URL = https://tickets.internal/api',
        '',
        '[tried.code]',
        '0 = 250 2.0.0 tried and delivered',
        '75 = 450 4.3.0 try again later',
      ].join('\n'),
    }))
  })

  after(() => {
    rmSync(dir, { recursive: true, force: true })
    work.remove()
  })

  it('prints its usage with --help', async () => {
    const run = await tryCommand(dir, ['--help'])
    assert.equal(run.status, 0)
    assert.equal(run.stderr, '')
    assert.match(run.stdout, /^usage: pipe-transport-try -c HARAKA_DIR --to RECIPIENT/)
    assert.match(run.stdout, /^ {6}--dry-run {6}run nothing;/m)
  })

  it("delivers for real through the install dir's config, says so, and prints every reply", async () => {
    const run = await tryCommand(dir, [
      '-c',
      dir,
      '--from',
      's@origin.test',
      '--to',
      '0@try.test',
      '--message',
      message,
    ])
    assert.equal(run.status, 0, run.stderr)
    assert.match(
      run.stderr,
      /^pipe-transport-try: a real delivery: the configured programs run and may deliver the message/,
    )
    // Haraka's own log lines come between the transcript's lines.
    const transcript = run.stdout
      .split('\n')
      .filter((line) => /^(>>>|<<<) /.test(line))
      .join('\n')
    assert.match(transcript, /^>>> RCPT TO:<0@try\.test>\n<<< 250 recipient <0@try\.test> OK$/m)
    assert.match(
      transcript,
      /^>>> \(\d+ bytes of \S+message\.eml, then "\."\)\n<<< 250 2\.0\.0 tried and delivered \(\S+\)$/m,
    )
    assert.match(run.stdout, /\[pipe_transport\] delivery .*instance=tried .*ended="exit 0"/)
    // Relative output_file resolved against the install dir, as in a running Haraka.
    const received = readFileSync(join(dir, 'tried.out'), 'latin1')
    assert.match(
      received,
      /^Return-Path: <s@origin\.test>\nReceived: from [\s\S]*\nSubject: try\n\n\.leading dot\nbody\n$/,
    )
    assert.equal(work.take('runs').toString(), 'ran\n')
  })

  it('exits 1 and shows the refusal when the program fails', async () => {
    const run = await tryCommand(dir, [
      '-c',
      dir,
      '--from',
      's@origin.test',
      '--to',
      '75@try.test',
      '--message',
      message,
    ])
    assert.equal(run.status, 1)
    assert.match(run.stdout, /^<<< 450 4\.3\.0 try again later \(\S+\)$/m)
    assert.equal(work.take('runs').toString(), 'ran\n')
  })

  it('with --dry-run prints what RCPT answers, the route, argv, environment and replies, and runs nothing', async () => {
    const run = await tryCommand(dir, [
      '-c',
      dir,
      '--dry-run',
      '--from',
      's@origin.test',
      '--to',
      'a@try.test',
      '--to',
      'b@TRY.test',
      '--to',
      'c@other.test',
      '--message',
      message,
    ])
    assert.equal(run.status, 0, run.stderr)
    assert.equal(run.stderr, '')
    assert.equal(
      run.stdout,
      [
        `pipe-transport-try --dry-run: nothing runs. What ${dir}/config/pipe_transport.ini does with this message:`,
        '',
        'RCPT TO:<a@try.test>    routed to [tried]',
        'RCPT TO:<b@TRY.test>    routed to [tried]',
        'RCPT TO:<c@other.test>  452 4.5.3 c@other.test is delivered separately from a@try.test, send it in another transaction',
        '',
        `[tried] runs ${program} once for a@try.test b@TRY.test`,
        `  argv         ${JSON.stringify([program, 'a', 'b', '-f', 's@origin.test', '--', 'a@try.test', 'b@TRY.test'])}`,
        '  environment  PATH="/usr/local/bin:/usr/bin:/bin"',
        '               API_URL="https://tickets.internal/api"',
        '               SENDER="s@origin.test"',
        '               RECIPIENT="a@try.test"',
        '               LOCAL="a"',
        '               USER="a"',
        '               EXTENSION=""',
        '               DOMAIN="try.test"',
        '               ORIGINAL_RECIPIENT="a@try.test"',
        '               ROUTE_DATA=""',
        '               QUEUE_ID="<queue id>"',
        '               CLIENT_ADDRESS="127.0.0.1"',
        '               CLIENT_HELO="pipe-transport-try.local"',
        '               INSTANCE="tried"',
        `  stdin        ${message} (32 bytes as sent) after Haraka's Received: header; LF line endings; first Return-Path:`,
        '  directory    /',
        `  stdout       appended to ${dir}/tried.out`,
        '  stderr       appended to /dev/null',
        "  runs as      Haraka's user",
        '  timeout      60 s, at most 10 at once per Haraka process',
        '  replies',
        '    exit 0                250 2.0.0 tried and delivered',
        '    exit 75               450 4.3.0 try again later',
        '    any other exit        550 5.5.0 pipe transport gave exit status N',
        '    killed by a signal    450 4.3.0 pipe transport program was killed by signal SIGNAME',
        '    runs past 60 s        450 4.3.0 pipe transport program timed out after 60s',
        '    cannot be started     450 4.3.0 pipe transport program could not be started',
        '    circuit breaker open  450 4.3.0 pipe transport delivery temporarily unavailable, try again later',
        '  circuit      opens after 5 consecutive runs that time out, cannot start or fail temporarily',
        '  while open   RCPT gets 451 4.3.0 a@try.test: delivery temporarily unavailable, try again later',
        '               for 30 s, then one probe delivery; each failed probe doubles the wait, up to 300 s',
        '               (one circuit per instance in each Haraka process)',
        "  circuit now  unknown: set metrics_listen to see the running Haraka's circuits here",
        '',
      ].join('\n'),
    )
    assert.equal(existsSync(work.path('runs')) && readFileSync(work.path('runs'), 'utf8'), '')
  })

  it('with --dry-run shows what RCPT refuses, for the null sender too', async () => {
    const run = await tryCommand(dir, ['-c', dir, '--dry-run', '--to=-o@try.test'])
    assert.equal(run.status, 0, run.stderr)
    assert.match(
      run.stdout,
      /^RCPT TO:<-o@try\.test> {2}550 5\.1\.3 pipe transport refuses a recipient that would start a program argument with "-"$/m,
    )
    assert.match(run.stdout, /^pipe_transport delivers nothing: no recipient it routes would be accepted\.$/m)
    const nullSender = await tryCommand(dir, ['-c', dir, '--dry-run', '--to', 'a@try.test'])
    assert.match(nullSender.stdout, /^ {2}argv {9}\[.*"-f","","--","a@try\.test"\]$/m)
  })

  it('says in one line what is wrong: a missing file, an unknown option, no Haraka to be found', async () => {
    oneLine(
      await tryCommand(dir, ['-c', dir, '--to', 'a@try.test', '--message', '/no/such.eml']),
      1,
      /cannot read --message \/no\/such\.eml: no such file$/,
    )
    oneLine(
      await tryCommand(dir, ['-c', dir, '--frm', 'a@try.test']),
      2,
      /unknown option '--frm' \(see pipe-transport-try --help\)$/,
    )
    oneLine(await tryCommand(dir, ['-c', dir, '--to', 'a@try.test']), 2, /--message FILE is required, unless --dry-run/)
    oneLine(
      await tryCommand(dir, ['-c', dir, '--to', 'not-an-address', '--dry-run']),
      2,
      /--to not-an-address is not an address: /,
    )
    oneLine(
      await tryCommand(dir, ['-c', work.dir, '--to', 'a@try.test', '--dry-run']),
      1,
      /is not a Haraka install dir: it has no config\/ folder$/,
    )
    // An install dir of copied files without node_modules, and no haraka on PATH.
    const { dir: bare } = await Haraka.install({
      hostList: ['try.test'],
      ini: '[tried]\nprogram_name = /bin/cat\ndomain = try.test\n',
    })
    try {
      rmSync(join(bare, 'node_modules'))
      const lost = await tryCommand(bare, ['-c', bare, '--to', 'a@try.test', '--dry-run'], '/usr/bin:/bin')
      oneLine(
        lost,
        1,
        /cannot find Haraka: not in \S+\/node_modules, not among this command's dependencies, and no haraka command on PATH; name its package directory with --haraka DIR$/,
      )
      const told = await tryCommand(
        bare,
        ['-c', bare, '--to', 'a@try.test', '--dry-run', '--haraka', join(REPO, 'node_modules', 'haraka')],
        '/usr/bin:/bin',
      )
      assert.equal(told.status, 0, told.stderr)
    } finally {
      rmSync(bare, { recursive: true, force: true })
    }
  })

  it("lists the config's errors, one per line, and runs nothing", async () => {
    const { dir: broken } = await Haraka.install({
      hostList: ['try.test'],
      ini: `[bad]\nprogram_name = ${program}\ndomain = try.test\ntimeot = 5\n`,
    })
    try {
      const run = await tryCommand(broken, ['-c', broken, '--to', 'a@try.test', '--message', message])
      assert.equal(run.status, 1)
      assert.equal(run.stdout, '')
      assert.equal(
        run.stderr,
        `${broken}/config/pipe_transport.ini [bad] timeot: unknown key; did you mean "timeout"?\n` +
          `pipe-transport-try: 1 error(s) in ${broken}/config/pipe_transport.ini, listed above\n`,
      )
      assert.equal(existsSync(work.path('runs')) && readFileSync(work.path('runs'), 'utf8'), '')
    } finally {
      rmSync(broken, { recursive: true, force: true })
    }
  })
})

describe('the dry run and the live hooks answer RCPT alike', () => {
  const work = new Scratch()
  let haraka: Haraka

  before(async () => {
    haraka = await Haraka.start({
      hostList: ['other.test', 'one.test', 'two.test'],
      ini: '[one]\nprogram_name = /bin/true\narguments = ${recipient}\ndomain = one.test\n\n[two]\nprogram_name = /bin/true\ndomain = two.test\n',
    })
  })

  after(async () => {
    await haraka?.stop()
    work.remove()
  })

  /** What the live server answers each RCPT of one transaction: the code, and a refusal's text. */
  async function live(recipients: readonly string[]): Promise<string[]> {
    const { refused } = await sendMail(haraka.port, {
      from: 's@origin.test',
      to: recipients,
      message: 'Subject: x\r\n\r\nx\r\n',
    })
    return recipients.map((to) => {
      const reply = refused.get(to)
      return reply ? `${reply.code} ${reply.text}` : '250'
    })
  }

  /** What --dry-run reports for the same recipients: a refusal as the client reads it, else 250. */
  async function dryRun(recipients: readonly string[]): Promise<string[]> {
    const run = await tryCommand(haraka.dir, [
      '-c',
      haraka.dir,
      '--dry-run',
      '--from',
      's@origin.test',
      ...recipients.map((to) => `--to=${to}`),
    ])
    assert.equal(run.status, 0, run.stderr)
    return recipients.map((to) => {
      const line = run.stdout.split('\n').find((text) => text.startsWith(`RCPT TO:<${to}>`)) ?? ''
      const answer = line.slice(`RCPT TO:<${to}>`.length).trim()
      return /^\d{3} /.test(answer) ? answer : '250'
    })
  }

  for (const recipients of [
    ['a@one.test', 'b@two.test', 'c@other.test', '-x@one.test', 'd@one.test'],
    ['c@other.test', 'a@one.test', 'e@other.test'],
  ]) {
    it(`for ${recipients.join(', ')}`, async () => {
      const answers = await live(recipients)
      assert.ok(
        answers.some((answer) => answer.startsWith('452 4.5.3 ')),
        answers.join(' | '),
      )
      assert.deepEqual(await dryRun(recipients), answers)
    })
  }
})
