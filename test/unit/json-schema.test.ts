import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { jsonSchemaTexts } from '../../src/config/json-schema.js';

describe('JSON Schema files for editors', () => {
  it.each(Object.entries(jsonSchemaTexts()))('schema/%s matches the zod schema (run `npm run schema` after changing it)', async (file, text) => {
    const committed = await readFile(new URL(`../../schema/${file}`, import.meta.url), 'utf8');
    expect(committed).toBe(text);
  });

  it('closes every object so editors flag unknown keys', () => {
    const matrix = JSON.parse(jsonSchemaTexts()['matrix.schema.json']!) as { additionalProperties: boolean; properties: Record<string, unknown> };
    expect(matrix.additionalProperties).toBe(false);
    expect(Object.keys(matrix.properties)).toEqual(['recipes', 'axes', 'packages', 'env', 'exclude', 'include']);
  });
});
