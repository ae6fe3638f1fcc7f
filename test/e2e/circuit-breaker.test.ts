// The circuit breaker as a sender meets it: a back end that is down costs the sender one RCPT
// (451) instead of a whole transaction run to the program's timeout; one probe at a time tries the
// back end again, and mail flows once it answers. Another instance is never held up meanwhile.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { once } from 'node:events'
import { writeFileSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { Scratch } from './fixtures.js'
import { Haraka, REPO, freePort } from './harness.js'
import { sendMail, type SmtpReply } from './smtp.js'

const MESSAGE = 'From: s@origin.test\r\nSubject: breaker\r\n\r\nbody\r\n'

/** An SMTP client that sends one command at a time, so a test can stop between RCPT and DATA. */
class Dialog {
  private buffered = ''

  private constructor(private readonly socket: Socket) {
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => (this.buffered += chunk))
  }

  static async open(port: number): Promise<Dialog> {
    const socket = connect(port, '127.0.0.1')
    await once(socket, 'connect')
    const dialog = new Dialog(socket)
    await dialog.reply()
    return dialog
  }

  async command(line: string): Promise<SmtpReply> {
    this.socket.write(`${line}\r\n`)
    return this.reply()
  }

  close(): void {
    this.socket.destroy()
  }

  /** The next whole reply (the last line of a multi-line one). */
  private async reply(): Promise<SmtpReply> {
    for (let waited = 0; waited < 20_000; waited += 10) {
      const end = /^(\d{3}) (.*)\r\n/m.exec(this.buffered)
      if (end) {
        this.buffered = this.buffered.slice(end.index + end[0].length)
        return { code: Number(end[1]), text: end[2] ?? '' }
      }
      await sleep(10)
    }
    throw new Error(`no SMTP reply; got ${JSON.stringify(this.buffered)}`)
  }
}

describe('the circuit breaker', () => {
  const work = new Scratch()
  let haraka: Haraka
  let metricsPort: number
  const backendRuns = (): number => work.takeLines('backend-runs').length
  const setBackend = (mode: 'up' | 'down' | 'hang' | 'slow'): void => writeFileSync(work.path('mode'), mode)
  const send = (to: string) => sendMail(haraka.port, { from: 's@origin.test', to: [to], message: MESSAGE })
  const metric = async (line: RegExp): Promise<string[]> =>
    (await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text())
      .split('\n')
      .filter((each) => line.test(each))

  before(async () => {
    metricsPort = await freePort()
    setBackend('down')
    const backend = work.shell(
      'backend',
      [
        `echo run >> ${work.path('backend-runs')}`,
        `case $(cat ${work.path('mode')}) in`,
        '  down) exit 75 ;;',
        '  hang) sleep 30 ;;',
        '  slow) sleep 1.5 ;;',
        'esac',
        'cat > /dev/null',
      ].join('\n'),
    )
    const other = work.shell('other', `echo run >> ${work.path('other-runs')}\ncat > /dev/null`)
    haraka = await Haraka.start({
      hostList: ['backend.test', 'other.test'],
      ini: [
        '[main]',
        `metrics_listen = 127.0.0.1:${metricsPort}`,
        'code_preset = sysexits',
        '[backend]',
        `program_name = ${backend}`,
        'domain = backend.test',
        'timeout = 2',
        'circuit_breaker_failures = 3',
        'circuit_breaker_wait = 1',
        '[other]',
        `program_name = ${other}`,
        'domain = other.test',
      ].join('\n'),
    })
  })

  after(async () => {
    await haraka?.stop()
    work.remove()
  })

  it('opens after consecutive temporary failures and timeouts: RCPT gets 451 at once, and no program runs', async () => {
    for (const mode of ['down', 'down', 'hang'] as const) {
      setBackend(mode)
      const { reply } = await send('x@backend.test')
      assert.equal(reply?.code, 450)
    }
    assert.equal(backendRuns(), 3)
    await haraka.waitForLog(
      /\[WARN\] .*circuit breaker of \[backend\] opened after 3 consecutive failed runs: RCPT answers 451 4\.3\.0 for 1 s, then one probe delivery/,
    )

    const started = Date.now()
    const { reply, refused } = await send('y@backend.test')
    const elapsed = Date.now() - started
    assert.equal(reply, undefined)
    assert.deepEqual(refused.get('y@backend.test'), {
      code: 451,
      text: '4.3.0 y@backend.test: delivery temporarily unavailable, try again later',
    })
    // A run would have taken the program's 2 s timeout: this answer took none of it.
    assert.ok(elapsed < 1000, `the refusal took ${elapsed} ms`)
    assert.equal(backendRuns(), 0)

    // Another instance delivers meanwhile.
    assert.equal((await send('o@other.test')).reply?.code, 250)
    assert.equal(work.takeLines('other-runs').length, 1)

    assert.deepEqual(await metric(/^pipe_transport_circuit/), [
      'pipe_transport_circuits_open{instance_name="backend"} 1',
      'pipe_transport_circuits_open{instance_name="other"} 0',
      'pipe_transport_circuit_opened_total{instance_name="backend"} 1',
      'pipe_transport_circuit_rejections_total{instance_name="backend",at="rcpt"} 1',
    ])
    const dryRun = await new Promise<string>((done) => {
      const tool = join(haraka.dir, 'plugins', 'pipe_transport', 'tools', 'pipe-transport-try.js')
      const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${join(REPO, 'node_modules', '.bin')}:/usr/bin:/bin` }
      delete env['HARAKA']
      execFile(process.execPath, [tool, '-c', haraka.dir, '--dry-run', '--to', 'z@backend.test'], { env }, (_, out) =>
        done(out),
      )
    })
    assert.match(
      dryRun,
      new RegExp(
        [
          '  circuit      opens after 3 consecutive runs that time out, cannot start or fail temporarily',
          '  while open   RCPT gets 451 4\\.3\\.0 z@backend\\.test: delivery temporarily unavailable, try again later',
          '               for 1 s, then one probe delivery; each failed probe doubles the wait, up to 300 s',
          '               \\(one circuit per instance in each Haraka process\\)',
          `  circuit now  OPEN: 1 circuit in the running Haraka, where RCPT gets 451 \\(http://127\\.0\\.0\\.1:${metricsPort}/metrics\\)`,
        ].join('\n'),
      ),
    )
  })

  it('after its wait lets one probe run at a time; a transaction past RCPT meanwhile gets 450 without a run', async () => {
    setBackend('slow')
    await sleep(1100) // circuit_breaker_wait: due for a probe now
    const late = await Dialog.open(haraka.port)
    try {
      assert.equal((await late.command('EHLO client.test')).code, 250)
      assert.equal((await late.command('MAIL FROM:<s@origin.test>')).code, 250)
      // No probe is running: RCPT lets this one through.
      assert.equal((await late.command('RCPT TO:<late@backend.test>')).code, 250)

      const probe = send('probe@backend.test')
      for (let waited = 0; !work.takeLines('backend-runs').length; waited += 20) {
        assert.ok(waited < 10_000, 'the probe never started')
        await sleep(20)
      }
      assert.equal((await late.command('DATA')).code, 354)
      const answer = await late.command(`${MESSAGE}.`)
      assert.equal(answer.code, 450)
      assert.match(answer.text, /^4\.3\.0 pipe transport delivery temporarily unavailable, try again later \(\S+\)$/)
      assert.equal(backendRuns(), 0, 'no program ran for the transaction the probe held back')
      assert.equal((await probe).reply?.code, 250)
    } finally {
      late.close()
    }
    await haraka.waitForLog(
      /\[WARN\] .*circuit breaker of \[backend\] closed: its program answered a probe delivery after \d+ s open/,
    )

    setBackend('up')
    for (const to of ['a@backend.test', 'b@backend.test']) assert.equal((await send(to)).reply?.code, 250)
    assert.equal(backendRuns(), 2)
    assert.deepEqual(await metric(/^pipe_transport_circuit/), [
      'pipe_transport_circuits_open{instance_name="backend"} 0',
      'pipe_transport_circuits_open{instance_name="other"} 0',
      'pipe_transport_circuit_opened_total{instance_name="backend"} 1',
      'pipe_transport_circuit_rejections_total{instance_name="backend",at="rcpt"} 1',
      'pipe_transport_circuit_rejections_total{instance_name="backend",at="queue"} 1',
    ])
  })
})
