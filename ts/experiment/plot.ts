/**
 * The figures of an experiment folder, rendered offline: Vega-Lite specs compiled by vega to SVG,
 * rasterized by resvg to PNG; each spec is kept next to its figure (`<name>.vl.json`).
 *
 * - `defenses`: test error under each defense, one bar per attack (paper Figure 3);
 * - `curve`: each attack's best-so-far minimum error against time (Figure 4);
 * - `eps`: the minimum error against ε, when the experiment varies ε;
 * - `lambda`: test error against the defender's λ per defense, when it varies (Figure 10).
 *
 * Panels split the cells along whatever else varies (dataset, ε, knowledge, seed, defender).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { DEFENSES } from '../defense.js'
import { defenderLabel, readCells, writeTables } from './results.js'
import { expandCells } from './spec.js'
import type { CellResult } from './run.js'

type Row = Record<string, string | number>
/** A Vega-Lite specification (JSON). */
export type VegaLite = Record<string, unknown>

/** The dimensions besides the attack that take more than one value. */
function panelOf(cells: CellResult[], skip: string[] = []): (c: CellResult) => string {
  const dims: [string, (c: CellResult) => string][] = [
    ['dataset', (c) => c.dataset],
    ['eps', (c) => `ε ${c.eps}`],
    ['knowledge', (c) => `knows ${c.knowledge}`],
    ['seed', (c) => `seed ${c.seed}`],
    ['lambda', (c) => `λ ${c.defender.lambda}`],
    ['defender', (c) => defenderLabel(c)],
  ]
  const varying = dims.filter(([name, f]) => !skip.includes(name) && new Set(cells.map(f)).size > 1)
  return (c) => varying.map(([, f]) => f(c)).join(' · ') || c.dataset
}

const percent = (x: number) => Math.round(10000 * x) / 100

function defensesFigure(cells: CellResult[]): VegaLite {
  const panel = panelOf(cells)
  const values: Row[] = cells.flatMap((c) => {
    const e = c.evaluation
    return (['none', ...DEFENSES] as const)
      .filter((d) => e[d] !== undefined)
      .map((d) => ({ panel: panel(c), attack: c.label, defense: d, error: percent(e[d]!) }))
  })
  return {
    title: 'Test error under each defense',
    data: { values },
    columns: 4,
    facet: { field: 'panel', type: 'nominal', title: null },
    spec: {
      width: 60 * (DEFENSES.length + 1),
      height: 220,
      mark: 'bar',
      encoding: {
        x: { field: 'defense', type: 'nominal', sort: ['none', ...DEFENSES], title: null },
        xOffset: { field: 'attack', type: 'nominal' },
        y: { field: 'error', type: 'quantitative', title: 'test error (%)' },
        color: { field: 'attack', type: 'nominal' },
        tooltip: [{ field: 'attack' }, { field: 'defense' }, { field: 'error' }],
      },
    },
  }
}

/**
 * Test error (%) against `x`, one line per attack, one panel per `panel` value: side by side, or
 * wrapped in `columns` (in the order `order`).
 */
function lineChart(
  title: string,
  values: Row[],
  x: Record<string, unknown>,
  options: { step?: boolean; columns?: number; order?: string[] } = {},
): VegaLite {
  const facet = { field: 'panel', type: 'nominal', title: null, ...(options.order ? { sort: options.order } : {}) }
  return {
    title,
    data: { values },
    ...(options.columns ? { columns: options.columns, facet } : { facet: { column: facet } }),
    spec: {
      width: options.columns ? 220 : 320,
      height: options.columns ? 180 : 220,
      mark: { type: 'line', point: true, ...(options.step ? { interpolate: 'step-after' } : {}) },
      encoding: {
        x: { type: 'quantitative', ...x },
        y: { field: 'error', type: 'quantitative', title: 'test error (%)' },
        color: { field: 'attack', type: 'nominal' },
      },
    },
  }
}

function curveFigure(cells: CellResult[]): VegaLite {
  const runs = [...new Map(cells.map((c) => [c.attackId, c])).values()]
  const panel = panelOf(runs, ['lambda', 'defender'])
  const values: Row[] = runs.flatMap((c) => c.curve.map((p) => ({ panel: panel(c), attack: c.label, seconds: p.seconds, error: percent(p.minError) })))
  return lineChart('Best-so-far minimum test error over the attack-time defenses', values, { field: 'seconds', title: 'seconds' }, { step: true })
}

function epsFigure(cells: CellResult[]): VegaLite {
  const panel = panelOf(cells, ['eps'])
  const values = cells.map((c) => ({ panel: panel(c), attack: c.label, eps: c.eps, error: percent(c.evaluation.min) }))
  return lineChart('Minimum test error over the defenses against ε', values, { field: 'eps', title: 'ε (poison fraction)' })
}

function lambdaFigure(cells: CellResult[]): VegaLite {
  const panel = panelOf(cells, ['lambda'])
  const order: string[] = []
  const values: Row[] = cells.flatMap((c) => {
    const e = c.evaluation
    return (['none', ...DEFENSES] as const)
      .filter((d) => e[d] !== undefined)
      .map((d) => {
        const name = `${panel(c)} · ${d}`
        if (!order.includes(name)) order.push(name)
        return { panel: name, attack: c.label, lambda: c.defender.lambda, error: percent(e[d]!) }
      })
  })
  const x = { field: 'lambda', scale: { type: 'log' }, title: "defender's λ" }
  return lineChart("Test error against the defender's λ", values, x, { columns: 3, order })
}

/** The figures that apply to `cells`, by name. */
export function figureSpecs(cells: CellResult[]): Record<string, VegaLite> {
  if (cells.length === 0) return {}
  const figures: Record<string, VegaLite> = { defenses: defensesFigure(cells), curve: curveFigure(cells) }
  if (new Set(cells.map((c) => c.eps)).size > 1) figures.eps = epsFigure(cells)
  if (new Set(cells.map((c) => c.defender.lambda)).size > 1) figures.lambda = lambdaFigure(cells)
  return figures
}

/** Renders a Vega-Lite spec to SVG and PNG (2× zoom). */
export async function renderFigure(spec: VegaLite): Promise<{
  /** The figure as SVG text. */
  svg: string
  /** The figure as PNG bytes. */
  png: Uint8Array
}> {
  const [vega, vl, { Resvg }] = await Promise.all([import('vega'), import('vega-lite'), import('@resvg/resvg-js')])
  const full = { $schema: 'https://vega.github.io/schema/vega-lite/v6.json', background: 'white', ...spec }
  const view = new vega.View(vega.parse(vl.compile(full as never).spec), { renderer: 'none' })
  const svg = await view.toSVG()
  view.finalize()
  const png = new Resvg(svg, { fitTo: { mode: 'zoom', value: 2 }, font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' } }).render().asPng()
  return { svg, png }
}

/** Writes every figure of `cells` into `dir/figures/` as SVG, PNG and Vega-Lite JSON; returns the PNG paths relative to `dir`. */
export async function writeFigures(dir: string, cells: CellResult[]): Promise<string[]> {
  const out = join(dir, 'figures')
  mkdirSync(out, { recursive: true })
  const written: string[] = []
  for (const [name, spec] of Object.entries(figureSpecs(cells))) {
    const { svg, png } = await renderFigure(spec)
    writeFileSync(join(out, `${name}.svg`), svg)
    writeFileSync(join(out, `${name}.png`), png)
    writeFileSync(join(out, `${name}.vl.json`), JSON.stringify(spec, null, 2) + '\n')
    written.push(join('figures', `${name}.png`))
  }
  return written
}

/**
 * Writes the tables and figures of an experiment folder from its cells: those of its `spec.json`
 * (the last spec run there: cells of an edited spec's older version are left out), or all of them
 * when it has none. Returns the cells.
 */
export async function writeTablesAndFigures(dir: string): Promise<CellResult[]> {
  const specPath = join(dir, 'spec.json')
  const ids = existsSync(specPath) ? new Set(expandCells(JSON.parse(readFileSync(specPath, 'utf8'))).map((c) => c.id)) : undefined
  const cells = readCells(dir, ids)
  writeTables(dir, cells, await writeFigures(dir, cells))
  return cells
}
