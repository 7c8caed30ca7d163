/**
 * `poisonkit demo`: the main job on built-in data. A seeded synthetic spam-like corpus (integer
 * word counts) is split into train and test, and the clean defender is trained on it.
 */
import { makeBagOfWords } from '../dataset.js'
import { train, type LossName } from '../model.js'
import { numberOption, parse, progress } from './args.js'

export const usage = `poisonkit demo [--seed N] [--json]

Generates a synthetic bag-of-words data set (3000 documents, 1000 words, 30% positive), splits it
2000/1000, and trains the clean defender (hinge and logistic, λ = 0.01) on it.`

export async function run(argv: string[]): Promise<void> {
  const o = parse(argv, { seed: { type: 'string', default: '0' }, json: { type: 'boolean', default: false } })
  const seed = numberOption('seed', o.seed!, 'count')
  const all = makeBagOfWords({ n: 3000, d: 1000, seed })
  const index = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i)
  const tr = all.slice(index(0, 2000))
  const te = all.slice(index(2000, 3000))
  const lambda = 0.01
  const rows = []
  for (const loss of ['hinge', 'logistic'] as LossName[]) {
    progress(`training ${loss}`)
    const model = await train(tr, { lambda, loss })
    rows.push({
      loss,
      testError: model.error(te),
      trainError: model.error(tr),
      objective: model.objective,
      dualityGap: model.dualityGap,
      seconds: model.seconds,
    })
  }
  const summary = { data: { n: tr.n, nTest: te.n, d: tr.d, classCounts: tr.classCounts, seed }, lambda, clean: rows }
  if (o.json) {
    process.stdout.write(JSON.stringify(summary) + '\n')
    return
  }
  const lines = [
    `synthetic bag of words (seed ${seed}): train ${tr.n}, test ${te.n}, d ${tr.d}, ` +
      `${tr.classCounts[1]} positive / ${tr.classCounts[-1]} negative`,
    `clean defender, λ = ${lambda}:`,
    `  loss       test error  train error  objective     time`,
    ...rows.map(
      (r) =>
        `  ${r.loss.padEnd(9)}  ${(100 * r.testError).toFixed(2).padStart(9)}%  ${(100 * r.trainError).toFixed(2).padStart(10)}%  ` +
        `${r.objective.toFixed(6).padEnd(12)}  ${(1000 * r.seconds).toFixed(1)} ms`,
    ),
  ]
  process.stdout.write(lines.join('\n') + '\n')
}
