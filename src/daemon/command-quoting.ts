/**
 * Command lines as the files `nightshift install` writes must hold them: one word of a systemd
 * ExecStart=, one word for /bin/sh, and a shell command inside a crontab line (where `%` means a
 * newline). Values with control characters are refused: a newline would end the setting or the line.
 */
import { ExitCode, NightshiftError } from '../errors.js';

/** Refuses a value holding a control character or newline; `label` names it in the message. */
export function checkText(label: string, value: string): void {
  // A newline would end the unit setting or the crontab line and start another one.
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(value)) throw new NightshiftError(`${label} holds a control character or newline: ${JSON.stringify(value)}`, ExitCode.usage);
}

/** One word of ExecStart=, quoted as systemd reads command lines (specifiers and $VARIABLES kept literal). */
export function systemdArg(arg: string): string {
  checkText('a command argument', arg);
  const literal = arg.replace(/%/g, '%%').replace(/\$/g, '$$$$');
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(literal)) return literal;
  return `"${literal.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** A word for /bin/sh: bare when safe, else in single quotes. */
export function shellArg(arg: string): string {
  checkText('a command argument', arg);
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/**
 * A shell command as a crontab line must hold it: cron turns an unescaped `%` into a newline (and
 * feeds the rest to the command's stdin), and reads `\%` and `\\` as `%` and `\`.
 */
export function cronEscape(command: string): string {
  return command.replace(/[\\%]/g, (c) => `\\${c}`);
}

/** What cron does to a command before running it (the inverse of cronEscape), per Vixie cron's do_command.c. */
export function cronUnescape(command: string): { command: string; stdin?: string } {
  let out = '';
  for (let i = 0; i < command.length; i++) {
    const c = command[i]!;
    if (c === '\\' && (command[i + 1] === '%' || command[i + 1] === '\\')) {
      out += command[++i]!;
    } else if (c === '%') {
      return { command: out, stdin: command.slice(i + 1).replace(/%/g, '\n') };
    } else out += c;
  }
  return { command: out };
}
