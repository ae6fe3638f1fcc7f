// When Haraka stops, running programs are killed with their process groups, and none of
// their messages is answered 250.
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { Haraka } from './harness.js'
import { Scratch, crlf } from './fixtures.js'
import { isAlive, survivorsAfter, waitForFile } from './processes.js'
import { sendMail, type SendResult } from './smtp.js'

describe('shutdown', () => {
  const work = new Scratch()
  after(() => work.remove())

  for (const graceful of [false, true]) {
    it(`${graceful ? 'graceful' : 'immediate'} stop: programs and their children die, no 250`, async () => {
      const pidFile = work.path(`pids-${graceful}`)
      const hang = work.shell(
        `hang-${graceful}`,
        `cat > /dev/null\nsleep 300 &\necho "$$ $!" > "${pidFile}.tmp" && mv "${pidFile}.tmp" "${pidFile}"\nwait`,
      )
      const haraka = await Haraka.start({
        hostList: ['hang.test'],
        smtp: graceful ? ['graceful_shutdown=true', 'force_shutdown_timeout=10'] : [],
        ini: `[hang]\nprogram_name = ${hang}\ndomain = hang.test\ntimeout = 120\n`,
      })
      try {
        const sending = sendMail(haraka.port, {
          from: 's@origin.test',
          to: ['x@hang.test'],
          message: crlf(['', 'x']),
        }).then(
          (result): SendResult | Error => result,
          (err: unknown) => (err instanceof Error ? err : new Error(String(err))),
        )
        const pids = (await waitForFile(pidFile)).trim().split(' ').map(Number)
        assert.ok(pids.every(isAlive))
        await haraka.stop()
        const result = await sending
        if (graceful) {
          // A graceful stop still answers the waiting client, with a temporary failure.
          assert.ok(!(result instanceof Error), result instanceof Error ? result.message : '')
          assert.equal(result.reply?.code, 450)
          assert.match(result.reply?.text ?? '', /^4\.3\.0 pipe transport shutting down/)
        } else {
          // An immediate stop closes the connection: the client has no answer and retries.
          assert.ok(result instanceof Error)
          assert.match(result.message, /Connection closed/)
        }
        assert.deepEqual(await survivorsAfter(pids), [])
      } finally {
        await haraka.stop()
      }
    })
  }
})
