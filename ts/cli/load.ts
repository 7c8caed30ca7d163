/** Loading the files of a command so that they agree on the number of features. */
import { loadDataset, type Dataset } from '../dataset.js'

/** Loads files so that they share d (reloading any with a smaller d when d is not given). */
export async function loadAll(paths: string[], d: number | undefined, signal?: AbortSignal): Promise<Dataset[]> {
  const sets = await Promise.all(paths.map((p) => loadDataset(p, { d, signal })))
  if (d !== undefined) return sets
  const wide = Math.max(...sets.map((s) => s.d))
  return Promise.all(sets.map((s, i) => (s.d < wide ? loadDataset(paths[i]!, { d: wide, signal }) : s)))
}
