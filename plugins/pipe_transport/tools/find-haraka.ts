// Which Haraka the try command uses. A `haraka -i` install dir does not contain Haraka (it is
// usually installed globally), and this package depends on Haraka only for development, so it
// looks where Haraka can be: where it is told, in the install dir's node_modules, beside the
// command itself (its own dependencies), and behind the `haraka` command on PATH.
import { existsSync, readFileSync, realpathSync } from 'node:fs'
import { delimiter, dirname, join } from 'node:path'
import { failure, ok, type Result } from '../util/result.js'

export function findHaraka(installDir: string, told: string | undefined): Result<string> {
  if (told !== undefined) {
    return isHaraka(told)
      ? ok(told)
      : failure(`--haraka ${told} is not a Haraka package directory (no package.json named "haraka")`)
  }
  for (const from of [installDir, __dirname]) {
    try {
      return ok(dirname(require.resolve('haraka/package.json', { paths: [from] })))
    } catch {
      // not found from there; try the next place
    }
  }
  const onPath = harakaOnPath(process.env['PATH'] ?? '')
  if (onPath) return ok(onPath)
  return failure(
    `cannot find Haraka: not in ${join(installDir, 'node_modules')}, not among this command's dependencies, ` +
      'and no haraka command on PATH; name its package directory with --haraka DIR',
  )
}

/** bin/haraka of the first `haraka` on PATH leads to its package directory. */
function harakaOnPath(path: string): string | undefined {
  for (const dir of path.split(delimiter).filter((entry) => entry !== '')) {
    const command = join(dir, 'haraka')
    if (!existsSync(command)) continue
    const packageDir = dirname(dirname(realpathSync(command)))
    if (isHaraka(packageDir)) return packageDir
  }
  return undefined
}

function isHaraka(dir: string): boolean {
  try {
    return (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown }).name === 'haraka'
  } catch {
    return false
  }
}
