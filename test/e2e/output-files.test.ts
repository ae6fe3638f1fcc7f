// output_file and error_file cannot be turned against root: a program's user who swaps its own
// output file for a link to a file only root may write gets nothing written there, and a layout
// that would let that user make the swap is refused at load.
import assert from 'node:assert/strict'
import { chmodSync, chownSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { after, before, describe, it } from 'node:test'
import { lookupUser } from '../../plugins/pipe_transport/settings/accounts.js'
import { Haraka } from './harness.js'
import { Scratch, crlf } from './fixtures.js'
import { sendMail } from './smtp.js'

const MESSAGE = crlf(['Subject: output files', '', 'body'])
const runningAsRoot = process.getuid?.() === 0
const ROOT_ONLY = 'root only\n'

describe(
  'output files and links',
  { skip: runningAsRoot ? false : 'user = nobody needs Haraka to run as root' },
  () => {
    const work = new Scratch()
    const logs = work.path('logs')
    /** A file only root may write, which the swapped links point at. */
    const target = work.path('root-only')
    let haraka: Haraka

    before(async () => {
      chmodSync(work.dir, 0o755)
      mkdirSync(logs, { mode: 0o755 })
      writeFileSync(target, ROOT_ONLY, { mode: 0o600 })
      const program = work.shell('say', 'cat > /dev/null\necho "written by the program"\necho "and on stderr" >&2')
      haraka = await Haraka.start({
        hostList: ['nobody.test', 'plain.test'],
        ini: `
[nobody]
program_name = ${program}
domain = nobody.test
user = nobody
group = nogroup
output_file = ${logs}/nobody.out
error_file = ${logs}/nobody.err

[plain]
program_name = ${program}
domain = plain.test
output_file = ${logs}/plain.out
`,
      })
    })

    after(async () => {
      await haraka?.stop()
      work.remove()
    })

    it('appends to the output files as they are', async () => {
      const { reply } = await sendMail(haraka.port, { from: 's@origin.test', to: ['a@nobody.test'], message: MESSAGE })
      assert.equal(reply?.code, 250)
      assert.equal(readFileSync(`${logs}/nobody.out`, 'utf8'), 'written by the program\n')
      assert.equal(readFileSync(`${logs}/nobody.err`, 'utf8'), 'and on stderr\n')
    })

    for (const [domain, file] of [
      ['nobody.test', 'nobody.out'],
      ['nobody.test', 'nobody.err'],
      ['plain.test', 'plain.out'],
    ] as const) {
      it(`refuses ${file} once it is a link to a file only root may write (${domain})`, async () => {
        const path = `${logs}/${file}`
        // What the program's user could do in a directory it may write: here the test does it.
        rmSync(path, { force: true })
        symlinkSync(target, path)
        const { reply } = await sendMail(haraka.port, { from: 's@origin.test', to: [`b@${domain}`], message: MESSAGE })
        assert.equal(reply?.code, 450)
        assert.match(reply?.text ?? '', /^4\.3\.0 pipe transport program could not be started/)
        assert.equal(readFileSync(target, 'utf8'), ROOT_ONLY, 'nothing was written through the link')
        await haraka.waitForLog(
          new RegExp(
            `cannot open (output|error)_file ${path}: it is a symbolic link, which pipe_transport never follows: name the file itself`,
          ),
        )
        rmSync(path)
      })
    }
  },
)

describe(
  "output files a program's user could swap",
  { skip: runningAsRoot ? false : 'user = nobody needs Haraka to run as root' },
  () => {
    const work = new Scratch()

    after(() => work.remove())

    it('are refused at start, naming the directory the user may write', async () => {
      const nobody = lookupUser('nobody')
      assert.ok(nobody?.gid !== undefined)
      chmodSync(work.dir, 0o755)
      const theirs = work.path('theirs')
      mkdirSync(theirs)
      chownSync(theirs, nobody.uid, nobody.gid)
      const sticky = work.path('sticky')
      mkdirSync(sticky)
      chmodSync(sticky, 0o1777)
      writeFileSync(`${sticky}/exists.err`, '')
      chownSync(`${sticky}/exists.err`, nobody.uid, nobody.gid)
      const { code, log } = await Haraka.startExpectingRefusal({
        hostList: ['swap.test'],
        ini: `
[swap]
program_name = /bin/cat
domain = swap.test
user = nobody
output_file = ${theirs}/out.log
error_file = ${sticky}/missing.err

[fine]
program_name = /bin/cat
domain = fine.test
user = nobody
error_file = ${sticky}/exists.err
`,
      })
      assert.notEqual(code, 0)
      assert.match(
        log,
        new RegExp(
          escape(
            `[swap] output_file: ${theirs}/out.log: directory ${theirs} can be written by user nobody, who could put a link to any file root may write in place of ${theirs}/out.log; make it writable by root only`,
          ),
        ),
      )
      assert.match(
        log,
        new RegExp(
          escape(
            `[swap] error_file: ${sticky}/missing.err: ${sticky}/missing.err does not exist yet, and user nobody may create it in the sticky directory ${sticky} (as a link to a file root may write); create it first`,
          ),
        ),
      )
      assert.doesNotMatch(log, /\[fine\]/)
    })
  },
)

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}
