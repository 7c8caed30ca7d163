/** `poisonkit merge` and `poisonkit plot`: the tables and figures of experiment folders. */
import { resolve } from 'node:path'
import { PoisonkitError } from '../errors.js'
import { mergeExperiments } from '../experiment/results.js'
import { writeTablesAndFigures } from '../experiment/plot.js'
import { parseWithPositionals } from './args.js'

export const mergeUsage = `poisonkit merge --out DIR SHARD_DIR...

Gathers the cells of the shard folders of one experiment (poisonkit experiment --shard i/N) into DIR
and writes its results.csv, results.jsonl, REPORT.md and figures. A cell found in two folders must
hold the same results.`

export const plotUsage = `poisonkit plot DIR

(Re)writes the figures (SVG, PNG and their Vega-Lite specs in DIR/figures/) and the tables of an
experiment folder: test error per defense and attack, best-so-far error against time, and, when
they vary, error against ε and against the defender's λ.`

export async function merge(argv: string[]): Promise<void> {
  const { values: o, positionals } = parseWithPositionals(argv, { out: { type: 'string' } }, Infinity)
  if (o.out === undefined || o.out === '') throw new PoisonkitError('ERR_USAGE', 'missing required option --out')
  const out = resolve(o.out)
  mergeExperiments(out, positionals)
  const cells = await writeTablesAndFigures(out)
  process.stdout.write(`${cells.length} cells from ${positionals.length} folders merged into ${out}\n`)
}

export async function plot(argv: string[]): Promise<void> {
  const { positionals } = parseWithPositionals(argv, {}, 1)
  if (positionals[0] === undefined) throw new PoisonkitError('ERR_USAGE', 'missing the experiment folder (poisonkit plot DIR)')
  const dir = resolve(positionals[0])
  const cells = await writeTablesAndFigures(dir)
  process.stdout.write(`figures and tables of ${cells.length} cells written in ${dir}\n`)
}
