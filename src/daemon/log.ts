/**
 * The daemon's log: one line per event on stdout, for journald. Text lines start with the time,
 * `2026-11-22T08:05:00.123Z night 2026_11_22 started (12 builds)`; `--log-format json` writes one JSON
 * object per line, `{"time":"...","event":"night.started","date":"2026_11_22","builds":12,"message":"..."}`.
 * A message never spans lines, and credentials in URLs (`scheme://user:secret@host`) are masked here,
 * whatever part of nightshift wrote them.
 */

export type LogFormat = 'text' | 'json';
export const LOG_FORMATS: readonly LogFormat[] = ['text', 'json'];

export type LogFields = Record<string, string | number | boolean | null | undefined>;

export interface DaemonLog {
  /** `event` is a dotted name (night.started); `message` the human sentence; `fields` go into JSON only. */
  event(event: string, message: string, fields?: LogFields): void;
}

/** `https://user:token@host` → `https://***@host`. */
export function maskSecrets(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^\s/@]+@/gi, '$1***@');
}

const oneLine = (text: string) =>
  maskSecrets(text)
    .replace(/\s*\n\s*/g, ' | ')
    .trim();

export function daemonLog(format: LogFormat, write: (line: string) => void, now: () => Date = () => new Date()): DaemonLog {
  return {
    event(event, message, fields = {}) {
      const time = now().toISOString();
      if (format === 'text') {
        write(`${time} ${oneLine(message)}`);
        return;
      }
      const record: Record<string, unknown> = { time, event };
      for (const [key, value] of Object.entries(fields)) if (value !== undefined) record[key] = typeof value === 'string' ? oneLine(value) : value;
      record.message = oneLine(message);
      write(JSON.stringify(record));
    },
  };
}
