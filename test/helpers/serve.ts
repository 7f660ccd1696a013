/** `nightshift serve` as a real process on a free loopback port: its URL once it listens, its output, its end. */
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';

const CLI = path.resolve(import.meta.dirname, '../../dist/cli.js');

export interface ServeProcess {
  /** `http://127.0.0.1:PORT/`. */
  url: string;
  process: ResultPromise<{ reject: false; env: NodeJS.ProcessEnv; extendEnv: false }>;
  /** Everything it printed so far, stdout and stderr. */
  output(): string;
  /** SIGTERM, then its exit code. */
  stop(): Promise<number | undefined>;
}

/** Starts serve with `args` (after `serve --listen 127.0.0.1:0`) and `env` as its whole environment. */
export async function startServe(args: readonly string[], env: NodeJS.ProcessEnv): Promise<ServeProcess> {
  const child = execa('node', [CLI, 'serve', '--listen', '127.0.0.1:0', ...args], { reject: false, env, extendEnv: false });
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve ${args.join(' ')} did not say where it listens within 30s: ${output}`)), 30_000);
    const take = (chunk: Buffer) => {
      output += chunk.toString();
      const found = /^nightshift serve: listening on (http:\/\/127\.0\.0\.1:\d+\/)$/m.exec(output);
      if (found) {
        clearTimeout(timer);
        resolve(found[1]!);
      }
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    void child.then((result) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${String(result.exitCode)} before listening: ${output}`));
    });
  });
  return {
    url,
    process: child,
    output: () => output,
    async stop() {
      child.kill('SIGTERM');
      return (await child).exitCode;
    },
  };
}
