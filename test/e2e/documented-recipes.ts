// docs/recipes.md's recipes, as the tests read them: the ini block after each
// `<!-- recipe: NAME -->` marker.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { REPO } from './harness.js'

export function documentedRecipes(): Map<string, string> {
  const page = readFileSync(join(REPO, 'docs', 'recipes.md'), 'utf8')
  const recipes = new Map<string, string>()
  for (const match of page.matchAll(/<!-- recipe: ([\w-]+) -->\n```ini\n([\s\S]*?)```/g))
    recipes.set(match[1] ?? '', match[2] ?? '')
  return recipes
}

/**
 * A recipe with these replacements made (the paths and accounts of this machine for those of an
 * installation), each of which must find its text: a recipe that changes fails here instead of
 * being tried in another form than documented.
 */
export function adaptedRecipe(name: string, replacements: readonly (readonly [string, string])[]): string {
  let ini = documentedRecipes().get(name)
  assert.ok(ini !== undefined, `docs/recipes.md has no recipe ${name}`)
  for (const [from, to] of replacements) {
    assert.ok(ini.includes(from), `the ${name} recipe no longer holds "${from}"`)
    ini = ini.replaceAll(from, to)
  }
  return ini
}
