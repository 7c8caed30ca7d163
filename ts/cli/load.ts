/** Loading the files of a command so that they agree on the number of features. */
import { loadDataset, type Dataset } from '../dataset.js'
import { PoisonkitError, native } from '../errors.js'

/** Loads files so that they share d (reloading any with a smaller d when d is not given); none
 * may be empty, and the files after the first (the training data) may hold only labels of its
 * classes. */
export async function loadAll(paths: string[], d: number | undefined, signal?: AbortSignal): Promise<Dataset[]> {
  let sets = await Promise.all(paths.map((p) => loadDataset(p, { d, signal })))
  const empty = sets.findIndex((s) => s.n === 0)
  if (empty >= 0) throw new PoisonkitError('ERR_PARSE', `${paths[empty]}: no data points`)
  if (d === undefined) {
    const wide = Math.max(...sets.map((s) => s.d))
    sets = await Promise.all(sets.map((s, i) => (s.d < wide ? loadDataset(paths[i]!, { d: wide, signal }) : s)))
  }
  sets.slice(1).forEach((s, i) => native(() => sets[0]!.handle.checkCompatible(s.handle, paths[i + 1]!)))
  return sets
}
