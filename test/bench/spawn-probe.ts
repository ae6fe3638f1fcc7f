// Run as `node spawn-probe.js PROGRAM COUNT` by the bench: times spawn() of PROGRAM from a bare
// Node process, the small parent that Haraka is compared with. Prints JSON SpawnProbe.
import { spawn } from 'node:child_process'
import { once } from 'node:events'

export interface SpawnProbe {
  readonly meanMs: number
  readonly rssBytes: number
}

async function probe(program: string, count: number): Promise<SpawnProbe> {
  let blockedMs = 0
  for (let i = 0; i < count; i++) {
    const started = process.hrtime.bigint()
    // The same stdio shape as pipe_transport's: a pipe for the message, files for the output.
    const child = spawn(program, [], { stdio: ['pipe', 'ignore', 'ignore'], detached: true })
    blockedMs += Number(process.hrtime.bigint() - started) / 1e6
    child.stdin?.end()
    await once(child, 'close')
  }
  return { meanMs: blockedMs / count, rssBytes: process.memoryUsage().rss }
}

if (require.main === module) {
  const [program, count] = process.argv.slice(2)
  if (program === undefined) throw new Error('usage: spawn-probe.js PROGRAM [COUNT]')
  probe(program, Number(count ?? 200)).then((result) => process.stdout.write(JSON.stringify(result)))
}
