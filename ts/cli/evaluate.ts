/** `poisonkit evaluate`: scores a poison set against the defenses, as the paper does. */
import { PoisonkitError } from '../errors.js'
import { DEFENSES, OPTIMIZERS, evaluate, type DefenseName } from '../defense.js'
import { loadAll } from './load.js'
import { choice, dataOptimizer, listOption, numberOption, parse, progress, required } from './args.js'

export const usage = `poisonkit evaluate --train F --test F [--poison F] --lambda L [options]

Trains the defender on the clean training data plus the poison, with no defense and after each
sanitization defense, and reports the test errors and the minimum over the defenses.

  --train F              clean training data (svmlight/libsvm, CSV or npz; .gz allowed)
  --test F               test data
  --poison F             poison points (omit to evaluate the clean data)
  --lambda L             regularization strength λ > 0 (enron 0.09, imdb 0.01, mnist17 0.01); with
                         class indices 0..k−1 as labels, the multi-class defender's λ ≥ 0 (mnist 0)
  --defenses LIST        comma-separated, from ${DEFENSES.join(',')} (all)
  --remove P             fraction of every class each defense removes, in (0, 1) (0.05)
  --knn-k K              the k-NN defense's k: a point's score is the sum of its distances to its K
                         nearest points, itself included (5, the paper's)
  --fit empirical|oracle fit the defenses on clean + poison (empirical, the default) or on the clean data only
  --loss hinge|logistic  the defender's loss (hinge, the SVM)
  --optimizer exact|sgd  train the defender to its optimum (exact, the default) or by one pass of SGD
                         (paper §6.3); multi-class: adagrad (the paper's, the default) or exact (λ > 0)
  --d N                  number of features (default: the largest index seen in the files)
  --seed N               seed of the randomized SVD, the solver and the multi-class mini-batches (0)
  --json                 print one JSON object on stdout`

export async function run(argv: string[]): Promise<void> {
  const o = parse(argv, {
    train: { type: 'string' },
    test: { type: 'string' },
    poison: { type: 'string' },
    lambda: { type: 'string' },
    defenses: { type: 'string' },
    remove: { type: 'string' },
    'knn-k': { type: 'string' },
    fit: { type: 'string', default: 'empirical' },
    loss: { type: 'string', default: 'hinge' },
    optimizer: { type: 'string' },
    d: { type: 'string' },
    seed: { type: 'string' },
    json: { type: 'boolean', default: false },
  })
  const paths = [required('train', o.train), required('test', o.test)]
  if (o.poison !== undefined) paths.push(required('poison', o.poison))
  const lambda = numberOption('lambda', required('lambda', o.lambda), 'nonnegative')
  const defenses = o.defenses === undefined ? undefined : listOption<DefenseName>('defenses', o.defenses, DEFENSES)
  const removeFraction = o.remove === undefined ? undefined : numberOption('remove', o.remove, 'positive')
  if (removeFraction !== undefined && !(removeFraction < 1)) {
    throw new PoisonkitError('ERR_INVALID_OPTION', `option --remove = ${o.remove}: must lie in (0, 1)`)
  }
  const knnK = o['knn-k'] === undefined ? undefined : numberOption('knn-k', o['knn-k'], 'positive-count')
  const fit = choice('fit', o.fit!, ['empirical', 'oracle'] as const)
  const loss = choice('loss', o.loss!, ['hinge', 'logistic'] as const)
  const optimizer = o.optimizer === undefined ? undefined : choice('optimizer', o.optimizer, OPTIMIZERS)
  const d = o.d === undefined ? undefined : numberOption('d', o.d, 'positive-count')
  const seed = o.seed === undefined ? undefined : numberOption('seed', o.seed, 'count')

  progress(`loading ${paths.join(', ')}`)
  const [train, test, poison] = await loadAll(paths, d)
  progress(`evaluating ${defenses?.join(', ') ?? DEFENSES.join(', ')} on ${train!.n} clean + ${poison?.n ?? 0} poison points`)
  const e = await evaluate({ train: train!, test: test!, poison, lambda, loss, optimizer: dataOptimizer(optimizer, train!.numClasses, lambda), defenses, removeFraction, knnK, fit, seed })
  if (!e.converged) process.stderr.write("warning: a training or the SVD defense's eigensolver stopped before reaching its tolerance\n")

  if (o.json) {
    const { timing: _timing, ...summary } = e
    process.stdout.write(JSON.stringify(summary) + '\n')
    return
  }
  const pct = (x: number | undefined) => (x === undefined ? '' : `${(100 * x).toFixed(2)}%`)
  const ran = (defenses ?? [...DEFENSES]).filter((name) => e[name] !== undefined)
  const lines = [
    `defense   test error   poison kept   clean kept   time`,
    `none      ${pct(e.none).padStart(10)}`,
    ...ran.map(
      (name) =>
        `${name.padEnd(8)}  ${pct(e[name]).padStart(10)}   ${pct(e.poisonKept[name]).padStart(11)}   ${pct(e.cleanKept[name]).padStart(10)}   ` +
        `${(e.timing[name]!.score + e.timing[name]!.train).toFixed(3)} s`,
    ),
    `min       ${pct(e.min).padStart(10)}   (the attack's score: the best defense's test error)`,
    `total time ${e.seconds.toFixed(2)} s`,
  ]
  process.stdout.write(lines.join('\n') + '\n')
}
