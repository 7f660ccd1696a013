import { describe, expect, it } from 'vitest';
import { render, templateRefs } from '../../src/matrix/template.js';

const cuda = { value: 'cu126', attrs: { version: '12.6', image_tag: 'cuda12.6' } };
const cpu = { value: 'cpu', attrs: {} };

describe('templates', () => {
  it.each([
    ['img:{cuda.image_tag|cpu}', { cuda }, 'img:cuda12.6'],
    ['img:{cuda.image_tag|cpu}', { cuda: cpu }, 'img:cpu'],
    ['{package}-{python}-{cuda}', { package: 'manywheel', python: { value: '3.12', attrs: {} }, cuda }, 'manywheel-3.12-cu126'],
    ['{cuda.version}', { cuda }, '12.6'],
    ['{missing|fallback}', {}, 'fallback'],
    ['no refs', {}, 'no refs'],
  ])('renders %s', (template, vars, expected) => {
    expect(render(template, vars)).toEqual({ ok: true, value: expected });
  });

  it('reports the first reference it cannot fill', () => {
    expect(render('{cuda.image_tag}', { cuda: cpu })).toMatchObject({ ok: false, reason: 'no-attribute', ref: { text: '{cuda.image_tag}' } });
    expect(render('{pyton}', {})).toMatchObject({ ok: false, reason: 'unknown', ref: { name: 'pyton' } });
  });

  it('lists references with attribute and fallback', () => {
    expect(templateRefs('a{x}b{y.z|w}')).toEqual([
      { text: '{x}', name: 'x', attr: undefined, fallback: undefined },
      { text: '{y.z|w}', name: 'y', attr: 'z', fallback: 'w' },
    ]);
  });
});
