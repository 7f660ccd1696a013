/** `nightshift serve`: the night, live, in a browser, until SIGINT or SIGTERM. See src/server/. */
import { loadSchedule, machineName, type GlobalOptions } from '../context.js';
import type { Io } from '../output/io.js';
import { ExitCode, NightshiftError } from '../errors.js';
import { DEFAULT_ENV_FILE } from '../config/env-file.js';
import { stopOnSignals } from '../runner/signals.js';
import { DEFAULT_LISTEN, parseListen } from '../server/listen.js';
import { startServer } from '../server/server.js';
import { resolveServeToken, SERVE_TOKEN_VAR } from '../server/token.js';

export interface ServeOptions extends GlobalOptions {
  listen?: string;
  token?: string;
}

export async function serve(options: ServeOptions, io: Io): Promise<number> {
  const { schedule } = await loadSchedule(options);
  const listen = parseListen(options.listen ?? DEFAULT_LISTEN);
  const token = await resolveServeToken({ given: options.token });
  if (!listen.loopback && token === undefined) {
    throw new NightshiftError(
      `--listen ${options.listen ?? DEFAULT_LISTEN} lets other machines in, and no token is set: anyone who reaches this port would see every build and log. ` +
        `Set ${SERVE_TOKEN_VAR} (in the environment or in ${DEFAULT_ENV_FILE}) to a long random value, or listen on 127.0.0.1 only`,
      ExitCode.usage,
    );
  }
  const stop = stopOnSignals();
  try {
    const server = await startServer({ schedule, machine: machineName(options), host: listen.host, port: listen.port, token }).catch((error: unknown) => {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
        throw new NightshiftError(`cannot listen on ${listen.host}:${listen.port} (${code}): choose another --listen address or port`, ExitCode.usage, { cause: error });
      }
      throw error;
    });
    io.out(`nightshift serve: listening on ${server.url}`);
    if (!stop.signal.aborted) await new Promise((resolve) => stop.signal.addEventListener('abort', resolve, { once: true }));
    await server.close();
    return ExitCode.ok;
  } finally {
    stop.dispose();
  }
}
