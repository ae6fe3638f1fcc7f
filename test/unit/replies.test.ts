import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { replyFor, type ReplyPolicy } from '../../plugins/pipe_transport/queue/run-reply.js'
import { PRESETS, SEED_OTHERWISE, parseReplyLine } from '../../plugins/pipe_transport/settings/replies.js'
import type { ExitCodeTable } from '../../plugins/pipe_transport/settings/vocabulary.js'

const seed: ExitCodeTable = { entries: new Map(), otherwise: SEED_OTHERWISE }

/** An instance's reply settings: the map alone, unless the test says more. */
const policy = (exitCodes: ExitCodeTable, more: Partial<ReplyPolicy> = {}): ReplyPolicy => ({
  exitCodes,
  statusFromStderr: false,
  replyText: 'map',
  ...more,
})

describe('reply lines and the reply for how a run ended', () => {
  it('reads configured reply lines into a verdict and the text after the code', () => {
    assert.deepEqual(parseReplyLine('250 ok'), { ok: true, value: { verdict: 'ok', text: 'ok' } })
    assert.deepEqual(parseReplyLine('250'), { ok: true, value: { verdict: 'ok', text: '' } })
    assert.deepEqual(parseReplyLine('450 4.2.0 try %d later'), {
      ok: true,
      value: { verdict: 'denysoft', text: '4.2.0 try %d later' },
    })
    assert.deepEqual(parseReplyLine('554 5.7.1 no'), { ok: true, value: { verdict: 'deny', text: '5.7.1 no' } })
  })

  it('refuses lines that do not start with a 2xx, 4xx or 5xx code, or mix classes', () => {
    for (const bad of ['ok', '650 x', '25 short', '2500 long', '354 go ahead', '']) {
      assert.equal(parseReplyLine(bad).ok, false, bad)
    }
    assert.deepEqual(parseReplyLine('450 5.1.1 mixed'), {
      ok: false,
      error: '"450 5.1.1 mixed": enhanced status code 5.1.1 does not match reply code class 4xx',
    })
  })

  it('answers unmapped statuses as the seed did', () => {
    assert.deepEqual(replyFor({ kind: 'exited', status: 0 }, policy(seed)), { verdict: 'ok', text: '' })
    assert.deepEqual(replyFor({ kind: 'exited', status: 3 }, policy(seed)), {
      verdict: 'deny',
      text: '5.5.0 pipe transport gave exit status 3',
    })
  })

  it('uses a mapped entry, with %d as the status, before any default', () => {
    const table: ExitCodeTable = {
      entries: new Map([
        [0, { verdict: 'ok', text: 'done %d' }],
        [111, { verdict: 'denysoft', text: '4.3.0 later (%d, %d)' }],
      ]),
      otherwise: SEED_OTHERWISE,
    }
    assert.deepEqual(replyFor({ kind: 'exited', status: 0 }, policy(table)), { verdict: 'ok', text: 'done 0' })
    assert.deepEqual(replyFor({ kind: 'exited', status: 111 }, policy(table)), {
      verdict: 'denysoft',
      text: '4.3.0 later (111, 111)',
    })
  })

  it('answers everything the program did not decide with a 4xx', () => {
    for (const outcome of [
      { kind: 'signaled', signal: 'SIGKILL' },
      { kind: 'timed-out', seconds: 5 },
      { kind: 'start-failed', error: 'ENOENT' },
      { kind: 'no-slot', seconds: 5 },
      { kind: 'shutdown' },
    ] as const) {
      const reply = replyFor(outcome, policy(seed))
      assert.equal(reply.verdict, 'denysoft', outcome.kind)
      assert.match(reply.text, /^4\.3\.[02] /)
    }
    assert.match(replyFor({ kind: 'signaled', signal: 'SIGSEGV' }, policy(seed)).text, /SIGSEGV/)
    assert.match(replyFor({ kind: 'timed-out', seconds: 7 }, policy(seed)).text, /timed out after 7s/)
  })
})

describe('exit-code presets', () => {
  const sysexits = PRESETS.sysexits
  const qmail = PRESETS.qmail
  const answer = (table: ExitCodeTable, status: number): string => {
    const reply = replyFor({ kind: 'exited', status }, policy(table))
    return `${reply.verdict} ${reply.text}`
  }

  it('sysexits: temporary for 75, 71, 74 and 78; specific permanent codes; 5.3.0 otherwise', () => {
    assert.equal(answer(sysexits, 0), 'ok ')
    assert.equal(answer(sysexits, 75), 'denysoft 4.3.0 temporary failure (EX_TEMPFAIL, exit status 75)')
    assert.equal(answer(sysexits, 71), 'denysoft 4.3.0 system error (EX_OSERR, exit status 71)')
    assert.equal(answer(sysexits, 74), 'denysoft 4.3.0 input/output error (EX_IOERR, exit status 74)')
    assert.equal(answer(sysexits, 78), 'denysoft 4.3.5 configuration error (EX_CONFIG, exit status 78)')
    assert.equal(answer(sysexits, 67), 'deny 5.1.1 no such user (EX_NOUSER, exit status 67)')
    assert.equal(answer(sysexits, 68), 'deny 5.1.2 no such host (EX_NOHOST, exit status 68)')
    assert.equal(answer(sysexits, 65), 'deny 5.6.0 data format error (EX_DATAERR, exit status 65)')
    assert.equal(answer(sysexits, 77), 'deny 5.7.0 permission denied (EX_NOPERM, exit status 77)')
    assert.equal(answer(sysexits, 1), 'deny 5.3.0 delivery failed (exit status 1)')
  })

  it('qmail: 0 and 99 succeed; 100, 64, 65, 70, 76, 77, 78 and 112 are permanent; the rest temporary', () => {
    assert.equal(answer(qmail, 0), 'ok ')
    assert.equal(answer(qmail, 99), 'ok ')
    for (const status of [100, 64, 65, 70, 76, 77, 78, 112])
      assert.equal(answer(qmail, status), `deny 5.3.0 permanent failure (exit status ${status})`)
    for (const status of [111, 1, 75, 113])
      assert.equal(answer(qmail, status), `denysoft 4.3.0 temporary failure (exit status ${status})`)
  })

  it("takes a failing program's stderr status line, sanitised and bounded, over the map", () => {
    const said = (stderrLine: string, status = 1): string => {
      const reply = replyFor({ kind: 'exited', status }, policy(sysexits, { statusFromStderr: true }), {
        stderrLine,
        stdoutLine: undefined,
      })
      return `${reply.verdict} ${reply.text}`
    }
    assert.equal(said('4.2.2 mailbox full'), 'denysoft 4.2.2 mailbox full')
    assert.equal(said('5.1.1 no such user\u0007\u00e9', 75), 'deny 5.1.1 no such user??')
    assert.equal(said(`5.2.3 ${'x'.repeat(300)}`).length, 'deny '.length + 200)
    // Not a status line, or the program succeeded: the exit status decides.
    assert.equal(said('error: 5.1.1 no such user', 67), 'deny 5.1.1 no such user (EX_NOUSER, exit status 67)')
    assert.equal(said('2.0.0 fine', 1), 'deny 5.3.0 delivery failed (exit status 1)')
    assert.equal(said('5.1.10.2 odd', 1), 'deny 5.3.0 delivery failed (exit status 1)')
    assert.equal(said('5.1.1 bounce', 0), 'ok ')
    // Without status_from_stderr the line is never the reply.
    assert.equal(
      replyFor({ kind: 'exited', status: 1 }, policy(sysexits), { stderrLine: '4.2.2 full', stdoutLine: undefined })
        .text,
      '5.3.0 delivery failed (exit status 1)',
    )
  })

  it("reply_text: a failing run's text is its first stderr or last stdout line, after the map's codes", () => {
    const said = (replyText: 'stderr' | 'stdout', line: string, status = 67): string => {
      const words =
        replyText === 'stderr' ? { stderrLine: line, stdoutLine: 'other' } : { stderrLine: 'other', stdoutLine: line }
      const reply = replyFor({ kind: 'exited', status }, policy(sysexits, { replyText }), words)
      return `${reply.verdict} ${reply.text}`
    }
    assert.equal(said('stderr', 'User nosuch does not exist'), 'deny 5.1.1 User nosuch does not exist')
    assert.equal(said('stdout', 'queue "bugs" unknown', 75), 'denysoft 4.3.0 queue "bugs" unknown')
    // Its own enhanced code stays when its class agrees with the map, goes when it does not.
    assert.equal(said('stderr', '5.2.2 Quota exceeded'), 'deny 5.2.2 Quota exceeded')
    assert.equal(said('stderr', '4.2.2 Quota exceeded'), 'deny 5.1.1 Quota exceeded')
    // Printable ASCII, at most 200 characters of it.
    assert.equal(said('stderr', 'caf\u00e9\u0007 closed'), 'deny 5.1.1 caf?? closed')
    assert.equal(said('stderr', 'x'.repeat(300)), `deny 5.1.1 ${'x'.repeat(200)}`)
    // Nothing said, or a success: the map's text.
    assert.equal(said('stderr', '   '), 'deny 5.1.1 no such user (EX_NOUSER, exit status 67)')
    assert.equal(said('stdout', 'all fine', 0), 'ok ')
    // A map entry without an enhanced code gives the line alone.
    const plain: ExitCodeTable = {
      entries: new Map([[100, { verdict: 'deny', text: 'command failed' }]]),
      otherwise: SEED_OTHERWISE,
    }
    const bare = replyFor({ kind: 'exited', status: 100 }, policy(plain, { replyText: 'stderr' }), {
      stderrLine: 'no such list',
      stdoutLine: undefined,
    })
    assert.deepEqual(bare, { verdict: 'deny', text: 'no such list' })
  })
})
