// No descriptor of Haraka's reaches a program, a check program or the guardian but stdin, stdout
// and stderr, whichever way the program starts, so that a program running as another user cannot
// write through one what it may not write by its path. The delivery journal's store, which lmdb
// opens without close-on-exec, is not even open in Haraka: only its journal process has it.
import assert from 'node:assert/strict'
import { chmodSync, mkdirSync, readFileSync, readdirSync, readlinkSync } from 'node:fs'
import { after, before, describe, it } from 'node:test'
import { Haraka } from './harness.js'
import { Scratch, crlf } from './fixtures.js'
import { guardianOf, journalProcessOf } from './processes.js'
import { sendMail } from './smtp.js'

const MESSAGE = crlf(['Subject: descriptors', '', 'body'])
const runningAsRoot = process.getuid?.() === 0

describe(
  'descriptors a program inherits',
  { skip: runningAsRoot ? false : 'user = nobody needs Haraka to run as root' },
  () => {
    const work = new Scratch()
    const journal = work.path('journal')
    /** Where the check program, running as nobody, may write its listing. */
    const open = work.path('open')
    let haraka: Haraka

    /** A program that lists the descriptors it was started with, as `ls` finds them once exec'd. */
    function lister(name: string, to: string): string {
      return work.shell(name, `cat > /dev/null\nexec ls -l /proc/self/fd > "${to}"`)
    }

    /** What a listing names: descriptor -> target, but for the directory ls opens to list them. */
    function descriptors(file: string): Record<string, string> {
      const listed = readFileSync(file, 'utf8')
        .split('\n')
        .map((line) => /(\d+) -> (.*)$/.exec(line))
        .filter((match) => match !== null && !/^\/proc\/\d+\/fd$/.test(match[2] ?? ''))
      return Object.fromEntries(listed.map((match) => [match?.[1] ?? '', match?.[2] ?? '']))
    }

    before(async () => {
      chmodSync(work.dir, 0o755)
      mkdirSync(open, { mode: 0o777 })
      chmodSync(open, 0o777)
      const delivery = lister('as-nobody', `${open}/delivery.fds`)
      const check = lister('check-as-nobody', `${open}/check.fds`)
      const plain = lister('as-haraka', work.path('plain.fds'))
      haraka = await Haraka.start({
        hostList: ['nobody.test', 'plain.test'],
        ini: `
[main]
journal = local
journal_directory = ${journal}

[plain]
program_name = ${plain}
domain = plain.test

[nobody]
program_name = ${delivery}
domain = nobody.test
user = nobody
group = nogroup
directory = ${open}
check_program = ${check}
check_cache = 0
`,
      })
      // The journal is opened by the first delivery, before any other program starts.
      const first = await sendMail(haraka.port, { from: 's@origin.test', to: ['a@plain.test'], message: MESSAGE })
      assert.equal(first.reply?.code, 250)
    })

    after(async () => {
      await haraka?.stop()
      work.remove()
    })

    it('the journal is open in its journal process while the programs run, and not in Haraka', () => {
      const targetsOf = (pid: number): string[] =>
        readdirSync(`/proc/${pid}/fd`).map((fd) => safeReadlink(`/proc/${pid}/fd/${fd}`))
      const journalProcess = journalProcessOf(haraka.pid)
      assert.ok(journalProcess !== undefined, 'Haraka has a journal process once the journal was used')
      assert.ok(targetsOf(journalProcess).includes(`${journal}/data.mdb`), targetsOf(journalProcess).join(' '))
      assert.deepEqual(
        targetsOf(haraka.pid).filter((target) => target.startsWith(journal)),
        [],
      )
    })

    it("a program started by posix_spawn or child_process as Haraka's user: 0, 1 and 2 only", () => {
      assert.deepEqual(Object.keys(descriptors(work.path('plain.fds'))), ['0', '1', '2'])
    })

    it('a program running as another user, and its check program: 0, 1 and 2 only', async () => {
      const { reply } = await sendMail(haraka.port, { from: 's@origin.test', to: ['b@nobody.test'], message: MESSAGE })
      assert.equal(reply?.code, 250)
      assert.deepEqual(Object.keys(descriptors(`${open}/check.fds`)), ['0', '1', '2'])
      assert.deepEqual(Object.keys(descriptors(`${open}/delivery.fds`)), ['0', '1', '2'])
    })

    it("the guardian holds nothing of the journal's, nor any socket of Haraka's, beyond the stderr it shares", () => {
      const guardian = guardianOf(haraka.pid)
      assert.ok(guardian !== undefined, 'Haraka has a guardian once a program ran')
      const harakaSockets = new Set(
        readdirSync(`/proc/${haraka.pid}/fd`)
          .map((fd) => safeReadlink(`/proc/${haraka.pid}/fd/${fd}`))
          .filter((target) => target.startsWith('socket:')),
      )
      const held = readdirSync(`/proc/${guardian}/fd`)
        .filter((fd) => Number(fd) > 2)
        .map((fd) => safeReadlink(`/proc/${guardian}/fd/${fd}`))
        .filter((target) => target.startsWith(journal) || harakaSockets.has(target))
      assert.deepEqual(held, [])
    })
  },
)

function safeReadlink(path: string): string {
  try {
    return readlinkSync(path)
  } catch {
    return ''
  }
}
