/** Shared helpers of the ava specs: the real data folder, temporary files and the CLI. */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

export const root = resolve(fileURLToPath(new URL('..', import.meta.url)))

/** `$POISONKIT_DATA` (relative to the repository root), default `../shared/data`. */
export const dataDir = resolve(root, process.env.POISONKIT_DATA || '../shared/data')
export const hasData = existsSync(join(dataDir, 'enron.train.svm.gz'))
if (!hasData) console.log(`SKIPPED real-data specs: ${dataDir} not found (set POISONKIT_DATA)`)

/** Path of a real data file, e.g. `data('enron.train.svm.gz')`. */
export const data = (name: string) => join(dataDir, name)

/** A fresh temporary directory. */
export const tmp = () => mkdtempSync(join(tmpdir(), 'poisonkit-'))

/** Runs the built CLI (`dist/cli.js`, what `npx poisonkit` runs) and captures everything. */
export function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [join(root, 'dist/cli.js'), ...args], { encoding: 'utf8' })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}
