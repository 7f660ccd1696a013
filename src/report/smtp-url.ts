/**
 * Where the SMTP URL comes from. It carries the mail password, so it never lives in the schedule
 * (which is committed and copied to every machine): it comes from the environment, or from an env
 * file only root can read, the way systemd `EnvironmentFile=` setups keep secrets.
 */
import { readEnvFileValues } from '../config/env-file.js';
import { ExitCode, NightshiftError } from '../errors.js';

// Where the env file is and how it is read: src/config/env-file.ts (the webhooks' URLs come from it too).
export { DEFAULT_ENV_FILE } from '../config/env-file.js';

export const SMTP_URL_VAR = 'NIGHTSHIFT_SMTP_URL';

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

  const envFile = await readEnvFileValues({ env, envFile: options.envFile });
  const fromFile = envFile?.values[SMTP_URL_VAR]?.trim();
  return envFile && fromFile ? checked({ url: fromFile, source: `${SMTP_URL_VAR} in ${envFile.file}` }) : undefined;
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
