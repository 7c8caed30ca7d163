/**
 * Runs the cells of an experiment into a folder, resumably:
 *
 *   DIR/spec.json                  the checked spec of the last run
 *   DIR/attacks/<attackId>.json    one attack run: its summary, anytime curve and own evaluation
 *   DIR/poison/<attackId>.svm.gz   its poison points
 *   DIR/cells/<cellId>.json        one cell: the poison scored by the cell's defender
 *
 * Every file is written to a temporary name and renamed, so a file that exists is complete: a run
 * killed at any moment and started again skips what is done (a finished attack is not rerun for
 * its other defenders). Attacks run one after the other; each uses every core.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { arch, platform } from 'node:os'
import { join } from 'node:path'
import {
  alfaAttack,
  influenceAttack,
  kktAttack,
  labelFlipAttack,
  minmaxAttack,
  poisonCount,
  type AttackOptions,
  type AttackProgress,
  type AttackResult,
  type CurvePoint,
} from '../attack.js'
import { loadDataset, makeBagOfWords, type Dataset } from '../dataset.js'
import { evaluate, optimizerMismatch, type Evaluation, type Optimizer } from '../defense.js'
import { loadAll } from '../cli/load.js'
import { PoisonkitError } from '../errors.js'
import { defaultOptimizer, expandCells, resolveDataPath, type Cell, type DatasetSpec, type Defender, type ExperimentSpec } from './spec.js'

/** Where a running experiment is. */
export interface ExperimentProgress {
  /** Cells finished (including those found done). */
  done: number
  /** Cells in all (this shard). */
  total: number
  /** Cells found done when the run started. */
  skipped: number
  /** The id of the attack running now. */
  attackId?: string
  /** The running attack's own progress. */
  attack?: AttackProgress
  /** Estimated seconds left (from the attacks run so far), when known. */
  eta?: number
}

/** What a cell's result file holds. */
export interface CellResult {
  /** The cell's id (`Cell.id`). */
  id: string
  /** Its attack run's id, shared by cells that differ only in the defender. */
  attackId: string
  /** The spec's name. */
  experiment: string
  /** The data set's name. */
  dataset: string
  /** The dataset as the spec gives it (files as written, or the synthetic options). */
  datasetSpec: DatasetSpec
  /** The attacker's λ (the dataset's). */
  attackerLambda: number
  /** The attack (`AttackName`). */
  attack: string
  /** The attack's label in tables and figures. */
  label: string
  /** The attack's options as the spec gives them. */
  options: Record<string, unknown>
  /** Poison fraction ε. */
  eps: number
  /** The attacker's knowledge. */
  knowledge: 'test' | 'train'
  /** The seed of the attack run. */
  seed: number
  /** The defender the poison is scored against, with the optimizer it trained with. */
  defender: Required<Defender>
  /** The defenses that scored it. */
  defenses: string[]
  /** Fraction of every class each defense removed. */
  removeFraction: number
  /** The poison file, relative to the experiment folder. */
  poison: string
  /** Poison points. */
  nPoison: number
  /** The poison against the cell's defender (test errors in [0, 1]). */
  evaluation: Omit<Evaluation, 'timing'>
  /** The attack's best-so-far minimum error against seconds (its attack-time scoring). */
  curve: CurvePoint[]
  /** Seconds of the attack run (shared by its cells) and of this cell's evaluation. */
  seconds: {
    /** The attack run. */
    attack: number
    /** This cell's evaluation (next to nothing when the attack's own evaluation serves). */
    evaluation: number
  }
  /** What produced it: poisonkit and Node versions and `platform-arch`. */
  versions: {
    /** poisonkit's version. */
    poisonkit: string
    /** Node's version. */
    node: string
    /** `platform-arch`, e.g. `linux-x64`. */
    platform: string
  }
  /** When it finished (ISO 8601). */
  finishedAt: string
}

/** One attack run as stored in `attacks/`. */
interface AttackRecord {
  attackId: string
  poison: string
  nPoison: number
  epsPos: number
  epsNeg: number
  decoy: AttackResult['decoy']
  candidates: AttackResult['candidates']
  /** Absent in records written before failures were kept. */
  failures?: AttackResult['failures']
  stepSize?: number
  iteration?: number
  selection: Omit<Evaluation, 'timing'>
  evaluation: Omit<Evaluation, 'timing'>
  curve: AttackResult['curve']
  seconds: number
}

/** Options of `runExperiment`. */
export interface RunOptions {
  /** The experiment folder (created if missing; finished cells found in it are not run again). */
  out: string
  /** Where the spec's relative paths start: the spec file's folder (default: the current directory). */
  specDir?: string
  /** The cells to run (default: all of the spec's, `expandCells(spec)`; `shardCells` picks a shard's). */
  cells?: Cell[]
  /** Called when a cell finishes and as the running attack reports progress. */
  onProgress?: (p: ExperimentProgress) => void
  /** Stops the run after its current attack or evaluation step; the promise rejects with `ERR_ABORTED`. */
  signal?: AbortSignal
}

const VERSION: string = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version

/** Writes `text` to `path` atomically. */
function writeAtomic(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`
  writeFileSync(tmp, text)
  renameSync(tmp, path)
}

function readJson<T>(path: string): T | undefined {
  if (!existsSync(path)) return undefined
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T
  } catch {
    return undefined // a file from another tool or a damaged disk: redo the work
  }
}

/** The train and test sets of a dataset spec; `signal` stops the reading of files. */
export async function loadSpecData(dataset: DatasetSpec, specDir: string, signal?: AbortSignal): Promise<[Dataset, Dataset]> {
  if (dataset.synthetic !== undefined) {
    const { nTest = 1000, n = 2000, ...rest } = dataset.synthetic
    const all = makeBagOfWords({ ...rest, n: n + nTest })
    const rows = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i)
    return [all.slice(rows(0, n)), all.slice(rows(n, n + nTest))]
  }
  const paths = (['train', 'test'] as const).map((which) => resolveDataPath(dataset, which, specDir))
  const [train, test] = await loadAll(paths, dataset.d, signal)
  return [train!, test!]
}

const stripTiming = ({ timing: _timing, ...rest }: Evaluation) => rest

/** Runs one attack of a cell with the cell's ε, knowledge and seed. */
async function runAttack(cell: Cell, train: Dataset, test: Dataset, onProgress: (p: AttackProgress) => void, signal?: AbortSignal) {
  const options = {
    ...cell.attack.options,
    train,
    test,
    lambda: cell.dataset.lambda,
    eps: cell.eps,
    knowledge: cell.knowledge,
    seed: cell.seed,
    grid: (cell.attack.options.grid as AttackOptions['grid']) ?? cell.dataset.grid,
    evaluationDefenses: cell.defenses,
    onProgress,
    progressInterval: 500,
    signal,
  } as AttackOptions & Record<string, unknown>
  const result: AttackResult & { stepSize?: number; iteration?: number } = await {
    kkt: () => kktAttack(options),
    minmax: () => minmaxAttack({ ...options, basic: false }),
    'minmax-basic': () => minmaxAttack({ ...options, basic: true }),
    influence: () => influenceAttack({ ...options, basic: false }),
    'influence-basic': () => influenceAttack({ ...options, basic: true }),
    labelflip: () => labelFlipAttack(options),
    alfa: () => alfaAttack(options),
  }[cell.attack.attack]()
  return result
}

/** Checks the cell against its training data before its attack runs: the attacker's and the
 * defender's λ, the defender's loss, the optimizers of the defender and of the one the attack scores
 * against, and ε giving at least one poison point; returns the defender's optimizer. */
function checkCell(cell: Cell, train: Dataset): Optimizer {
  const numClasses = train.numClasses
  const data = numClasses > 0 ? `${numClasses} classes` : '±1 labels'
  try {
    poisonCount(train, cell.eps)
  } catch (err) {
    throw new PoisonkitError('ERR_INVALID_SPEC', `eps: ${(err as Error).message} of dataset ${cell.dataset.name} (n = ${train.n})`)
  }
  if (numClasses === 0) {
    for (const [field, lambda] of [['datasets[].lambda', cell.dataset.lambda], ['defender.lambda', cell.defender.lambda]] as const) {
      if (!(lambda > 0)) throw new PoisonkitError('ERR_INVALID_SPEC', `${field}: λ ${lambda} for dataset ${cell.dataset.name} (${data}) must be positive; λ 0 is the multi-class defender's only`)
    }
  } else if (cell.defender.loss !== 'hinge') {
    throw new PoisonkitError('ERR_INVALID_SPEC', `defender.loss: ${cell.defender.loss} does not train the defender of dataset ${cell.dataset.name} (${data}: the Crammer–Singer SVM, hinge)`)
  }
  // An optimizer asked for at `field` with `lambda`, checked against the data; the data's own if none.
  const optimizer = (field: string, asked: Optimizer | undefined, lambda: number): Optimizer => {
    if (asked === undefined) return defaultOptimizer(numClasses)
    const mismatch = optimizerMismatch(asked, numClasses, lambda, `dataset ${cell.dataset.name}`)
    if (mismatch !== undefined) throw new PoisonkitError('ERR_INVALID_SPEC', `${field}: ${mismatch}`)
    return asked
  }
  optimizer(`attack ${cell.attack.label}: options.optimizer`, cell.attack.options.optimizer as Optimizer | undefined, cell.dataset.lambda)
  return optimizer('defender.optimizer', cell.defender.optimizer, cell.defender.lambda)
}

/** Whether the attack's own final evaluation is the cell's (the attacker's λ, hinge, the optimizer
 * the attack scored against, 5% removal). */
function attackEvaluationServes(cell: Cell, optimizer: Optimizer, numClasses: number): boolean {
  const d = cell.defender
  const attacker = (cell.attack.options.optimizer as Optimizer | undefined) ?? defaultOptimizer(numClasses)
  return d.lambda === cell.dataset.lambda && d.loss === 'hinge' && optimizer === attacker && cell.removeFraction === 0.05
}

/** The data of some cells, read and checked. */
export interface CheckedCells {
  /** Training and test data by dataset name. */
  data: Map<string, [Dataset, Dataset]>
  /** The defender's optimizer by cell id. */
  optimizers: Map<string, Optimizer>
}

/**
 * Reads the data of `cells`, each data set once, and checks every cell against its data, so that a
 * bad cell fails before any attack runs (`poisonkit experiment --dry-run` does only this).
 */
export async function checkCells(cells: Cell[], specDir: string, signal?: AbortSignal): Promise<CheckedCells> {
  const data = new Map<string, [Dataset, Dataset]>()
  const optimizers = new Map<string, Optimizer>()
  for (const cell of cells) {
    let pair = data.get(cell.dataset.name)
    if (pair === undefined) {
      pair = await loadSpecData(cell.dataset, specDir, signal)
      data.set(cell.dataset.name, pair)
    }
    optimizers.set(cell.id, checkCell(cell, pair[0]))
  }
  return { data, optimizers }
}

/**
 * Runs the cells of `spec` into `options.out`, skipping finished ones, off the main thread; resolves
 * to the results of all of them. It writes the cells' files, not the tables and figures
 * (`writeTablesAndFigures`).
 */
export async function runExperiment(spec: ExperimentSpec, options: RunOptions): Promise<CellResult[]> {
  const { out, specDir = process.cwd(), cells = expandCells(spec), onProgress, signal } = options
  for (const sub of ['attacks', 'poison', 'cells']) mkdirSync(join(out, sub), { recursive: true })
  writeAtomic(join(out, 'spec.json'), JSON.stringify(spec, null, 2) + '\n')
  const cellPath = (id: string) => join(out, 'cells', `${id}.json`)
  const results = new Map<string, CellResult>()
  for (const cell of cells) {
    const done = readJson<CellResult>(cellPath(cell.id))
    if (done?.id === cell.id) results.set(cell.id, done)
  }
  const skipped = results.size
  const groups = new Map<string, Cell[]>()
  for (const cell of cells) if (!results.has(cell.id)) groups.set(cell.attackId, [...(groups.get(cell.attackId) ?? []), cell])
  const report = (extra: Partial<ExperimentProgress> = {}) => onProgress?.({ done: results.size, total: cells.length, skipped, ...extra })
  report()

  // Every cell left to run is checked against its data before any attack runs.
  const { data, optimizers: optimizerOf } = await checkCells([...groups.values()].flat(), specDir, signal)
  const started = performance.now()
  let groupsDone = 0
  for (const [attackId, group] of groups) {
    const first = group[0]!
    const [train, test] = data.get(first.dataset.name)!
    const optimizers = group.map((cell) => optimizerOf.get(cell.id)!)
    // Seconds left: the mean time of the attacks run so far, for the rest, less this one's elapsed.
    const groupStart = performance.now()
    const perGroup = groupsDone === 0 ? undefined : (groupStart - started) / 1000 / groupsDone
    const eta = () => (perGroup === undefined ? undefined : Math.max(0, perGroup * (groups.size - groupsDone) - (performance.now() - groupStart) / 1000))
    const recordPath = join(out, 'attacks', `${attackId}.json`)
    const poisonFile = join('poison', `${attackId}.svm.gz`)
    let record = readJson<AttackRecord>(recordPath)
    let poison: Dataset
    if (record?.attackId === attackId && existsSync(join(out, record.poison))) {
      poison = await loadDataset(join(out, record.poison), { d: train.d, signal })
    } else {
      report({ attackId, eta: eta() })
      const result = await runAttack(first, train, test, (attack) => report({ attackId, attack, eta: eta() }), signal)
      poison = result.poison
      const tmp = join(out, 'poison', `${attackId}.tmp-${process.pid}.svm.gz`)
      await poison.writeSvmlight(tmp)
      renameSync(tmp, join(out, poisonFile))
      record = {
        attackId,
        poison: poisonFile,
        nPoison: poison.n,
        epsPos: result.epsPos,
        epsNeg: result.epsNeg,
        decoy: result.decoy,
        candidates: result.candidates,
        failures: result.failures,
        stepSize: result.stepSize,
        iteration: result.iteration,
        selection: stripTiming(result.selection),
        evaluation: stripTiming(result.evaluation),
        curve: result.curve,
        seconds: result.seconds,
      }
      writeAtomic(recordPath, JSON.stringify(record, null, 2) + '\n')
    }
    for (const [i, cell] of group.entries()) {
      const t = performance.now()
      const optimizer = optimizers[i]!
      const evaluation = attackEvaluationServes(cell, optimizer, train.numClasses)
        ? record.evaluation
        : stripTiming(
            await evaluate({
              train,
              test,
              poison,
              lambda: cell.defender.lambda,
              loss: cell.defender.loss,
              optimizer,
              defenses: cell.defenses,
              removeFraction: cell.removeFraction,
              seed: cell.seed,
              signal,
            }),
          )
      const result: CellResult = {
        id: cell.id,
        attackId,
        experiment: spec.name,
        dataset: cell.dataset.name,
        datasetSpec: cell.dataset,
        attackerLambda: cell.dataset.lambda,
        attack: cell.attack.attack,
        label: cell.attack.label,
        options: cell.attack.options,
        eps: cell.eps,
        knowledge: cell.knowledge,
        seed: cell.seed,
        defender: { ...cell.defender, optimizer },
        defenses: cell.defenses,
        removeFraction: cell.removeFraction,
        poison: record.poison,
        nPoison: record.nPoison,
        evaluation,
        curve: record.curve,
        seconds: { attack: record.seconds, evaluation: (performance.now() - t) / 1000 },
        versions: { poisonkit: VERSION, node: process.version, platform: `${platform()}-${arch()}` },
        finishedAt: new Date().toISOString(),
      }
      writeAtomic(cellPath(cell.id), JSON.stringify(result, null, 2) + '\n')
      results.set(cell.id, result)
      report({ attackId, eta: eta() })
    }
    groupsDone++
  }
  return cells.map((c) => results.get(c.id)!)
}
