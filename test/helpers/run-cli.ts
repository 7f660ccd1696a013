/** Runs the CLI in this process with captured output. */
import { main } from '../../src/cli.js';

export interface CliResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export async function runCli(argv: string[]): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const io = {
    out: (text: string) => void (stdout += text.endsWith('\n') ? text : `${text}\n`),
    err: (text: string) => void (stderr += text.endsWith('\n') ? text : `${text}\n`),
    write: (chunk: string | Uint8Array) => {
      stdout += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
      return Promise.resolve();
    },
    isTTY: false,
  };
  const exitCode = await main(argv, io);
  return { exitCode, stdout, stderr };
}
