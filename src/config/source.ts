/**
 * A YAML file read with positions kept, so that every problem can be reported as `file:line:col`.
 * Syntax errors, tabs and duplicate keys are found here, before the schema sees the data.
 */
import { readFile } from 'node:fs/promises';
import { LineCounter, isMap, isPair, isScalar, isSeq, parseDocument, type Document, type Node } from 'yaml';
import type { ConfigIssue, IssuePath } from './issues.js';

export interface YamlSource {
  /** The file as shown in messages (relative to the working directory when possible). */
  file: string;
  text: string;
  data: unknown;
  document: Document;
  lines: LineCounter;
  /** Problems found while parsing; `data` is unusable when there are any. */
  problems: ConfigIssue[];
}

export async function readYamlSource(absolutePath: string, file: string): Promise<YamlSource> {
  return parseYamlSource(await readFile(absolutePath, 'utf8'), file);
}

export function parseYamlSource(text: string, file: string): YamlSource {
  const lines = new LineCounter();
  const document = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
  const problems: ConfigIssue[] = document.errors.map((error) => {
    const { line, col } = lines.linePos(error.pos[0]);
    return { file, line, col, path: [], message: describeYamlError(error.code, error.message, text, error.pos[0]) };
  });
  const data = problems.length ? undefined : document.toJS({ maxAliasCount: 100 });
  return { file, text, data, document, lines, problems };
}

function describeYamlError(code: string, message: string, text: string, offset: number): string {
  if (text[offset] === '\t' || (code === 'TAB_AS_INDENT' || /tab/i.test(message))) {
    return 'tab character used for indentation; YAML needs spaces';
  }
  if (code === 'DUPLICATE_KEY') {
    const key = /"([^"]*)"/.exec(message)?.[1];
    return `duplicate key${key ? ` "${key}"` : ''}; each key may appear once in a mapping`;
  }
  return `YAML syntax error: ${message.split('\n')[0]}`;
}

/** Where `path` points in the file: the key itself when `at` is 'key', else its value. */
export function locate(source: YamlSource, path: IssuePath, at: 'key' | 'value' = 'value'): { line: number; col: number } {
  let node: unknown = source.document.contents;
  let offset = rangeStart(node) ?? 0;
  for (const [index, step] of path.entries()) {
    const last = index === path.length - 1;
    if (isMap(node)) {
      const pair = node.items.find((item) => isPair(item) && keyText(item.key) === String(step));
      if (!pair) break;
      offset = (last && at === 'key' ? rangeStart(pair.key) : rangeStart(pair.value) ?? rangeStart(pair.key)) ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof step === 'number' && node.items[step] !== undefined) {
      node = node.items[step];
      offset = rangeStart(node) ?? offset;
    } else {
      break;
    }
  }
  return source.lines.linePos(offset);
}

/** The text the user wrote for the value at `path` (e.g. `3.10` where the data says 3.1). */
export function sourceText(source: YamlSource, path: IssuePath): string | undefined {
  const node = source.document.getIn(path, true) as Node | undefined;
  const range = node?.range;
  return range ? source.text.slice(range[0], range[1]).trim() : undefined;
}

function keyText(key: unknown): string | undefined {
  return isScalar(key) ? String(key.value) : undefined;
}

function rangeStart(node: unknown): number | undefined {
  return (node as Node | null | undefined)?.range?.[0];
}
