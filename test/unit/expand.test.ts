import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { parseYamlSource } from '../../src/config/source.js';
import { matrixSchema } from '../../src/config/schema.js';
import { toMatrix } from '../../src/config/normalize.js';
import { expandMatrix, cellVars } from '../../src/matrix/expand.js';
import { render } from '../../src/matrix/template.js';
import type { Cell } from '../../src/config/model.js';

const repo = path.resolve(import.meta.dirname, '../..');

function matrixFrom(text: string) {
  const source = parseYamlSource(text, 'matrix.yaml');
  return toMatrix(matrixSchema.parse(source.data), 'matrix.yaml', repo);
}

/** One line per cell: id, then every axis value with its attributes, then the rendered image. */
function describeCells(cells: Cell[]): string {
  return (
    cells
      .map((cell) => {
        const values = Object.entries(cell.values).map(([axis, v]) => {
          const attrs = Object.entries(v.attrs)
            .map(([k, a]) => `${k}=${a}`)
            .join(',');
          return `${axis}=${v.value}${attrs ? `(${attrs})` : ''}`;
        });
        const image = cell.package.image && render(cell.package.image, cellVars(cell, { date: '2026_11_22', machine: 'm' }));
        return [cell.id, ...values, image && image.ok ? image.value : '(host)'].join('  ');
      })
      .join('\n') + '\n'
  );
}

describe('expandMatrix', () => {
  it('expands the repository matrix in a stable order (golden file)', async () => {
    const config = await loadConfig({ dir: repo });
    await expect(describeCells(config.cells)).toMatchFileSnapshot('../fixtures/golden/pytorch-matrix.cells.txt');
    expect(new Set(config.cells.map((c) => c.id)).size).toBe(config.cells.length);
  });

  it('applies package axes, exclude and include with GitHub Actions semantics (golden file)', async () => {
    const matrix = matrixFrom(`
recipes: { repo: https://example.com/r.git }
axes:
  python: ["3.12", "3.13"]
  cuda: [cpu, { value: cu126, image_tag: cuda12.6 }]
packages:
  wheel:
    image: "img:{cuda.image_tag|cpu}"
    command: [build]
  lib:
    image: "lib:{cuda}-{abi}"
    command: [build]
    axes: { python: [], abi: [new, old] }
  mac:
    executor: host
    command: [build]
    axes: { cuda: [cpu] }
exclude:
  - { package: wheel, python: "3.13", cuda: cpu }
  - { abi: old, cuda: cu126 }
include:
  - { package: wheel, python: "3.13t", cuda: cu126 }
  - { package: wheel, python: "3.13", cuda: cpu }
  - { package: lib, cuda: { value: cu130, image_tag: cuda13.0 }, abi: new }
  - { package: wheel, python: "3.12", cuda: cpu }
`);
    const cells = expandMatrix(matrix);
    await expect(describeCells(cells)).toMatchFileSnapshot('../fixtures/golden/semantics.cells.txt');
    // An include that names an existing cell adds nothing; an excluded cell can be included back.
    expect(cells.filter((c) => c.id === 'wheel_3.12_cpu')).toHaveLength(1);
    expect(cells.map((c) => c.id)).toContain('wheel_3.13_cpu');
    expect(cells.map((c) => c.id)).not.toContain('lib_cu126_old');
    // A value given again by name keeps the attributes of its definition.
    expect(cells.find((c) => c.id === 'wheel_3.13t_cu126')!.values.cuda!.attrs).toEqual({ image_tag: 'cuda12.6' });
  });

  it('is pure: the same matrix gives the same cells', () => {
    const text = `recipes: { repo: r }\naxes: { a: [x, y], b: [p, q] }\npackages: { k: { image: i, command: [c] } }\n`;
    expect(expandMatrix(matrixFrom(text)).map((c) => c.id)).toEqual(['k_x_p', 'k_x_q', 'k_y_p', 'k_y_q']);
    expect(expandMatrix(matrixFrom(text))).toEqual(expandMatrix(matrixFrom(text)));
  });
});
