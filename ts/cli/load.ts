/** Loading the files of a command so that they agree on the number of features. */
import { loadDataset, type Dataset } from '../dataset.js'
import { PoisonkitError } from '../errors.js'

/** Loads files so that they share d (reloading any with a smaller d when d is not given); none
 * may be empty, and the files after the first (the training data) may hold only labels of its
 * kind, checked line by line as they are read. */
export async function loadAll(paths: string[], d: number | undefined, signal?: AbortSignal): Promise<Dataset[]> {
  const nonEmpty = (set: Dataset, path: string) => {
    if (set.n === 0) throw new PoisonkitError('ERR_PARSE', `${path}: no data points`)
    return set
  }
  const [first, ...rest] = paths
  let train = nonEmpty(await loadDataset(first!, { d, signal }), first!)
  const trainingClasses = train.numClasses
  const load = (path: string, width: number | undefined) => loadDataset(path, { d: width, trainingClasses, signal })
  let others = await Promise.all(rest.map(async (p) => nonEmpty(await load(p, d), p)))
  if (d === undefined) {
    const wide = Math.max(train.d, ...others.map((s) => s.d))
    if (train.d < wide) train = await loadDataset(first!, { d: wide, signal })
    others = await Promise.all(others.map((s, i) => (s.d < wide ? load(rest[i]!, wide) : s)))
  }
  return [train, ...others]
}
