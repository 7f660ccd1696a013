/**
 * The token that guards the live page when it listens beyond this machine. It comes from
 * NIGHTSHIFT_SERVE_TOKEN (the environment, else the root-only env file, as the other secrets do) or from
 * --token, which every user of the machine can read in `ps`: the variable is the better place.
 */
import { readEnvFileValues } from '../config/env-file.js';
import { ExitCode, NightshiftError } from '../errors.js';

export const SERVE_TOKEN_VAR = 'NIGHTSHIFT_SERVE_TOKEN';

export interface ResolveTokenOptions {
  /** --token, when given. */
  given?: string;
  env?: NodeJS.ProcessEnv;
  /** The env file read when neither --token nor the variable is set (default /etc/nightshift/env). */
  envFile?: string;
}

/** The token, or undefined when none is set anywhere. An empty one is a usage error: it would guard nothing. */
export async function resolveServeToken(options: ResolveTokenOptions = {}): Promise<string | undefined> {
  const env = options.env ?? process.env;
  if (options.given !== undefined) return checked(options.given, '--token');
  const fromEnv = env[SERVE_TOKEN_VAR];
  if (fromEnv !== undefined && fromEnv.trim() !== '') return checked(fromEnv, SERVE_TOKEN_VAR);
  const file = await readEnvFileValues({ env, envFile: options.envFile });
  const fromFile = file?.values[SERVE_TOKEN_VAR];
  return file && fromFile !== undefined ? checked(fromFile, `${SERVE_TOKEN_VAR} in ${file.file}`) : undefined;
}

/** Never shows the token: only where it came from and what is wrong with it. */
function checked(token: string, source: string): string {
  const trimmed = token.trim();
  if (trimmed.length < 8) {
    throw new NightshiftError(
      `the token from ${source} is ${trimmed ? 'shorter than 8 characters' : 'empty'}: choose a long random one, e.g. openssl rand -hex 24`,
      ExitCode.usage,
    );
  }
  return trimmed;
}
