import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { SEED_OTHERWISE, parseReplyLine, replyFor, type ExitCodeTable } from '../../plugins/pipe_transport/exit-reply.js'

const seed: ExitCodeTable = { entries: new Map(), otherwise: SEED_OTHERWISE }

describe('exit-reply', () => {
  it('reads configured reply lines into a verdict and the text after the code', () => {
    assert.deepEqual(parseReplyLine('250 ok'), { verdict: 'ok', text: 'ok' })
    assert.deepEqual(parseReplyLine('250'), { verdict: 'ok', text: '' })
    assert.deepEqual(parseReplyLine('450 4.2.0 try %d later'), { verdict: 'denysoft', text: '4.2.0 try %d later' })
    assert.deepEqual(parseReplyLine('554 5.7.1 no'), { verdict: 'deny', text: '5.7.1 no' })
  })

  it('refuses lines that do not start with a 2xx, 4xx or 5xx code, or mix classes', () => {
    for (const bad of ['ok', '650 x', '25 short', '2500 long', '354 go ahead', '']) {
      assert.ok('error' in parseReplyLine(bad), bad)
    }
    assert.ok('error' in parseReplyLine('450 5.1.1 mixed'))
  })

  it('answers unmapped statuses as the seed did', () => {
    assert.deepEqual(replyFor({ kind: 'exited', status: 0 }, seed), { verdict: 'ok', text: '' })
    assert.deepEqual(replyFor({ kind: 'exited', status: 3 }, seed), { verdict: 'deny', text: '5.5.0 pipe transport gave exit status 3' })
  })

  it('uses a mapped entry, with %d as the status, before any default', () => {
    const table: ExitCodeTable = {
      entries: new Map([
        [0, { verdict: 'ok', text: 'done %d' }],
        [111, { verdict: 'denysoft', text: '4.3.0 later (%d, %d)' }],
      ]),
      otherwise: SEED_OTHERWISE,
    }
    assert.deepEqual(replyFor({ kind: 'exited', status: 0 }, table), { verdict: 'ok', text: 'done 0' })
    assert.deepEqual(replyFor({ kind: 'exited', status: 111 }, table), { verdict: 'denysoft', text: '4.3.0 later (111, 111)' })
  })

  it('answers everything the program did not decide with a 4xx', () => {
    for (const outcome of [
      { kind: 'signaled', signal: 'SIGKILL' },
      { kind: 'timed-out', seconds: 5 },
      { kind: 'start-failed', cause: 'ENOENT' },
      { kind: 'no-slot', seconds: 5 },
      { kind: 'shutdown' },
    ] as const) {
      const reply = replyFor(outcome, seed)
      assert.equal(reply.verdict, 'denysoft', outcome.kind)
      assert.match(reply.text, /^4\.3\.[02] /)
    }
    assert.match(replyFor({ kind: 'signaled', signal: 'SIGSEGV' }, seed).text, /SIGSEGV/)
    assert.match(replyFor({ kind: 'timed-out', seconds: 7 }, seed).text, /timed out after 7s/)
  })
})
