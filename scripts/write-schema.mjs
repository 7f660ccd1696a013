// Regenerates schema/*.json from the zod schemas (run `npm run build` first; `npm run schema` does both).
import { writeFile } from 'node:fs/promises';
import { jsonSchemaTexts } from '../dist/config/json-schema.js';

for (const [file, text] of Object.entries(jsonSchemaTexts())) {
  await writeFile(new URL(`../schema/${file}`, import.meta.url), text);
  console.log(`wrote schema/${file}`);
}
