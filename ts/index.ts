/**
 * poisonkit: data-poisoning attacks and data-sanitization defenses on linear classifiers, after
 * Koh, Steinhardt & Liang, "Stronger Data Poisoning Attacks Break Data Sanitization Defenses".
 */
export { PoisonkitError } from './errors.js'
export {
  DECOY_GRIDS,
  alfaAttack,
  influenceAttack,
  kktAttack,
  labelFlipAttack,
  minmaxAttack,
  poisonCount,
  type AlfaAttackOptions,
  type AttackFailure,
  type AttackOptions,
  type AttackProgress,
  type AttackResult,
  type CandidateScore,
  type CurvePoint,
  type DecoyGrid,
  type DecoyInfo,
  type InfluenceAttackOptions,
  type InfluenceAttackResult,
  type KktAttackOptions,
  type KktAttackResult,
  type MinmaxAttackOptions,
} from './attack.js'
export {
  Dataset,
  loadDataset,
  makeBagOfWords,
  makeBlobs,
  type BagOfWordsOptions,
  type BlobsOptions,
  type Csr,
  type Format,
  type LoadOptions,
} from './dataset.js'
export {
  FeasibleSet,
  UPPER_RULES,
  roundPoints,
  type ClassConstraints,
  type FeasibleSetOptions,
  type KktSolution,
  type RoundOptions,
  type SetSolution,
  type UpperBound,
} from './feasible.js'
export { DEFENSES, OPTIMIZERS, evaluate, optimizersFor, type DefenseName, type DefenseTiming, type EvaluateOptions, type Evaluation, type Optimizer } from './defense.js'
export {
  LinearModel,
  hessianVectorProduct,
  objectiveGradient,
  objectiveValue,
  train,
  type LossName,
  type ModelJson,
  type ObjectiveOptions,
  type TrainOptions,
  type Weights,
} from './model.js'
export {
  MulticlassModel,
  trainMulticlass,
  type MulticlassModelJson,
  type MulticlassTrainOptions,
  type MulticlassTraining,
} from './multiclass.js'
export {
  ATTACK_NAMES,
  checkSpec,
  expandCells,
  readSpec,
  resolveShard,
  shardCells,
  type AttackName,
  type AttackSpec,
  type Cell,
  type DatasetSpec,
  type Defender,
  type DefenderSpec,
  type ExperimentSpec,
  type Shard,
  type SyntheticSpec,
} from './experiment/spec.js'
export { checkCells, loadSpecData, runExperiment, type CellResult, type CheckedCells, type ExperimentProgress, type RunOptions } from './experiment/run.js'
export { mergeExperiments, readCells } from './experiment/results.js'
export { figureSpecs, renderFigure, writeFigures, writeTablesAndFigures, type VegaLite } from './experiment/plot.js'
export { EXPORT_FORMATS, writeDataset, type ExportFormat } from './export.js'
