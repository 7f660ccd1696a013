/** JSON Schemas of matrix.yaml and schedules/*.yaml, for editors (yaml-language-server and the like). */
import * as z from 'zod';
import { matrixSchema, scheduleSchema } from './schema.js';

export const JSON_SCHEMA_FILES = {
  'matrix.schema.json': { schema: matrixSchema, title: 'nightshift matrix.yaml' },
  'schedule.schema.json': { schema: scheduleSchema, title: 'nightshift schedules/*.yaml' },
} as const;

/** The text of each file under schema/; a test fails when the committed files drift from it. */
export function jsonSchemaTexts(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(JSON_SCHEMA_FILES).map(([file, { schema, title }]) => {
      // io: 'input' describes what users write (defaults optional), not what the loader returns.
      const json = { title, ...z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) };
      return [file, `${JSON.stringify(json, null, 2)}\n`];
    }),
  );
}
