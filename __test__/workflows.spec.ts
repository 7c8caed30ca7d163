import test from 'ava'
import { spawnSync } from 'node:child_process'
import { copyFileSync, readFileSync, readdirSync, symlinkSync } from 'node:fs'
import { join } from 'node:path'
import { parse } from 'yaml'
import { root, tmp } from './helpers.js'

const dir = join(root, '.github', 'workflows')
const load = (name: string) => parse(readFileSync(join(dir, name), 'utf8'))

/** The platforms poisonkit ships prebuilt binaries for. */
const TARGETS = [
  'x86_64-unknown-linux-gnu',
  'aarch64-unknown-linux-gnu',
  'x86_64-unknown-linux-musl',
  'x86_64-apple-darwin',
  'aarch64-apple-darwin',
  'x86_64-pc-windows-msvc',
]

test('the workflow files parse and have jobs with steps', (t) => {
  const files = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f))
  t.true(files.length >= 2, files.join(', '))
  for (const f of files) {
    const w = load(f)
    t.truthy(w.on, `${f}: no trigger`)
    t.true(Object.keys(w.jobs ?? {}).length > 0, `${f}: no jobs`)
    for (const [name, job] of Object.entries<{ steps?: unknown[] }>(w.jobs)) t.true((job.steps?.length ?? 0) > 0, `${f}: job ${name} has no steps`)
  }
})

test('the release workflow builds every target of package.json and publishes with napi prepublish', (t) => {
  const ci = load('CI.yml')
  const built = ci.jobs.build.strategy.matrix.include.map((m: { target: string }) => m.target).sort()
  t.deepEqual(built, [...TARGETS].sort())
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
  t.deepEqual([...pkg.napi.targets].sort(), [...TARGETS].sort())
  const publish = JSON.stringify(ci.jobs.publish.steps)
  t.regex(publish, /napi create-npm-dirs/)
  t.regex(publish, /napi prepublish/)
  t.true(String(ci.jobs.publish.if).includes("refs/tags/v"))
})

test('the workflows test Rust and TypeScript on every platform, and publish only a version with a CHANGELOG section', (t) => {
  const ci = load('CI.yml')
  const steps = JSON.stringify(ci.jobs.build.steps)
  t.regex(steps, /cargo test -p poisonkit-core/)
  t.regex(steps, /npm run test:ts/)
  t.regex(JSON.stringify(ci.jobs.publish.steps), /GITHUB_REF_NAME[\s\S]*CHANGELOG\.md/)
  const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
  t.regex(readFileSync(join(root, 'CHANGELOG.md'), 'utf8'), new RegExp(`^## \\[${version.replace(/\./g, '\\.')}\\]`, 'm'))
})

test('npm version bumps every platform package with napi version', (t) => {
  const dir = tmp()
  copyFileSync(join(root, 'package.json'), join(dir, 'package.json'))
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'))
  const napi = join(root, 'node_modules/@napi-rs/cli/dist/cli.js')
  const run = (cmd: string, args: string[]) => {
    const r = spawnSync(cmd, args, { cwd: dir, encoding: 'utf8', shell: process.platform === 'win32' })
    t.is(r.status, 0, r.stdout + r.stderr)
  }
  run(process.execPath, [napi, 'create-npm-dirs'])
  run('npm', ['version', '9.8.7', '--no-git-tag-version'])
  const platforms = readdirSync(join(dir, 'npm'))
  t.is(platforms.length, TARGETS.length)
  for (const p of platforms) t.is(JSON.parse(readFileSync(join(dir, 'npm', p, 'package.json'), 'utf8')).version, '9.8.7', p)
})

test('pull requests run the local CI gate', (t) => {
  const pr = load('pr.yml')
  t.true('pull_request' in pr.on)
  t.regex(JSON.stringify(pr.jobs), /bash \.ci\/run/)
})
