/** `poisonkit attack <kind>`: runs an attack, writes the poison points and reports its evaluation. */
import { PoisonkitError } from '../errors.js'
import { kktAttack, type AttackProgress } from '../attack.js'
import { DEFENSES, type DefenseName } from '../defense.js'
import { loadAll } from './load.js'
import { choice, numberOption, parse, progress, required } from './args.js'

export const usage = `poisonkit attack kkt --train F --test F --lambda L --out F [options]

The KKT attack (paper §4.2): decoy parameters, then per decoy and class split two poison points
whose gradients make the decoy optimal, inside the feasible set; the candidate with the highest
minimum test error over the attack-time defenses wins and is evaluated against all five.

  --train F              clean training data (svmlight/libsvm, CSV or npz; .gz allowed)
  --test F               test data
  --lambda L             the defender's λ > 0 (enron 0.09, imdb 0.01, mnist17 0.01)
  --eps E                poison fraction in (0, 1) (0.03)
  --out F                where to write the poison points (svmlight)
  --knowledge test|train the attacker knows the test set (test, the default) or only the training set
  --grid NAME            decoy grid: enron (default), imdb, mnist17, mnist, dogfish
  --repeats R            rounding group size: copies sharing one rounding (1; the reference's README uses 2)
  --rounding-trials K    roundings tried for each of the leading candidates (8; 1 as the reference)
  --no-round             keep the poison continuous even for count data
  --upper U|column-max   the feasible box's upper end (default: column-max for count data, none
                         otherwise; 1 for pixels in [0, 1])
  --defenses LIST        defenses that score the candidates (l2,slab,loss)
  --d N                  number of features (default: the largest index seen in the files)
  --seed S               seed of the decoy order, the rounding and the SVD defense (0)
  --json                 print one JSON object on stdout`

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
        : `candidates ${'█'.repeat(filled)}${'░'.repeat(width - filled)} ${p.done}/${p.total}  best ${(100 * p.best).toFixed(2)}%  ${p.seconds.toFixed(1)} s`
  process.stderr.write(`\r\x1b[2K${line}`)
}

async function kkt(argv: string[]): Promise<void> {
  const o = parse(argv, {
    train: { type: 'string' },
    test: { type: 'string' },
    lambda: { type: 'string' },
    eps: { type: 'string', default: '0.03' },
    out: { type: 'string' },
    knowledge: { type: 'string', default: 'test' },
    grid: { type: 'string', default: 'enron' },
    repeats: { type: 'string' },
    'rounding-trials': { type: 'string' },
    'no-round': { type: 'boolean', default: false },
    upper: { type: 'string' },
    defenses: { type: 'string' },
    d: { type: 'string' },
    seed: { type: 'string' },
    json: { type: 'boolean', default: false },
  })
  const [trainPath, testPath, out] = [required('train', o.train), required('test', o.test), required('out', o.out)]
  const lambda = numberOption('lambda', required('lambda', o.lambda), 'positive')
  const eps = numberOption('eps', o.eps!, 'positive')
  if (!(eps < 1)) throw new PoisonkitError('ERR_INVALID_OPTION', `option --eps = ${o.eps}: must lie in (0, 1)`)
  const knowledge = choice('knowledge', o.knowledge!, ['test', 'train'] as const)
  const grid = choice('grid', o.grid!, ['enron', 'imdb', 'mnist17', 'mnist', 'dogfish'] as const)
  const repeats = o.repeats === undefined ? undefined : numberOption('repeats', o.repeats, 'count')
  const roundingTrials = o['rounding-trials'] === undefined ? undefined : numberOption('rounding-trials', o['rounding-trials'], 'count')
  const defenses =
    o.defenses === undefined ? undefined : o.defenses.split(',').map((name) => choice<DefenseName>('defenses', name.trim(), DEFENSES))
  const upper = o.upper === undefined || o.upper === 'column-max' ? o.upper : numberOption('upper', o.upper, 'positive')
  const d = o.d === undefined ? undefined : numberOption('d', o.d, 'count')
  const seed = o.seed === undefined ? undefined : numberOption('seed', o.seed, 'count')

  progress(`loading ${trainPath}, ${testPath}`)
  const [train, test] = await loadAll([trainPath, testPath], d)
  const controller = new AbortController()
  const onSigint = () => controller.abort()
  process.once('SIGINT', onSigint)
  let result
  try {
    result = await kktAttack({
      train: train!,
      test: test!,
      lambda,
      eps,
      knowledge,
      grid,
      repeats,
      roundingTrials,
      round: o['no-round'] ? false : undefined,
      upper,
      defenses,
      seed,
      onProgress: bar,
      signal: controller.signal,
    })
  } finally {
    process.off('SIGINT', onSigint)
    if (process.stderr.isTTY) process.stderr.write('\r\x1b[2K')
  }
  await result.poison.writeSvmlight(out)
  const { timing: _timing, ...evaluation } = result.evaluation
  const summary = {
    attack: 'kkt',
    eps,
    knowledge,
    nPoison: result.poison.n,
    decoy: result.decoy,
    epsPos: result.epsPos,
    epsNeg: result.epsNeg,
    candidates: result.candidates,
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
  const lines = [
    `KKT attack: ${result.poison.n} poison points (ε = ${eps}, ε₊ = ${result.epsPos.toFixed(4)}, ε₋ = ${result.epsNeg.toFixed(4)}) written to ${out}`,
    `decoy: q = ${+result.decoy.quantile.toPrecision(10)}, r = ${result.decoy.copies} (its own test error ${pct(result.decoy.testError)}); ${result.candidates} candidates from ${result.decoys} decoys`,
    `defense   test error`,
    `none      ${pct(e.none).padStart(10)}`,
    ...DEFENSES.filter((name) => e[name] !== undefined).map((name) => `${name.padEnd(8)}  ${pct(e[name]).padStart(10)}`),
    `min       ${pct(e.min).padStart(10)}   (the attack's score)`,
    `time ${result.seconds.toFixed(1)} s`,
  ]
  process.stdout.write(lines.join('\n') + '\n')
}

const kinds: Record<string, (argv: string[]) => Promise<void>> = { kkt }

export async function run(argv: string[]): Promise<void> {
  const [kind, ...rest] = argv
  const attack = kind === undefined ? undefined : kinds[kind]
  if (attack === undefined) {
    throw new PoisonkitError('ERR_USAGE', `${kind === undefined ? 'missing attack' : `unknown attack '${kind}'`} (attacks: ${Object.keys(kinds).join(', ')})`)
  }
  await attack(rest)
}
