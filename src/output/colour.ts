/**
 * Whether output is coloured, decided in one place, and the colours themselves. Colour is for a person
 * at a terminal: on when stdout is a terminal, off with NO_COLOR (https://no-color.org), with TERM=dumb,
 * under cron and systemd and in a pipe (not a terminal); FORCE_COLOR turns it on anyway. `--json`,
 * logs, night.json and reports never get colour: their Io has none.
 */

/** Whether a stream should get colour, from whether it is a terminal and the environment. */
export function colourWanted(options: { isTTY: boolean; env: NodeJS.ProcessEnv }): boolean {
  const { env } = options;
  // no-color.org: set and not empty means no colour, whatever else is set.
  if (env.NO_COLOR) return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0' && env.FORCE_COLOR !== 'false') return true;
  return options.isTTY && env.TERM !== 'dumb';
}

const SGR: Record<string, string> = {
  bold: '1',
  dim: '2',
  red: '31',
  green: '32',
  yellow: '33',
  blue: '34',
  magenta: '35',
  cyan: '36',
};

/** A status's colour on a terminal; the same meaning as the report's (a timeout apart from a failure). */
const STATUS_SGR: Record<string, string> = {
  succeeded: SGR.green!,
  failed: `${SGR.bold!};${SGR.red!}`,
  timed_out: SGR.magenta!,
  canceled: SGR.yellow!,
  not_run: SGR.yellow!,
  running: SGR.cyan!,
  start: SGR.cyan!,
  pending: SGR.dim!,
  skipped: SGR.dim!,
};

export interface Colours {
  /** `word` in the colour of `status` (the word itself when it is the status: `status('failed')`). */
  status(word: string, status?: string): string;
  bold(text: string): string;
  dim(text: string): string;
}

const paint = (code: string | undefined, text: string) => (code && text ? `\x1b[${code}m${text}\x1b[0m` : text);

/** The colours for an output: plain text unless it says it takes colour (`colour: true`). */
export function colours(output: { colour?: boolean }): Colours {
  if (!output.colour) return { status: (word) => word, bold: (text) => text, dim: (text) => text };
  return {
    status: (word, status = word) => paint(STATUS_SGR[status], word),
    bold: (text) => paint(SGR.bold, text),
    dim: (text) => paint(SGR.dim, text),
  };
}

/** How many columns `text` takes on a terminal: its length without colour escapes. */
export function visibleLength(text: string): number {
  // eslint-disable-next-line no-control-regex -- matching the escapes is the point
  return text.replace(/\x1b\[[0-9;]*m/g, '').length;
}

/** `text` cut to `width` visible columns, colour escapes kept whole (and closed when cut). */
export function fitWidth(text: string, width: number): string {
  if (visibleLength(text) <= width) return text;
  let out = '';
  let seen = 0;
  // eslint-disable-next-line no-control-regex -- matching the escapes is the point
  for (const part of text.split(/(\x1b\[[0-9;]*m)/)) {
    const room = width - 1 - seen;
    if (room <= 0) break;
    if (part.startsWith('\x1b[')) out += part;
    else {
      out += part.slice(0, room);
      seen += Math.min(part.length, room);
    }
  }
  return `${out}…${text.includes('\x1b[') ? '\x1b[0m' : ''}`;
}
