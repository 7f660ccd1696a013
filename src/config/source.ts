/**
 * A YAML file read with positions kept, so that every problem can be reported as `file:line:col`.
 * Syntax errors, tabs and duplicate keys are found here, before the schema sees the data.
 */
import { readFile } from 'node:fs/promises';
import { LineCounter, isMap, isPair, isScalar, isSeq, parseDocument, visit, type Document, type Node } from 'yaml';
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
  const problems: ConfigIssue[] = [];
  if (document.errors.length) {
    // A tab in the indentation throws the parser off for the rest of the file: report the tabs, and
    // only the syntax errors before the first of them (the later ones are mostly its echoes).
    const tabs = tabIndentedLines(text);
    const firstTabLine = tabs[0]?.line ?? Infinity;
    problems.push(...tabs.map(({ line, col }) => ({ file, line, col, path: [], message: 'tab character used for indentation; YAML needs spaces' })));
    const seenLines = new Set<number>();
    for (const error of document.errors) {
      const problem = describeYamlError(error.code, error.message, error.pos[0], { text, document, lines });
      const { line, col } = lines.linePos(problem.offset);
      // One syntax error per line: the parser often reports a second one that follows from the first.
      if (line >= firstTabLine || seenLines.has(line)) continue;
      seenLines.add(line);
      problems.push({ file, line, col, path: [], message: problem.message });
    }
  }
  const data = problems.length ? undefined : toData(document, { file, lines, problems });
  return { file, text, data, document, lines, problems };
}

/** How often aliases may be expanded in one file: enough for any real config, too few for a "billion laughs". */
const MAX_ALIAS_COUNT = 100;

/** The document as plain data; aliases nested to expand into a huge value are a problem at the first alias. */
function toData(document: Document, { file, lines, problems }: { file: string; lines: LineCounter; problems: ConfigIssue[] }): unknown {
  try {
    return document.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (error) {
    if (!(error instanceof ReferenceError) || !/alias/i.test(error.message)) throw error;
    let offset = 0;
    visit(document, {
      Alias(_, alias) {
        offset = rangeStart(alias) ?? 0;
        return visit.BREAK;
      },
    });
    const { line, col } = lines.linePos(offset);
    problems.push({
      file,
      line,
      col,
      path: [],
      message: `aliases (*name) here expand into more than ${MAX_ALIAS_COUNT} copies, which nightshift refuses as a resource exhaustion attack; write the values out or use fewer nested aliases`,
    });
    return undefined;
  }
}

/** Lines whose indentation holds a tab, with the tab's position. */
function tabIndentedLines(text: string): { line: number; col: number }[] {
  return text.split('\n').flatMap((content, i) => {
    const indent = /^[ \t]*/.exec(content)![0];
    const tab = indent.indexOf('\t');
    // A line of only whitespace says nothing; a tab there is harmless.
    return tab >= 0 && indent.length < content.trimEnd().length ? [{ line: i + 1, col: tab + 1 }] : [];
  });
}

function describeYamlError(
  code: string,
  message: string,
  offset: number,
  { text, document, lines }: { text: string; document: Document; lines: LineCounter },
): { offset: number; message: string } {
  if (text[offset] === '\t' || code === 'TAB_AS_INDENT' || /tab/i.test(message)) {
    return { offset, message: 'tab character used for indentation; YAML needs spaces' };
  }
  if (code === 'DUPLICATE_KEY') return { offset, message: duplicateKeyMessage(document, lines, offset) };
  if (code === 'BAD_ALIAS' && text[offset] === '*') {
    // `cron: * 0 * * *` — a plain value cannot start with *, YAML reads it as an alias.
    return { offset, message: 'a value starting with "*" is read by YAML as an alias; put the value in quotes, like cron: "* 0 * * *"' };
  }
  // The parser notices an unclosed [, { or quote only where the next line starts: point at the opening.
  const opener = code === 'BAD_INDENT' || code === 'MISSING_CHAR' ? unclosedOpener(text, offset) : undefined;
  if (opener?.char === '[' || opener?.char === '{') {
    const closer = opener.char === '[' ? ']' : '}';
    return {
      offset: opener.offset,
      message: `${opener.char} is never closed: add the closing ${closer} (a list or mapping in brackets that spans lines must indent its continuation lines)`,
    };
  }
  if (opener) return { offset: opener.offset, message: `the quote ${opener.char} is never closed: add the closing ${opener.char} at the end of the value` };
  const lineEnd = text.indexOf('\n', offset);
  const line = text.slice(text.lastIndexOf('\n', offset - 1) + 1, lineEnd < 0 ? text.length : lineEnd);
  if (code === 'BLOCK_AS_IMPLICIT_KEY' && /^\s*(?:- )?[^\s:#][^:#]*:\s+[^\s"'[{].*:(?:\s|$)/.test(line)) {
    // `timeout: 3h: x` — YAML reads the second ": " as a mapping inside the value.
    return { offset, message: 'a value containing ": " must be in quotes, like key: "a: b"' };
  }
  return { offset, message: `YAML syntax error: ${message.split('\n')[0]!}` };
}

/** `duplicate key "timeout" (first on line 13)`, naming the key at `offset` and its first occurrence. */
function duplicateKeyMessage(document: Document, lines: LineCounter, offset: number): string {
  let found: { key: string; first?: number } | undefined;
  visit(document, {
    Map(_, map) {
      const pair = map.items.find((item) => rangeStart(item.key) === offset);
      if (!pair) return undefined;
      const key = keyText(pair.key);
      const first = map.items.find((item) => keyText(item.key) === key && item !== pair);
      found = { key: key ?? '', first: rangeStart(first?.key) };
      return visit.BREAK;
    },
  });
  if (!found) return 'duplicate key; each key may appear once in a mapping';
  const firstLine = found.first === undefined ? undefined : lines.linePos(found.first).line;
  return `duplicate key "${found.key}"${firstLine ? ` (first on line ${firstLine})` : ''}; each key may appear once in a mapping: merge the two or remove one`;
}

/**
 * The `[`, `{` or quote still open at `offset`, by a scan that knows quotes and comments. A quote only
 * opens a value at its start (after `: `, `- `, `[`, `{`, `,` or the indentation), so `don't` is text.
 */
function unclosedOpener(text: string, offset: number): { char: string; offset: number } | undefined {
  const open: { char: string; offset: number }[] = [];
  let quote: { char: string; offset: number } | undefined;
  for (let i = 0; i < offset && i < text.length; i++) {
    const char = text[i]!;
    if (quote) {
      if (char === quote.char && quote.char === "'" && text[i + 1] === "'") i++;
      else if (char === '\\' && quote.char === '"') i++;
      else if (char === quote.char) quote = undefined;
      continue;
    }
    const before = /[^ \t]?(?=[ \t]*$)/.exec(text.slice(text.lastIndexOf('\n', i - 1) + 1, i))?.[0] ?? '';
    if (char === '#' && (i === 0 || /\s/.test(text[i - 1]!))) {
      const end = text.indexOf('\n', i);
      i = end < 0 ? text.length : end - 1;
    } else if ((char === '"' || char === "'") && (before === '' || ':-[{,'.includes(before))) {
      quote = { char, offset: i };
    } else if (char === '[' || char === '{') {
      open.push({ char, offset: i });
    } else if (char === ']' || char === '}') {
      open.pop();
    }
  }
  return quote ?? open.at(-1);
}

/**
 * Where `path` points in the file: the key itself when `at` is 'key', else its value. A key that is not
 * in the file (a missing required key) is placed at the key of the mapping that lacks it.
 */
export function locate(source: YamlSource, path: IssuePath, at: 'key' | 'value' = 'value'): { line: number; col: number } {
  let node: unknown = source.document.contents;
  let offset = rangeStart(node) ?? 0;
  let parentKey: number | undefined;
  for (const [index, step] of path.entries()) {
    const last = index === path.length - 1;
    if (isMap(node)) {
      const pair = node.items.find((item) => isPair(item) && keyText(item.key) === String(step));
      if (!pair) {
        if (last && at === 'key' && parentKey !== undefined) offset = parentKey;
        break;
      }
      offset = (last && at === 'key' ? rangeStart(pair.key) : (rangeStart(pair.value) ?? rangeStart(pair.key))) ?? offset;
      parentKey = rangeStart(pair.key);
      node = pair.value;
    } else if (isSeq(node) && typeof step === 'number' && node.items[step] !== undefined) {
      node = node.items[step];
      offset = rangeStart(node) ?? offset;
      parentKey = offset;
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
