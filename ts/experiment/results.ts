/**
 * The tables of an experiment folder: `results.jsonl` (one cell per line), `results.csv` (one row
 * per cell, test errors in percent) and `REPORT.md` (per dataset and ε, the paper's Table 2 layout:
 * attacks × defenses, the minimum over the defenses last). `mergeExperiments` gathers the cells of
 * shard folders into one.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { DEFENSES } from '../defense.js'
import { PoisonkitError } from '../errors.js'
import type { CellResult } from './run.js'

/** The cell results of a folder (those in `ids` if given), sorted by id. */
export function readCells(dir: string, ids?: Set<string>): CellResult[] {
  const cellsDir = join(dir, 'cells')
  if (!existsSync(cellsDir)) throw new PoisonkitError('ERR_FILE_NOT_FOUND', `${dir}: not an experiment folder (no cells/ in it)`)
  return readdirSync(cellsDir)
    .filter((f) => f.endsWith('.json') && (ids === undefined || ids.has(f.slice(0, -'.json'.length))))
    .sort()
    .map((f) => {
      try {
        return JSON.parse(readFileSync(join(cellsDir, f), 'utf8')) as CellResult
      } catch (err) {
        throw new PoisonkitError('ERR_PARSE', `${join(cellsDir, f)}: not a cell result: ${(err as Error).message}`)
      }
    })
}

const pct = (x: number | undefined) => (x === undefined ? '' : (100 * x).toFixed(2))

/** The defender's loss and optimizer in a few words. */
export function defenderLabel(c: CellResult): string {
  const trained = { exact: '', sgd: ', one pass of SGD', adagrad: ', AdaGrad' }[c.defender.optimizer]
  return `${c.defender.loss}${trained}`
}

const CSV_COLUMNS = [
  'id', 'dataset', 'attack', 'label', 'eps', 'knowledge', 'seed', 'defender_lambda', 'defender_loss', 'defender_optimizer',
  'n_poison', 'none', ...DEFENSES, 'min', 'attack_seconds', 'evaluation_seconds',
]

function csvRow(c: CellResult): string {
  const e = c.evaluation
  const fields = [
    c.id, c.dataset, c.attack, c.label, c.eps, c.knowledge, c.seed, c.defender.lambda, c.defender.loss, c.defender.optimizer,
    c.nPoison, pct(e.none), ...DEFENSES.map((d) => pct(e[d])), pct(e.min), c.seconds.attack.toFixed(1), c.seconds.evaluation.toFixed(1),
  ]
  return fields.map((f) => (/[",\n]/.test(String(f)) ? `"${String(f).replace(/"/g, '""')}"` : String(f))).join(',')
}

/** The markdown report: the spec's name and description, one table per (dataset, ε, knowledge, seed, defender). */
function report(cells: CellResult[], figures: string[], spec: { name?: string; description?: string }): string {
  const name = spec.name ?? cells[0]?.experiment ?? 'experiment'
  const lines = [`# ${name}`, '', ...(spec.description ? [spec.description, ''] : []), `${cells.length} cells. Test error (%) under each defense; **min** is the attack's score (the minimum over the defenses).`, '']
  const panels = new Map<string, CellResult[]>()
  for (const c of cells) {
    const key = `${c.dataset} · ε = ${c.eps} · knowledge: ${c.knowledge} · seed ${c.seed} · defender λ ${c.defender.lambda}, ${defenderLabel(c)}`
    panels.set(key, [...(panels.get(key) ?? []), c])
  }
  for (const [key, group] of panels) {
    const used = DEFENSES.filter((d) => group.some((c) => c.evaluation[d] !== undefined))
    lines.push(`## ${key}`, '', `| attack | none | ${used.join(' | ')} | **min** | attack time (s) |`, `|---|---|${used.map(() => '---|').join('')}---|---|`)
    for (const c of [...group].sort((a, b) => b.evaluation.min - a.evaluation.min)) {
      const e = c.evaluation
      lines.push(`| ${c.label} | ${pct(e.none)} | ${used.map((d) => pct(e[d])).join(' | ')} | **${pct(e.min)}** | ${c.seconds.attack.toFixed(1)} |`)
    }
    lines.push('')
  }
  if (figures.length > 0) lines.push('## Figures', '', ...figures.map((f) => `![${f}](${f})`), '')
  return lines.join('\n')
}

/** Writes `results.jsonl`, `results.csv` and `REPORT.md` of `dir` for `cells`, the report showing `figures`. */
export function writeTables(dir: string, cells: CellResult[], figures: string[]): void {
  writeFileSync(join(dir, 'results.jsonl'), cells.map((c) => JSON.stringify(c)).join('\n') + (cells.length > 0 ? '\n' : ''))
  writeFileSync(join(dir, 'results.csv'), [CSV_COLUMNS.join(','), ...cells.map(csvRow)].join('\n') + '\n')
  const spec = existsSync(join(dir, 'spec.json')) ? JSON.parse(readFileSync(join(dir, 'spec.json'), 'utf8')) : {}
  writeFileSync(join(dir, 'REPORT.md'), report(cells, figures, spec))
}

/**
 * Copies the cells, attack records and poison files of shard folders `from` into `out` (a cell
 * found in two folders must hold the same results); returns the cells of `out`.
 */
export function mergeExperiments(out: string, from: string[]): CellResult[] {
  if (from.length === 0) throw new PoisonkitError('ERR_USAGE', 'merge: give the shard folders to merge')
  // Every folder is read and checked against the others before anything is written.
  const shards = from.map((dir) => ({ dir, cells: readCells(dir) }))
  // Shards of one experiment share its spec; the tables would silently leave out another's cells.
  const specs = [...from, out]
    .filter((dir) => existsSync(join(dir, 'spec.json')))
    .map((dir) => ({ dir, spec: JSON.stringify(JSON.parse(readFileSync(join(dir, 'spec.json'), 'utf8'))) }))
  const other = specs.find((s) => s.spec !== specs[0]!.spec)
  if (other !== undefined) {
    throw new PoisonkitError('ERR_MERGE', `${other.dir}/spec.json differs from ${specs[0]!.dir}/spec.json: merge the shards of one experiment (poisonkit experiment --shard i/N)`)
  }
  const seen = new Map<string, string>()
  for (const { dir, cells } of shards) {
    for (const c of cells) {
      const key = JSON.stringify({ ...c.evaluation, seconds: undefined })
      const before = seen.get(c.id)
      if (before !== undefined && before !== key) {
        throw new PoisonkitError('ERR_MERGE', `cell ${c.id}: ${dir} holds other results than an earlier folder (were they run with different versions?)`)
      }
      seen.set(c.id, key)
    }
  }
  for (const sub of ['cells', 'attacks', 'poison']) mkdirSync(join(out, sub), { recursive: true })
  for (const { dir, cells } of shards.filter((s) => resolve(s.dir) !== resolve(out))) {
    for (const c of cells) {
      copyFileSync(join(dir, 'cells', `${c.id}.json`), join(out, 'cells', `${c.id}.json`))
      for (const file of [join('attacks', `${c.attackId}.json`), c.poison]) {
        if (existsSync(join(dir, file))) copyFileSync(join(dir, file), join(out, file))
      }
    }
    if (existsSync(join(dir, 'spec.json')) && !existsSync(join(out, 'spec.json'))) copyFileSync(join(dir, 'spec.json'), join(out, 'spec.json'))
  }
  return readCells(out)
}
