/**
 * Writing a data set for other tools: svmlight text (1-based indices; gzip'd for `.gz`), dense CSV
 * (a `label` column, then `x1`…`xd`) or NumPy `.npz` in the layout of `scipy.sparse.save_npz`
 * (`data`, `indices`, `indptr`, `shape`, `format`) plus the labels as `y`, which
 * `scipy.sparse.load_npz` and poisonkit's own loader read.
 */
import { writeFileSync } from 'node:fs'
import { zipSync } from 'fflate'
import { datasetOption, type Dataset } from './dataset.js'
import { PoisonkitError, oneOf } from './errors.js'

/** The formats `writeDataset` and `poisonkit export` write. */
export const EXPORT_FORMATS = ['svmlight', 'csv', 'npz'] as const
/** svmlight text (gzip'd for `.gz`), dense CSV with the label first, or NumPy `.npz` (scipy CSR + `y`). */
export type ExportFormat = (typeof EXPORT_FORMATS)[number]

/** The format a file name asks for: `.csv`, `.npz`, else svmlight. */
export function formatOf(path: string): ExportFormat {
  const name = path.toLowerCase().replace(/\.gz$/, '')
  return name.endsWith('.csv') ? 'csv' : name.endsWith('.npz') ? 'npz' : 'svmlight'
}

/** One `.npy` file (format 1.0): header dict padded to 64 bytes, then little-endian data. */
function npy(descr: string, shape: number[], bytes: Uint8Array): Uint8Array {
  const dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`
  const unpadded = 10 + dict.length + 1
  const header = dict + ' '.repeat((64 - (unpadded % 64)) % 64) + '\n'
  const out = new Uint8Array(10 + header.length + bytes.length)
  out.set([0x93, ...Buffer.from('NUMPY'), 1, 0, header.length & 0xff, header.length >> 8])
  out.set(Buffer.from(header, 'latin1'), 10)
  out.set(bytes, 10 + header.length)
  return out
}

const bytesOf = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength)

function npz(data: Dataset): Uint8Array {
  const csr = data.toCsr()
  if (csr.indptr[csr.n]! > 2 ** 31 - 1) throw new PoisonkitError('ERR_INVALID_ARGUMENT', 'too many nonzeros for 32-bit CSR indices')
  const files = {
    'data.npy': npy('<f8', [csr.values.length], bytesOf(csr.values)),
    'indices.npy': npy('<i4', [csr.indices.length], bytesOf(Int32Array.from(csr.indices))),
    'indptr.npy': npy('<i4', [csr.n + 1], bytesOf(Int32Array.from(csr.indptr))),
    'shape.npy': npy('<i8', [2], bytesOf(BigInt64Array.from([BigInt(csr.n), BigInt(csr.d)]))),
    'format.npy': npy('|S3', [], Buffer.from('csr')),
    'y.npy': npy('<i4', [csr.n], bytesOf(csr.labels)),
  }
  return zipSync(files, { level: 6 })
}

function csv(data: Dataset): string {
  const csr = data.toCsr()
  const lines = [['label', ...Array.from({ length: csr.d }, (_, j) => `x${j + 1}`)].join(',')]
  const row = new Array<number>(csr.d)
  for (let i = 0; i < csr.n; i++) {
    row.fill(0)
    for (let k = csr.indptr[i]!; k < csr.indptr[i + 1]!; k++) row[csr.indices[k]!] = csr.values[k]!
    lines.push(`${csr.labels[i]},${row.join(',')}`)
  }
  return lines.join('\n') + '\n'
}

/** Rejects a `format` that cannot be written to `path`: only svmlight is written gzip'd. */
export function checkExportPath(path: string, format: ExportFormat): void {
  if (format !== 'svmlight' && /\.gz$/i.test(path)) throw new PoisonkitError('ERR_INVALID_OPTION', `option out = ${path}: only svmlight is written gzip'd`)
}

/** Writes `data` to `path` in `format` (default: from the file name). */
export async function writeDataset(data: Dataset, path: string, format: ExportFormat = formatOf(path)): Promise<void> {
  datasetOption('data', data)
  oneOf('format', format, EXPORT_FORMATS)
  checkExportPath(path, format)
  if (format === 'svmlight') return data.writeSvmlight(path)
  try {
    writeFileSync(path, format === 'npz' ? npz(data) : csv(data))
  } catch (err) {
    throw new PoisonkitError('ERR_IO', `cannot write ${path}: ${(err as Error).message}`)
  }
}
