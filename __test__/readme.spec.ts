/**
 * The README's library examples are one script: its ```ts blocks, in order. This spec type-checks
 * that script against the built package (imported as `poisonkit`, the way a user imports it), runs
 * it on the Enron data, and checks that it prints exactly the ```text blocks that follow them.
 */
import test from 'ava'
import { execFile } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { dataDir, hasData, root, tmp } from './helpers.js'

/** The fenced blocks of a Markdown text with the given language, in order. */
function blocks(markdown: string, lang: string): string[] {
  return [...markdown.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].filter((m) => m[1] === lang).map((m) => m[2]!)
}

const readme = readFileSync(join(root, 'README.md'), 'utf8')
const script = blocks(readme, 'ts').join('\n')
const expected = blocks(readme, 'text').join('')

// Inside the repository, so that `import ... from 'poisonkit'` resolves to this package (self-reference).
const dir = join(root, '.readme')
mkdirSync(dir, { recursive: true })
const file = join(dir, 'examples.ts')
writeFileSync(file, script)

/** Runs node with `args`; resolves to its exit code and output (asynchronously: the worker stays responsive). */
async function node(args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }) {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, args, { ...options, encoding: 'utf8', maxBuffer: 64 << 20 })
    return { code: 0, stdout, stderr }
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string }
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? String(err) }
  }
}

test('the README examples type-check against the public types', async (t) => {
  t.true(script.includes("from 'poisonkit'"), 'the README has library examples')
  const tsc = join(root, 'node_modules/typescript/bin/tsc')
  const options = ['--ignoreConfig', '--noEmit', '--strict', '--module', 'nodenext', '--target', 'es2022', '--skipLibCheck', '--types', 'node']
  const r = await node([tsc, ...options, file], { cwd: root })
  t.is(r.code, 0, r.stdout + r.stderr)
})

const realData = hasData ? test : test.skip
realData('the README examples run on Enron and print what the README shows', async (t) => {
  const tsx = fileURLToPath(import.meta.resolve('tsx'))
  const r = await node(['--import', tsx, file], {
    cwd: tmp(), // the examples write their files to the current directory
    env: { ...process.env, POISONKIT_DATA: dataDir },
  })
  t.is(r.code, 0, r.stderr)
  t.is(r.stdout, expected)
})
