/** `poisonkit train`: trains the defender on a training file and reports its test error. */
import { writeFileSync } from 'node:fs'
import { PoisonkitError } from '../errors.js'
import type { Dataset } from '../dataset.js'
import { loadAll } from './load.js'
import { LinearModel, train, type LossName } from '../model.js'
import { trainMulticlass, type MulticlassModel } from '../multiclass.js'
import { choice, numberOption, outputFile, parse, progress, required } from './args.js'

export const usage = `poisonkit train --train F --test F --lambda L [options]

Trains the L2-regularized linear classifier (the defender) on F and reports its errors. With class
indices 0..k−1 as labels it trains the multi-class SVM (Crammer–Singer) instead.

  --train F            training data (svmlight/libsvm, CSV or npz; .gz allowed)
  --test F             test data, same format and features
  --lambda L           regularization strength λ > 0 (the paper: enron 0.09, imdb 0.01, mnist17 0.01;
                       multi-class: λ ≥ 0, the paper's MNIST model has 0)
  --loss hinge|logistic  the loss (hinge)
  --d N                number of features (default: the larger index seen in the two files)
  --unregularized-bias leave the bias out of the regularizer (the reference's decoy/min-max form)
  --optimizer adagrad|exact  multi-class only: AdaGrad as the paper (η 0.02, batches of 20, 3 passes;
                       the default) or the exact optimum (λ > 0, biases regularized like the weights)
  --tol T              stop at duality gap ≤ T × objective (1e-6)
  --max-iter N         at most N passes over the data (an epoch over the few points shrinking
                       leaves active counts for those) or Newton steps (10000)
  --seed S             seed of the order of the points (0)
  --model-out FILE     write {w, bias, lambda, loss, objective} as JSON (multi-class: w and bias per
                       class, and the optimizer)
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
    optimizer: { type: 'string' },
    seed: { type: 'string' },
    'model-out': { type: 'string' },
    json: { type: 'boolean', default: false },
  })
  const trainPath = required('train', o.train)
  const testPath = required('test', o.test)
  const lambdaText = required('lambda', o.lambda)
  const lambda = numberOption('lambda', lambdaText, 'nonnegative')
  const loss = choice<LossName>('loss', o.loss!, ['hinge', 'logistic'])
  const d = o.d === undefined ? undefined : numberOption('d', o.d, 'positive-count')
  const tol = o.tol === undefined ? undefined : numberOption('tol', o.tol, 'positive')
  if (tol !== undefined && !(tol < 1)) throw new PoisonkitError('ERR_INVALID_OPTION', `option --tol = ${o.tol}: must lie in (0, 1)`)
  const maxIter = o['max-iter'] === undefined ? undefined : numberOption('max-iter', o['max-iter'], 'positive-count')
  const seed = o.seed === undefined ? undefined : numberOption('seed', o.seed, 'count')
  const optimizer = o.optimizer === undefined ? undefined : choice('optimizer', o.optimizer, ['adagrad', 'exact'] as const)
  const modelOut = o['model-out'] === undefined ? undefined : outputFile('model-out', o['model-out'], { train: trainPath, test: testPath })
  // --optimizer is for multi-class data, --loss and --unregularized-bias for ±1 labels.
  for (const [name, given] of [['loss', o.loss !== 'hinge'], ['unregularized-bias', o['unregularized-bias']]] as const) {
    if (optimizer !== undefined && given) {
      throw new PoisonkitError('ERR_INVALID_OPTION', `options --optimizer and --${name}: the first is for multi-class data, the second for ±1 labels`)
    }
  }
  // λ 0 is the multi-class AdaGrad model's alone (the paper's MNIST model), whatever the data.
  if (lambda === 0) {
    const needsLambda = [['loss', o.loss !== 'hinge'], ['unregularized-bias', o['unregularized-bias']], ['optimizer', optimizer === 'exact']] as const
    for (const [name, given] of needsLambda) {
      if (given) throw new PoisonkitError('ERR_INVALID_OPTION', `option --lambda = ${lambdaText}: must be positive with --${name} (λ 0 is the multi-class AdaGrad model's only)`)
    }
  }

  progress(`loading ${trainPath} and ${testPath}`)
  const [tr, te] = (await loadAll([trainPath, testPath], d)) as [Dataset, Dataset]
  if (tr.numClasses > 0) {
    for (const [name, given] of [['loss', o.loss !== 'hinge'], ['unregularized-bias', o['unregularized-bias']]] as const) {
      if (given) throw new PoisonkitError('ERR_INVALID_OPTION', `option --${name}: the multi-class model is the Crammer–Singer SVM (hinge, biases as trained)`)
    }
    progress(`training the ${tr.numClasses}-class SVM (${optimizer ?? 'adagrad'}, λ = ${lambda}) on ${tr.n} points, ${tr.d} features`)
    const model = await trainMulticlass(tr, { lambda, optimizer, tol, maxIter, seed })
    report(model, tr, te, { trainPath, json: o.json!, modelOut })
    return
  }
  if (optimizer !== undefined) throw new PoisonkitError('ERR_INVALID_OPTION', `option --optimizer: for multi-class data only (the binary defender trains to its optimum)`)
  if (!(lambda > 0)) throw new PoisonkitError('ERR_INVALID_OPTION', `option --lambda = ${lambdaText}: must be a positive number for ±1 labels (λ 0 is the multi-class model's only)`)
  progress(`training (${loss}, λ = ${lambda}) on ${tr.n} points, ${tr.d} features`)
  const model = await train(tr, { lambda, loss, regularizeBias: !o['unregularized-bias'], tol, maxIter, seed })
  report(model, tr, te, { trainPath, json: o.json!, modelOut, loss })
}

/** Prints a trained model's errors and objective (text or one JSON object) and writes it if asked. */
function report(
  model: LinearModel | MulticlassModel,
  tr: Dataset,
  te: Dataset,
  o: { trainPath: string; json: boolean; modelOut?: string; loss?: LossName },
): void {
  if (!model.converged) {
    process.stderr.write(
      `warning: training did not converge (duality gap ${model.dualityGap.toExponential(2)} after ${model.iterations} iterations): raise --max-iter, or rescale the data if the gap stays\n`,
    )
  }
  const testError = model.error(te)
  const trainError = model.error(tr)
  if (o.modelOut) writeFileSync(o.modelOut, JSON.stringify(model.toJSON()) + '\n')
  const kind =
    model instanceof LinearModel
      ? { loss: o.loss }
      : { classes: model.numClasses, optimizer: model.options.optimizer }
  if (o.json) {
    const out = {
      n: tr.n,
      d: tr.d,
      lambda: model instanceof LinearModel ? model.objectiveOptions.lambda : model.options.lambda,
      ...kind,
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
      `train        ${o.trainPath}: n ${tr.n}, d ${tr.d}${model instanceof LinearModel ? '' : `, ${model.numClasses} classes`}`,
      `test error   ${pct(testError)} (${wrong} of ${te.n})`,
      `train error  ${pct(trainError)}`,
      Number.isNaN(model.dualityGap)
        ? `objective    ${model.objective.toPrecision(12)} (AdaGrad, ${model.iterations} passes)`
        : `objective    ${model.objective.toPrecision(12)} (duality gap ${model.dualityGap.toExponential(2)}, ${model.iterations} iterations${model.converged ? '' : ', NOT converged'})`,
      `time         ${model.seconds.toFixed(3)} s`,
    ].join('\n') + '\n',
  )
}
