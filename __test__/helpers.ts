/** Shared helpers of the ava specs: the real data folder, temporary files and the CLI. */
import type { ExecutionContext } from 'ava'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { PoisonkitError } from '../ts/index.js'

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

/**
 * Starts `run` with a signal, aborts it after 50 ms and checks that it rejects with `ERR_ABORTED`
 * within 5 s, timed from the abort itself (a CLI spec's spawnSync in this process can hold the
 * timer back).
 */
export async function abortsPromptly(t: ExecutionContext, run: (signal: AbortSignal) => Promise<unknown>): Promise<void> {
  const controller = new AbortController()
  let abortedAt = Number.POSITIVE_INFINITY
  const running = run(controller.signal)
  setTimeout(() => {
    abortedAt = Date.now()
    controller.abort()
  }, 50)
  await t.throwsAsync(running, { instanceOf: PoisonkitError, code: 'ERR_ABORTED' })
  t.true(Date.now() - abortedAt < 5000, `stopped ${Date.now() - abortedAt} ms after the abort`)
}
