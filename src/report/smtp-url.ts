/**
 * Where the SMTP URL comes from. It carries the mail password, so it never lives in the schedule
 * (which is committed and copied to every machine): it comes from the environment, or from an env
 * file only root can read, the way systemd `EnvironmentFile=` setups keep secrets.
 */
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { ExitCode, NightshiftError } from '../errors.js';

export const SMTP_URL_VAR = 'NIGHTSHIFT_SMTP_URL';
export const ENV_FILE_VAR = 'NIGHTSHIFT_ENV_FILE';
export const DEFAULT_ENV_FILE = '/etc/nightshift/env';

export interface ResolveSmtpUrlOptions {
  /** Where to look for NIGHTSHIFT_SMTP_URL and NIGHTSHIFT_ENV_FILE (default process.env). */
  env?: NodeJS.ProcessEnv;
  /**
   * The env file read when neither variable is set, and only if it exists (default
   * /etc/nightshift/env). A file named by NIGHTSHIFT_ENV_FILE, by contrast, must exist.
   */
  envFile?: string;
}

export interface ResolvedSmtpUrl {
  url: string;
  /** Where it came from, for messages: `NIGHTSHIFT_SMTP_URL` or `NIGHTSHIFT_SMTP_URL in <file>`. */
  source: string;
}

/**
 * The SMTP URL: NIGHTSHIFT_SMTP_URL from the environment first, else from the env file; undefined
 * when neither has one. Throws a usage error (exit 2) for an env file others could read or change,
 * a line that is not NAME=value, or a value that is not an smtp:// or smtps:// URL.
 */
export async function resolveSmtpUrl(options: ResolveSmtpUrlOptions = {}): Promise<ResolvedSmtpUrl | undefined> {
  const env = options.env ?? process.env;
  const fromEnv = env[SMTP_URL_VAR]?.trim();
  if (fromEnv) return checked({ url: fromEnv, source: SMTP_URL_VAR });

  const named = env[ENV_FILE_VAR]?.trim();
  const file = named || options.envFile || DEFAULT_ENV_FILE;
  const text = await readEnvFile(file, { mustExist: Boolean(named) });
  if (text === undefined) return undefined;
  const fromFile = parseEnvFile(text, file)[SMTP_URL_VAR]?.trim();
  return fromFile ? checked({ url: fromFile, source: `${SMTP_URL_VAR} in ${file}` }) : undefined;
}

/**
 * The URL with its password replaced by `***`, for messages and logs. Works on text that is not a
 * valid URL too (it is what error messages about a bad URL show).
 */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) {
      parsed.password = '***';
      return parsed.href;
    }
    // A valid URL without a password: still return the input, not href (which may add a '/').
    if (!url.includes('@')) return url;
  } catch {
    // fall through to the textual redaction
  }
  // Everything between "user:" and the last '@' of the authority, as WHATWG URL parsing reads it
  // (an unencoded '@' in a password belongs to the password).
  return url.replace(/^([^:/]+:\/\/[^:/@]*:)[^/]*@/, '$1***@');
}

function checked(resolved: ResolvedSmtpUrl): ResolvedSmtpUrl {
  let protocol: string | undefined;
  try {
    protocol = new URL(resolved.url).protocol;
  } catch {
    // reported below
  }
  if (protocol !== 'smtp:' && protocol !== 'smtps:') {
    throw new NightshiftError(
      `${resolved.source} is not an SMTP URL: ${redactUrl(resolved.url)}. ` +
        'Expected smtp://user:password@host:port (STARTTLS when the server offers it) or smtps://... (TLS from the start); ' +
        'percent-encode special characters in the user and password.',
      ExitCode.usage,
    );
  }
  return resolved;
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
          ? `permission denied (it should be readable by root only: run nightshift as root, or set ${SMTP_URL_VAR})`
          : (error as Error).message;
    const named = mustExist ? ` (named by ${ENV_FILE_VAR})` : '';
    throw new NightshiftError(`cannot read the env file ${file}${named}: ${why}.`, ExitCode.usage, { cause: error });
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw new NightshiftError(`the env file ${file} is not a regular file.`, ExitCode.usage);
    // Mode bits and owners mean nothing on Windows; nightshift's machines are Linux and macOS.
    if (process.platform !== 'win32') {
      if (stat.mode & 0o066) {
        throw new NightshiftError(
          `refusing to read ${file}: it holds the SMTP password but is ${describeAccess(stat.mode)} ` +
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
 * silently lose the URL; the message gives the line number but never the line (it may hold the
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
