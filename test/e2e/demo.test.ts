// The demo that `npm start` runs (config/ of this repository), on a free port: it starts without
// a warning, TLS ones included, and writes what it delivers as an mbox.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { Haraka, REPO } from './harness.js'
import { crlf } from './fixtures.js'
import { sendMail } from './smtp.js'

const demo = (name: string): string => readFileSync(join(REPO, 'config', name), 'utf8')

describe('the demo config', () => {
  let haraka: Haraka

  before(async () => {
    haraka = await Haraka.start({
      ini: demo('pipe_transport.ini'),
      plugins: demo('plugins')
        .split('\n')
        .filter((line) => line.trim() !== '' && !line.startsWith('#')),
      hostList: demo('host_list')
        .split('\n')
        .filter((line) => line.trim() !== ''),
      config: { 'tls.ini': demo('tls.ini'), me: demo('me').trim() },
    })
  })

  after(async () => {
    await haraka?.stop()
  })

  it('starts with no warning or error, from pipe_transport or about TLS', () => {
    assert.match(haraka.log, /\[pipe_transport\] loaded \S+pipe_transport\.ini in \d+ ms: \[demo\] demo\.example/)
    // The test run's own choice of the fallback spawner is warned about, and, run as root (as CI
    // runs it), that the demo's program runs as root; nothing else may be.
    const forced = /^.*programs start through child_process .*PIPE_TRANSPORT_SPAWNER=child_process is set\n/m
    const root = /^.*\[WARN\] .*pipe_transport\.ini \[demo\]: programs run as root: .*\n/m
    const rootWarned = root.test(haraka.log)
    assert.equal(rootWarned, process.getuid?.() === 0, 'the root warning when, and only when, Haraka runs as root')
    assert.doesNotMatch(
      haraka.log.replace(forced, '').replace(root, ''),
      /\[(WARN|ERROR|CRIT)\] \[-\] \[(pipe_transport|core)\]/,
    )
    assert.doesNotMatch(haraka.log, /tls (key|cert) .* could not be loaded/)
  })

  it('appends each message to demo-deliveries.txt as an mbox', async () => {
    for (const subject of ['one', 'two']) {
      const { reply } = await sendMail(haraka.port, {
        from: 's@origin.test',
        to: ['you@demo.example'],
        message: crlf([`Subject: ${subject}`, '', 'From here on, a body']),
      })
      assert.equal(reply?.code, 250)
      assert.match(reply?.text ?? '', /^2\.0\.0 delivered by the demo /)
    }
    const mbox = readFileSync(join(haraka.dir, 'demo-deliveries.txt'), 'latin1')
    const messages = mbox.split(/^(?=From s@origin\.test \w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}$)/m)
    assert.equal(messages.length, 2, mbox)
    for (const [index, message] of messages.entries()) {
      assert.match(message, new RegExp(`\\nSubject: ${['one', 'two'][index]}\\n\\n>From here on, a body\\n$`))
    }
  })
})
