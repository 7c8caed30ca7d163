/** `poisonkit experiment SPEC --out DIR`: runs an experiment spec's cells, resumably, then writes its tables and figures. */
import { resolve, dirname } from 'node:path'
import { PoisonkitError } from '../errors.js'
import { checkCells, runExperiment, type ExperimentProgress } from '../experiment/run.js'
import { expandCells, readSpec, resolveShard, shardCells } from '../experiment/spec.js'
import { writeTablesAndFigures } from '../experiment/plot.js'
import { numberOption, parseWithPositionals } from './args.js'

export const usage = `poisonkit experiment SPEC --out DIR [--shard i/N] [--shard-count N] [--dry-run] [--json]

Runs the cells of an experiment spec (JSON or YAML: datasets, attacks with options, ε list, defender
λ/loss/optimizer, defenses, knowledge, seeds; see examples/). Each finished cell is written to
DIR/cells/<id>.json at once, so a killed run started again redoes no finished cell. At the end DIR
gets results.csv, results.jsonl, REPORT.md and figures/ (SVG and PNG).

  --out DIR              the experiment folder (created; reused to resume)
  --shard i/N            run only shard i of N (0-based; whole attacks dealt round-robin)
                         default: Slurm's SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT, or a
                         Kubernetes indexed Job's JOB_COMPLETION_INDEX with --shard-count
  --shard-count N        the number of shards of a Kubernetes indexed Job (its completions)
  --dry-run              read the data, check every cell against them, and list the cells this
                         run would do; run no attack
  --json                 print the cells' results as JSON lines on stdout
Merge the shards' folders with 'poisonkit merge'.`

function formatSeconds(s: number): string {
  return s < 90 ? `${Math.round(s)} s` : s < 5400 ? `${Math.round(s / 60)} min` : `${(s / 3600).toFixed(1)} h`
}

/** A status line: on a terminal rewritten in place, else a line every 30 s. */
function progressPrinter(): (p: ExperimentProgress) => void {
  let lastPrinted = 0
  return (p) => {
    const attack = p.attack
      ? p.attack.phase === 'candidates' || p.attack.phase === 'shortlist'
        ? ` · ${p.attackId}: ${p.attack.done}/${p.attack.total} candidates${p.attack.phase === 'shortlist' ? ' (shortlist)' : ''}, best ${(100 * p.attack.best).toFixed(2)}%`
        : ` · ${p.attackId}: ${p.attack.phase}`
      : p.attackId
        ? ` · ${p.attackId}`
        : ''
    const line = `cells ${p.done}/${p.total}${p.skipped ? ` (${p.skipped} done before)` : ''}${attack}${p.eta === undefined ? '' : ` · ETA ${formatSeconds(p.eta)}`}`
    if (process.stderr.isTTY) {
      process.stderr.write(`\r\x1b[2K${line.slice(0, (process.stderr.columns ?? 120) - 1)}`)
    } else if (Date.now() - lastPrinted > 30_000 || p.attack === undefined) {
      lastPrinted = Date.now()
      process.stderr.write(line + '\n')
    }
  }
}

export async function run(argv: string[]): Promise<void> {
  const { values: o, positionals } = parseWithPositionals(
    argv,
    {
      out: { type: 'string' },
      shard: { type: 'string' },
      'shard-count': { type: 'string' },
      'dry-run': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
    1,
  )
  const specPath = positionals[0]
  if (specPath === undefined) throw new PoisonkitError('ERR_USAGE', 'missing the experiment spec file (poisonkit experiment SPEC --out DIR)')
  // The options first, then the spec (which checks its data files).
  const shardCount = o['shard-count'] === undefined ? undefined : numberOption('shard-count', o['shard-count'], 'positive-count')
  const shard = resolveShard(o.shard, process.env, shardCount)
  if (!o['dry-run'] && (o.out === undefined || o.out === '')) throw new PoisonkitError('ERR_USAGE', 'missing required option --out')
  const spec = readSpec(specPath)
  const all = expandCells(spec)
  const cells = shard === undefined ? all : shardCells(all, shard)
  if (o['dry-run']) {
    await checkCells(cells, dirname(resolve(specPath)))
    process.stdout.write(cells.map((c) => c.id).join('\n') + '\n')
    return
  }
  const out = resolve(o.out!)
  const controller = new AbortController()
  const onSigint = () => controller.abort()
  process.once('SIGINT', onSigint)
  process.once('SIGTERM', onSigint)
  let results
  try {
    results = await runExperiment(spec, { out, cells, specDir: dirname(resolve(specPath)), onProgress: progressPrinter(), signal: controller.signal })
  } catch (err) {
    if (err instanceof PoisonkitError && err.code === 'ERR_ABORTED') {
      throw new PoisonkitError('ERR_ABORTED', `interrupted; the finished cells are in ${out}: run the same command to resume`)
    }
    throw err
  } finally {
    process.off('SIGINT', onSigint)
    process.off('SIGTERM', onSigint)
    if (process.stderr.isTTY) process.stderr.write('\r\x1b[2K')
  }
  // The tables and figures of this spec's cells, including other shards' found in the folder.
  await writeTablesAndFigures(out)
  if (o.json) {
    process.stdout.write(results.map((r) => JSON.stringify(r)).join('\n') + '\n')
    return
  }
  const shardNote = shard === undefined ? '' : ` (shard ${shard.index}/${shard.count}: ${cells.length} of ${all.length} cells)`
  const rows = results.map((r) => `  ${r.id.padEnd(60)} min ${(100 * r.evaluation.min).toFixed(2).padStart(6)}%`)
  process.stdout.write(
    [`${spec.name}: ${results.length} cells${shardNote} in ${out}`, ...rows, `tables: ${out}/REPORT.md, results.csv, results.jsonl; figures: ${out}/figures/`].join('\n') +
      '\n',
  )
}
