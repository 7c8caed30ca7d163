/**
 * The API reference builds from the one entry point (`ts/index.ts`) with TypeDoc, and every exported
 * name, option and result field is documented: `typedoc.json` treats a warning (an undocumented or
 * unexported type in the public API, a broken link) as an error.
 */
import test from 'ava'
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { root, tmp } from './helpers.js'

test('the TypeDoc reference builds with every public name documented', (t) => {
  const out = join(tmp(), 'api')
  const typedoc = join(root, 'node_modules/typedoc/bin/typedoc')
  const r = spawnSync(process.execPath, [typedoc, '--out', out], { cwd: root, encoding: 'utf8' })
  t.is(r.status, 0, r.stdout + r.stderr)
  t.true(existsSync(join(out, 'functions/kktAttack.html')))
  t.true(existsSync(join(out, 'interfaces/KktAttackOptions.html')))
})
