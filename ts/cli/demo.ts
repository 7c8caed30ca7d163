/**
 * `poisonkit demo`: the main job on built-in data, in well under a minute. A seeded synthetic
 * spam-like corpus (integer word counts, about 3% clean test error like Enron) is attacked by the
 * KKT and min-max attacks at ε = 3% (small decoy grids), the poison is scored against the five
 * defenses, and the table and figures are written like any experiment's.
 */
import { resolve } from 'node:path'
import { DEFENSES } from '../defense.js'
import { checkSpec } from '../experiment/spec.js'
import { loadSpecData, runExperiment } from '../experiment/run.js'
import { train } from '../model.js'
import { writeTablesAndFigures } from '../experiment/plot.js'
import { numberOption, parse, progress } from './args.js'

export const usage = `poisonkit demo [--out DIR] [--seed N] [--json]

Attacks a synthetic bag-of-words data set (1500 + 750 documents, 800 words, 30% positive) with the
KKT and min-max attacks (ε = 0.03, λ = 0.01), scores both against the five defenses, prints the table
and writes the experiment folder (REPORT.md, results.csv, figures/defenses.png) to DIR.

  --out DIR     where to write (./poisonkit-demo)
  --seed N      seed of the data and the attacks (0)
  --json        print the cells' results as JSON lines`

export async function run(argv: string[]): Promise<void> {
  const o = parse(argv, { out: { type: 'string', default: 'poisonkit-demo' }, seed: { type: 'string', default: '0' }, json: { type: 'boolean', default: false } })
  const seed = numberOption('seed', o.seed!, 'count')
  const grid = { quantiles: [0.05, 0.2, 0.4], copies: [2, 5, 12] }
  const spec = checkSpec(
    {
      name: 'poisonkit demo',
      datasets: [{ name: 'synthetic', synthetic: { n: 1500, nTest: 750, d: 800, signal: 0.3, seed }, lambda: 0.01 }],
      attacks: [
        { attack: 'kkt', options: grid },
        { attack: 'minmax', options: grid },
      ],
      eps: [0.03],
      seeds: [seed],
    },
    process.cwd(),
  )
  const out = resolve(o.out!)
  progress(`attacking a synthetic corpus with the KKT and min-max attacks; writing ${out}`)
  const results = await runExperiment(spec, { out })
  await writeTablesAndFigures(out)
  const [clean, test] = await loadSpecData(spec.datasets[0]!, process.cwd())
  const cleanError = (await train(clean, { lambda: 0.01 })).error(test)
  if (o.json) {
    process.stdout.write(results.map((r) => JSON.stringify(r)).join('\n') + '\n')
    return
  }
  const pct = (x: number | undefined) => (x === undefined ? '' : `${(100 * x).toFixed(2)}%`).padStart(8)
  const lines = [
    `synthetic bag of words (seed ${seed}), λ = 0.01: clean test error ${(100 * cleanError).toFixed(2)}%; with ε = 0.03 poison, under each defense:`,
    `attack    ${['none', ...DEFENSES].map((d) => d.padStart(8)).join('')}       min   time`,
    ...results.map((r) => {
      const columns = (['none', ...DEFENSES] as const).map((d) => pct(r.evaluation[d])).join('')
      return `${r.label.padEnd(8)}  ${columns}  ${pct(r.evaluation.min)}  ${r.seconds.attack.toFixed(1)} s`
    }),
    `report ${out}/REPORT.md, figure ${out}/figures/defenses.png`,
  ]
  process.stdout.write(lines.join('\n') + '\n')
}
