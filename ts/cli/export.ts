/** `poisonkit export`: a poisoned training set (clean + poison, or the poison alone) for other tools. */
import { EXPORT_FORMATS, checkExportPath, formatOf, writeDataset } from '../export.js'
import { loadAll } from './load.js'
import { choice, numberOption, outputFile, parse, progress, required } from './args.js'

export const usage = `poisonkit export --poison F --out F [--train F] [--format svmlight|csv|npz] [--d N]

Writes the clean training data followed by the poison points (or the poison alone, without
--train) as svmlight text (1-based indices; gzip'd for .gz), dense CSV (label, x1…xd) or NumPy .npz
(scipy.sparse.save_npz's CSR layout plus labels y), so that other tools can train on it.

  --poison F             the poison points (e.g. an experiment's DIR/poison/<id>.svm.gz)
  --train F              the clean training data to put first (omit: poison only)
  --out F                the file to write
  --format svmlight|csv|npz   default: from the --out name (.csv, .npz, else svmlight)
  --d N                  number of features (default: the largest index seen in the files)`

export async function run(argv: string[]): Promise<void> {
  const o = parse(argv, { poison: { type: 'string' }, train: { type: 'string' }, out: { type: 'string' }, format: { type: 'string' }, d: { type: 'string' } })
  const poisonPath = required('poison', o.poison)
  const out = outputFile('out', required('out', o.out), { poison: poisonPath, train: o.train })
  const format = o.format === undefined ? formatOf(out) : choice('format', o.format, EXPORT_FORMATS)
  checkExportPath(out, format)
  const d = o.d === undefined ? undefined : numberOption('d', o.d, 'positive-count')
  const paths = o.train === undefined ? [poisonPath] : [o.train, poisonPath]
  progress(`loading ${paths.join(', ')}`)
  const sets = await loadAll(paths, d)
  const data = sets.length === 2 ? sets[0]!.concat(sets[1]!) : sets[0]!
  await writeDataset(data, out, format)
  process.stdout.write(`${data.n} points (d = ${data.d}) written to ${out} as ${format}\n`)
}
