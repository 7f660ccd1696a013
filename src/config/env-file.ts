/**
 * The env file secrets live in when they are not in the environment: /etc/nightshift/env (or the file
 * NIGHTSHIFT_ENV_FILE names), readable by root only, NAME=value lines the way systemd's
 * `EnvironmentFile=` reads them. The SMTP URL and the webhook URLs come from here; the schedule, which
 * is committed and copied to every machine, never holds them.
 */
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { ExitCode, NightshiftError } from '../errors.js';

export const ENV_FILE_VAR = 'NIGHTSHIFT_ENV_FILE';
export const DEFAULT_ENV_FILE = '/etc/nightshift/env';

export interface EnvFileOptions {
  /** Where to look for NIGHTSHIFT_ENV_FILE (default process.env). */
  env?: NodeJS.ProcessEnv;
  /**
   * The env file read when NIGHTSHIFT_ENV_FILE is not set, and only if it exists (default
   * /etc/nightshift/env). A file named by NIGHTSHIFT_ENV_FILE, by contrast, must exist.
   */
  envFile?: string;
}

/**
 * The env file's variables and the file they came from; undefined when the default file does not
 * exist. Throws a usage error (exit 2) for a file others could read or change, or a line that is not
 * NAME=value.
 */
export async function readEnvFileValues(options: EnvFileOptions = {}): Promise<{ file: string; values: Record<string, string> } | undefined> {
  const env = options.env ?? process.env;
  const named = env[ENV_FILE_VAR]?.trim();
  const file = named || options.envFile || DEFAULT_ENV_FILE;
  const text = await readEnvFile(file, { mustExist: Boolean(named) });
  return text === undefined ? undefined : { file, values: parseEnvFile(text, file) };
}

/**
 * The file's text, after checking that only its owner (root, when we are root) can read or change
 * it. Checked on the open handle so the file cannot be swapped between the check and the read.
 */
async function readEnvFile(file: string, { mustExist }: { mustExist: boolean }): Promise<string | undefined> {
  let handle;
  try {
    handle = await open(file, constants.O_RDONLY);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !mustExist) return undefined;
    const why =
      code === 'ENOENT'
        ? 'it does not exist'
        : code === 'EACCES'
          ? `permission denied (it should be readable by root only: run nightshift as root, or set the variable in nightshift's environment)`
          : (error as Error).message;
    const namedBy = mustExist ? ` (named by ${ENV_FILE_VAR})` : '';
    throw new NightshiftError(`cannot read the env file ${file}${namedBy}: ${why}.`, ExitCode.usage, { cause: error });
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw new NightshiftError(`the env file ${file} is not a regular file.`, ExitCode.usage);
    // Mode bits and owners mean nothing on Windows; nightshift's machines are Linux and macOS.
    if (process.platform !== 'win32') {
      if (stat.mode & 0o066) {
        throw new NightshiftError(
          `refusing to read ${file}: it holds secrets (the SMTP password, webhook URLs) but is ${describeAccess(stat.mode)} ` +
            `(mode ${(stat.mode & 0o777).toString(8).padStart(3, '0')}). Run: chmod 600 ${file}`,
          ExitCode.usage,
        );
      }
      // As root, a file another user owns is a file that user can rewrite (point the report at
      // their own server) or chmod open again; only root's own file is as safe as root.
      if (process.getuid?.() === 0 && stat.uid !== 0) {
        throw new NightshiftError(
          `refusing to read ${file}: nightshift runs as root but the file is owned by uid ${stat.uid}, who can change it. ` + `Run: chown root:root ${file} && chmod 600 ${file}`,
          ExitCode.usage,
        );
      }
    }
    return await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
}

/** "readable by its group and readable and writable by others", from the mode bits. */
function describeAccess(mode: number): string {
  const by = (read: number, write: number, whom: string) => {
    const how = [mode & read ? 'readable' : '', mode & write ? 'writable' : ''].filter(Boolean).join(' and ');
    return how ? `${how} by ${whom}` : '';
  };
  return [by(0o040, 0o020, 'its group'), by(0o004, 0o002, 'others')].filter(Boolean).join(', ');
}

/**
 * NAME=value lines as systemd's EnvironmentFile and most shells read them: blank lines and `#`
 * comments skipped, an optional `export `, optional matching quotes around the value; the last
 * assignment wins. A malformed line is an error rather than skipped, since skipping it could
 * silently lose a secret; the message gives the line number but never the line (it may hold a
 * password).
 */
export function parseEnvFile(text: string, file: string): Record<string, string> {
  const values: Record<string, string> = {};
  const problems: string[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const match = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!match) {
      problems.push(`${file}:${index + 1}: expected NAME=value`);
      return;
    }
    let value = match[2]!;
    const quote = value[0];
    if ((quote === '"' || quote === "'") && value.length >= 2 && value.endsWith(quote)) value = value.slice(1, -1);
    values[match[1]!] = value;
  });
  if (problems.length > 0) throw new NightshiftError(problems.join('\n'), ExitCode.usage, { plain: true });
  return values;
}
