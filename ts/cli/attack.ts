/** `poisonkit attack <kind>`: runs an attack, writes the poison points and reports its evaluation. */
import { PoisonkitError } from '../errors.js'
import { DECOY_GRIDS, alfaAttack, influenceAttack, kktAttack, labelFlipAttack, minmaxAttack, type AttackProgress, type AttackResult } from '../attack.js'
import { DEFENSES, OPTIMIZERS, type DefenseName } from '../defense.js'
import { UPPER_RULES, isUpperBound } from '../feasible.js'
import { loadAll } from './load.js'
import { choice, dataOptimizer, listOption, numberOption, outputFile, parse, progress, required } from './args.js'

const shared = `  --train F              clean training data (svmlight/libsvm, CSV or npz; .gz allowed)
  --test F               test data
  --lambda L             the defender's λ > 0 (enron 0.09, imdb 0.01, mnist17 0.01)
  --eps E                poison fraction in (0, 1) (0.03)
  --out F                where to write the poison points (svmlight)
  --knowledge test|train the attacker knows the test set (test, the default) or only the training set
  --grid NAME            decoy grid and the reference's settings: enron (default for ±1 labels),
                         imdb, mnist17, mnist (default for class indices 0..k−1), dogfish
  --no-round             keep the poison continuous even for count data
  --upper U|column-max|data-range
                         the feasible box's upper end: column-max clips each column's maximum
                         to [1, 50], data-range keeps it (at least 1 for counts) (default:
                         column-max for count data, and for min-max on any non-negative data)
  --d N                  number of features (default: the largest index seen in the files)
  --seed S               seed of the decoy order, the rounding and the SVD defense (0)
  --optimizer O          how the defender the candidates are scored against and the winner is
                         evaluated by trains: ±1 labels exact (default) or sgd (one pass of SGD,
                         paper §6.3); class indices adagrad (the paper's, default) or exact (λ > 0)
  --score-all            score every candidate under every scoring defense (by default one that can
                         no longer win stops at the defense that shows it; the winner is the same)
  --json                 print one JSON object on stdout`

/** Each kind's description and options. */
const sections: Record<keyof typeof kindOptions, string> = {
  kkt: `kkt: the KKT attack (paper §4.2): decoy parameters, then per decoy and class split two poison points
whose gradients make the decoy optimal, inside the feasible set; the candidates with the highest
minimum test error over the attack-time defenses are scored again by all five, the best of them
wins and is evaluated against all five on the test set.

${shared}
  --repeats R            rounding group size: copies sharing one rounding (2, as the reference's README;
                         its code's 1 is caught by the SVD defense on Enron)
  --rounding-trials K    roundings tried for each of the leading candidates (8; 1 as the reference)
  --defenses LIST        defenses that score the candidates (l2,slab,loss)
  --iterative K          solve each program K more times against its sets refitted on clean +
                         its poison (paper Algorithm 1)
  --shortlist K          the best K programs (decoy and split, by their best rounding) by --defenses
                         are scored again by all five, the best of them wins (4; 0: --defenses alone
                         select, as the reference)`,
  minmax: `minmax: the min-max attack (paper §4.3): per decoy, online steps on the defender against the
feasible point of highest loss, kept within a loss cap under the decoy; the decoy whose poison has
the highest minimum test error over the five defenses wins.

${shared}
  --basic                min-max-basic: one run without decoy and loss cap (Steinhardt et al. 2017)
  Class indices 0..k−1 as labels make it the multi-class attack (paper §5.7): the defender is the
  Crammer–Singer SVM (AdaGrad; --lambda 0 as the paper's MNIST model), each point's label is chosen
  by the game, and the candidates are scored by the L2 and loss defenses.
  --repeats R            copies of each round's point, each rounded on its own (2 when rounding, as
                         the reference; otherwise 1: the paper repeats points for integer data only)
  --rounding-trials K    games played again with fresh roundings for each of the leading decoys
                         (8; 1 as the reference)
  --all-decoys           every decoy, not only their Pareto front (the reference plays the front,
                         and every decoy with --knowledge train, which is the default there too)
  --iterative K          refit the feasible set on clean + the game's points every K rounds (paper
                         Algorithm 1)
  --defenses LIST        defenses that score the candidates (l2,slab,loss,svd,knn)
  --shortlist K          with fewer --defenses: the best K decoys (by their best game) are scored
                         again by all five, the best of them wins (0: --defenses alone select)`,
  influence: `influence: the influence attack (paper §4.1): gradient ascent on two poison points (with copies in
inverse class balance) through the implicit function theorem, projected onto the feasible set; the
poison is scored by the five defenses every --score-every steps, the best snapshot wins.

${shared}
  --basic                influence-basic: round(εn) separate points from random feasible label flips,
                         in the reference baseline's tighter set (80th-percentile radii, no LP relaxation)
  --iterative K          refit the feasible set on clean + poison every K steps (paper Algorithm 1)
  --step-sizes LIST      one trajectory per step size, in parallel (0.1,0.3: the reference's 0.1 and a
                         larger one, as the paper picks the step size on the test set)
  --max-iter N           gradient steps per trajectory at most (10000; 0: only the starting points are
                         scored); it stops earlier after 2 readings of the test loss (every 10 steps)
                         without a new high
  --score-every N        steps between scorings by the defenses (50)
  --shortlist K          with fewer --defenses: the best K snapshots (by their best rounding) are
                         scored again by all five, the best of them wins (0: --defenses alone select)
  --repeats R            rounding group size: copies sharing one rounding (2; the reference's 1 is
                         caught by the SVD defense on Enron)
  --rounding-trials K    roundings tried for each of the 4 leading snapshots (8; 1: one rounding)
  --defenses LIST        defenses that score the snapshots (l2,slab,loss,svd,knn)`,
  labelflip: `labelflip: random feasible label flips (paper Appendix D): round(εn) dev points with flipped labels,
drawn with replacement from those inside the feasible set.

${shared}`,
  alfa: `alfa: alfa (Xiao et al. 2012) as adapted in the paper's Appendix D: copies of flipped dev points
inside the feasible set, chosen by alternating a weighted SVM and an LP over the copy weights.

${shared}
  --max-copies N         copies of one pool point at most (default: no cap, as the reference)`,
}

const synopsis = (kinds: string) => `poisonkit attack ${kinds} --train F --test F --lambda L --out F [options]`

export const usage = `${synopsis(Object.keys(sections).join('|'))}\n\n${Object.values(sections).join('\n\n')}`

/** The help of the kind named first in `argv`, or of every kind. */
export function help(argv: string[]): string {
  const kind = argv[0] as keyof typeof sections
  return Object.hasOwn(sections, kind) ? `${synopsis(kind)}\n\n${sections[kind]}` : usage
}

/** A one-line progress bar on a terminal's stderr. */
function bar(p: AttackProgress): void {
  if (!process.stderr.isTTY) return
  const width = 30
  const filled = p.total > 0 ? Math.round((width * p.done) / p.total) : 0
  const line =
    p.phase === 'decoys'
      ? 'fitting decoy parameters'
      : p.phase === 'evaluation'
        ? 'evaluating the winner against the defenses'
        : `${p.phase.padEnd(10)} ${'█'.repeat(filled)}${'░'.repeat(width - filled)} ${p.done}/${p.total}  best ${(100 * p.best).toFixed(2)}%${p.phase === 'shortlist' ? ' (all five defenses)' : ''}  ${p.seconds.toFixed(1)} s`
  process.stderr.write(`\r\x1b[2K${line}`)
}

const sharedOptions = {
  train: { type: 'string' },
  test: { type: 'string' },
  lambda: { type: 'string' },
  eps: { type: 'string', default: '0.03' },
  out: { type: 'string' },
  knowledge: { type: 'string', default: 'test' },
  grid: { type: 'string' },
  repeats: { type: 'string' },
  'rounding-trials': { type: 'string' },
  'no-round': { type: 'boolean', default: false },
  'score-all': { type: 'boolean', default: false },
  upper: { type: 'string' },
  defenses: { type: 'string' },
  d: { type: 'string' },
  seed: { type: 'string' },
  optimizer: { type: 'string' },
  json: { type: 'boolean', default: false },
} as const

const kindOptions = {
  kkt: { iterative: { type: 'string' }, shortlist: { type: 'string' } },
  minmax: {
    basic: { type: 'boolean', default: false },
    'all-decoys': { type: 'boolean', default: false },
    iterative: { type: 'string' },
    shortlist: { type: 'string' },
  },
  influence: {
    basic: { type: 'boolean', default: false },
    iterative: { type: 'string' },
    'step-sizes': { type: 'string' },
    'max-iter': { type: 'string' },
    'score-every': { type: 'string' },
    shortlist: { type: 'string' },
  },
  labelflip: {},
  alfa: { 'max-copies': { type: 'string' } },
} as const

async function attackCommand(kind: keyof typeof kindOptions, argv: string[]): Promise<void> {
  const o = parse(argv, { ...sharedOptions, ...kindOptions[kind] }) as Record<string, string | boolean | undefined>
  const text = (name: string) => o[name] as string | undefined
  const [trainPath, testPath] = [required('train', text('train')), required('test', text('test'))]
  const out = outputFile('out', required('out', text('out')), { train: trainPath, test: testPath })
  // λ 0 is the multi-class defender's (the paper's MNIST model); the native side checks the data.
  const lambda = numberOption('lambda', required('lambda', text('lambda')), kind === 'minmax' ? 'nonnegative' : 'positive')
  const eps = numberOption('eps', text('eps')!, 'positive')
  if (!(eps < 1)) throw new PoisonkitError('ERR_INVALID_OPTION', `option --eps = ${text('eps')}: must lie in (0, 1)`)
  const knowledge = choice('knowledge', text('knowledge')!, ['test', 'train'] as const)
  const grid = text('grid') === undefined ? undefined : choice('grid', text('grid')!, DECOY_GRIDS)
  const countOption = (name: string, rule: 'count' | 'positive-count' = 'count') =>
    text(name) === undefined ? undefined : numberOption(name, text(name)!, rule)
  const defenses = text('defenses') === undefined ? undefined : listOption<DefenseName>('defenses', text('defenses')!, DEFENSES)
  // Which optimizers train the data's defender is checked once the data are read.
  const optimizer = text('optimizer') === undefined ? undefined : choice('optimizer', text('optimizer')!, OPTIMIZERS)
  const upperText = text('upper')
  const upper =
    upperText === undefined || isUpperBound(upperText)
      ? upperText
      : Number.isNaN(Number(upperText))
        ? choice('upper', upperText, UPPER_RULES)
        : numberOption('upper', upperText, 'positive')
  const d = countOption('d', 'positive-count')
  // Every count is checked before the data load, which takes seconds on a large corpus. KKT's
  // --iterative counts refitting rounds (0: none); the games' is a period.
  const atLeastOne = ['repeats', 'rounding-trials', 'score-every', 'max-copies', ...(kind === 'kkt' ? [] : ['iterative'])]
  const counts = Object.fromEntries(
    ['repeats', 'rounding-trials', 'seed', 'iterative', 'shortlist', 'max-iter', 'score-every', 'max-copies'].map((name) => [
      name,
      countOption(name, atLeastOne.includes(name) ? 'positive-count' : 'count'),
    ]),
  )
  const stepSizes = text('step-sizes')
    ?.split(',')
    .map((v) => numberOption('step-sizes', v.trim(), 'positive'))

  progress(`loading ${trainPath}, ${testPath}`)
  const [train, test] = await loadAll([trainPath, testPath], d)
  const controller = new AbortController()
  const onSigint = () => controller.abort()
  process.once('SIGINT', onSigint)
  const options = {
    train: train!,
    test: test!,
    lambda,
    eps,
    knowledge,
    grid,
    repeats: counts.repeats,
    roundingTrials: counts['rounding-trials'],
    scoreAll: o['score-all'] === true,
    round: o['no-round'] ? false : undefined,
    upper,
    defenses,
    seed: counts.seed,
    optimizer: dataOptimizer(optimizer, train!.numClasses, lambda),
    onProgress: bar,
    signal: controller.signal,
  }
  let result: AttackResult & { residual?: number; stepSize?: number; iteration?: number }
  try {
    result = await {
      kkt: () => kktAttack({ ...options, refitRounds: counts.iterative, shortlist: counts.shortlist }),
      minmax: () =>
        minmaxAttack({
          ...options,
          basic: o.basic === true,
          prune: o['all-decoys'] ? false : undefined,
          refitEvery: counts.iterative,
          shortlist: counts.shortlist,
        }),
      influence: () =>
        influenceAttack({
          ...options,
          basic: o.basic === true,
          refitEvery: counts.iterative,
          stepSizes,
          maxIter: counts['max-iter'],
          scoreEvery: counts['score-every'],
          shortlist: counts.shortlist,
        }),
      labelflip: () => labelFlipAttack(options),
      alfa: () => alfaAttack({ ...options, maxCopies: counts['max-copies'] }),
    }[kind]()
  } finally {
    process.off('SIGINT', onSigint)
    if (process.stderr.isTTY) process.stderr.write('\r\x1b[2K')
  }
  for (const f of result.failures) process.stderr.write(`warning: ${f.what} yielded no candidate: ${f.message}\n`)
  await result.poison.writeSvmlight(out)
  const name = (kind === 'minmax' || kind === 'influence') && o.basic ? `${kind}-basic` : kind
  const { timing: _timing, ...evaluation } = result.evaluation
  // The class split: ε₊, ε₋ for ±1 labels; the points of each class for class indices (where the
  // split, class 1 against the rest, means nothing).
  const labels = result.poison.labels
  const pointsPerClass = train!.numClasses > 0 ? Array.from({ length: train!.numClasses }, (_, c) => labels.filter((y) => y === c).length) : undefined
  const summary = {
    attack: name,
    eps,
    knowledge,
    nPoison: result.poison.n,
    decoy: result.decoy,
    ...(pointsPerClass ? { pointsPerClass } : { epsPos: result.epsPos, epsNeg: result.epsNeg }),
    candidates: result.candidates,
    failures: result.failures,
    ...(result.stepSize === undefined ? {} : { stepSize: result.stepSize, iteration: result.iteration }),
    selectionMin: result.selection.min,
    seconds: result.seconds,
    evaluation,
    curve: result.curve,
    out,
  }
  if (o.json) {
    process.stdout.write(JSON.stringify(summary) + '\n')
    return
  }
  const pct = (x: number | undefined) => (x === undefined ? '' : `${(100 * x).toFixed(2)}%`)
  const e = result.evaluation
  const titles: Record<string, string> = {
    kkt: 'KKT attack',
    minmax: 'min-max attack',
    'minmax-basic': 'min-max-basic attack',
    influence: 'influence attack',
    'influence-basic': 'influence-basic attack',
    labelflip: 'random label flips',
    alfa: 'alfa attack',
  }
  const title = titles[name]
  const decoy =
    result.stepSize !== undefined
      ? `step size ${result.stepSize}, ${result.iteration} gradient steps; ${result.candidates.length} snapshots scored`
      : result.decoy === null
      ? 'no decoy'
      : `decoy: q = ${+result.decoy.quantile.toPrecision(10)}, r = ${result.decoy.copies} (its own test error ${pct(result.decoy.testError)}); ${result.candidates.length} candidates from ${result.decoys} decoys`
  const split = pointsPerClass
    ? `points per class ${pointsPerClass.map((n, c) => `${c}: ${n}`).join(', ')}`
    : `ε₊ = ${result.epsPos.toFixed(4)}, ε₋ = ${result.epsNeg.toFixed(4)}`
  const lines = [
    `${title}: ${result.poison.n} poison points (ε = ${eps}, ${split}) written to ${out}`,
    decoy,
    `defense   test error`,
    `none      ${pct(e.none).padStart(10)}`,
    ...DEFENSES.filter((name) => e[name] !== undefined).map((name) => `${name.padEnd(8)}  ${pct(e[name]).padStart(10)}`),
    `min       ${pct(e.min).padStart(10)}   (the attack's score)`,
    `time ${result.seconds.toFixed(1)} s`,
  ]
  process.stdout.write(lines.join('\n') + '\n')
}

const kinds: Record<string, (argv: string[]) => Promise<void>> = {
  kkt: (argv) => attackCommand('kkt', argv),
  minmax: (argv) => attackCommand('minmax', argv),
  influence: (argv) => attackCommand('influence', argv),
  labelflip: (argv) => attackCommand('labelflip', argv),
  alfa: (argv) => attackCommand('alfa', argv),
}

export async function run(argv: string[]): Promise<void> {
  const [kind, ...rest] = argv
  const attack = kind === undefined ? undefined : kinds[kind]
  if (attack === undefined) {
    throw new PoisonkitError('ERR_USAGE', `${kind === undefined ? 'missing attack' : `unknown attack '${kind}'`} (attacks: ${Object.keys(kinds).join(', ')})`)
  }
  await attack(rest)
}
