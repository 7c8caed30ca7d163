/** `poisonkit train`: trains the defender on a training file and reports its test error. */
import { writeFileSync } from 'node:fs'
import { PoisonkitError } from '../errors.js'
import type { Dataset } from '../dataset.js'
import { loadAll } from './load.js'
import { train, type LossName } from '../model.js'
import { choice, numberOption, parse, progress, required } from './args.js'

export const usage = `poisonkit train --train F --test F --lambda L [options]

Trains the L2-regularized linear classifier (the defender) on F and reports its errors.

  --train F            training data (svmlight/libsvm, CSV or npz; .gz allowed)
  --test F             test data, same format and features
  --lambda L           regularization strength λ > 0 (the paper: enron 0.09, imdb 0.01, mnist17 0.01)
  --loss hinge|logistic  the loss (hinge)
  --d N                number of features (default: the larger index seen in the two files)
  --unregularized-bias leave the bias out of the regularizer (the reference's decoy/min-max form)
  --tol T              stop at duality gap ≤ T × objective (1e-6)
  --max-iter N         at most N epochs / Newton steps (10000)
  --model-out FILE     write {w, bias, lambda, loss, objective} as JSON
  --json               print one JSON object on stdout`

export async function run(argv: string[]): Promise<void> {
  const o = parse(argv, {
    train: { type: 'string' },
    test: { type: 'string' },
    lambda: { type: 'string' },
    loss: { type: 'string', default: 'hinge' },
    d: { type: 'string' },
    'unregularized-bias': { type: 'boolean', default: false },
    tol: { type: 'string' },
    'max-iter': { type: 'string' },
    'model-out': { type: 'string' },
    json: { type: 'boolean', default: false },
  })
  const trainPath = required('train', o.train)
  const testPath = required('test', o.test)
  const lambda = numberOption('lambda', required('lambda', o.lambda), 'positive')
  const loss = choice<LossName>('loss', o.loss!, ['hinge', 'logistic'])
  const d = o.d === undefined ? undefined : numberOption('d', o.d, 'count')
  const tol = o.tol === undefined ? undefined : numberOption('tol', o.tol, 'positive')
  const maxIter = o['max-iter'] === undefined ? undefined : numberOption('max-iter', o['max-iter'], 'count')

  progress(`loading ${trainPath} and ${testPath}`)
  const [tr, te] = (await loadAll([trainPath, testPath], d)) as [Dataset, Dataset]
  if (te.n === 0) throw new PoisonkitError('ERR_PARSE', `${testPath}: no data points`)
  progress(`training (${loss}, λ = ${lambda}) on ${tr.n} points, ${tr.d} features`)
  const model = await train(tr, { lambda, loss, regularizeBias: !o['unregularized-bias'], tol, maxIter })
  if (!model.converged) {
    process.stderr.write(
      `warning: training stopped after ${model.iterations} iterations with duality gap ${model.dualityGap.toExponential(2)} (not converged)\n`,
    )
  }
  const testError = model.error(te)
  const trainError = model.error(tr)
  if (o['model-out']) writeFileSync(o['model-out'], JSON.stringify(model.toJSON()) + '\n')

  if (o.json) {
    const out = {
      n: tr.n,
      d: tr.d,
      lambda,
      loss,
      testError,
      trainError,
      objective: model.objective,
      dualityGap: model.dualityGap,
      iterations: model.iterations,
      converged: model.converged,
      seconds: model.seconds,
    }
    process.stdout.write(JSON.stringify(out) + '\n')
    return
  }
  const pct = (e: number) => `${(100 * e).toFixed(3)}%`
  const wrong = Math.round(testError * te.n)
  process.stdout.write(
    [
      `train        ${trainPath}: n ${tr.n}, d ${tr.d}`,
      `test error   ${pct(testError)} (${wrong} of ${te.n})`,
      `train error  ${pct(trainError)}`,
      `objective    ${model.objective.toPrecision(12)} (duality gap ${model.dualityGap.toExponential(2)}, ${model.iterations} iterations${model.converged ? '' : ', NOT converged'})`,
      `time         ${model.seconds.toFixed(3)} s`,
    ].join('\n') + '\n',
  )
}
