/**
 * A real S3-protocol server for tests: s3rver in a child process (so tests can stop and restart it
 * like an outage, and its event loop never competes with the code under test), on 127.0.0.1, with
 * its data in a temporary folder.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** s3rver's built-in account (lib/models/account.js); set these in process.env before using the SDK. */
export const s3Env = {
  AWS_ACCESS_KEY_ID: 'S3RVER',
  AWS_SECRET_ACCESS_KEY: 'S3RVER',
  AWS_REGION: 'us-east-1',
  // The SDK warns once per process that it will drop Node 20 in 2027; noise in test output.
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
} as const;

export interface S3rver {
  /** http://127.0.0.1:<port> */
  endpoint: string;
  bucket: string;
  /** s3rver's data folder (objects live under <dir>/<bucket>/). */
  dir: string;
  /** Stops the server (SIGTERM), keeping its data; a no-op when stopped. */
  stop(): Promise<void>;
  /** Starts it again on the same port with the same data; a no-op when running. */
  start(): Promise<void>;
  /** Stops it and removes its data folder. (Also done when the test process exits.) */
  close(): Promise<void>;
}

const bin = path.join(path.dirname(createRequire(import.meta.url).resolve('s3rver/package.json')), 'bin', 's3rver.js');

export async function startS3rver(options: { bucket?: string } = {}): Promise<S3rver> {
  const bucket = options.bucket ?? 'nightshift-test';
  const dir = mkdtempSync(path.join(tmpdir(), 'nightshift-s3rver-'));
  let child: ChildProcess | undefined;
  let port = 0; // the first start lets the OS choose a free port; restarts reuse it

  // Whatever the tests do, no server outlives the test process and no data folder stays behind.
  const onExit = () => {
    child?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', onExit);

  const start = async () => {
    if (child) return;
    // --openssl-legacy-provider: s3rver encrypts ListObjectsV2 continuation tokens with DES, which
    // OpenSSL 3 only offers from its legacy provider; without it the second page of a listing fails.
    const proc = spawn(
      process.execPath,
      ['--openssl-legacy-provider', bin, '--directory', dir, '--address', '127.0.0.1', '--port', String(port), '--configure-bucket', bucket, '--silent'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child = proc;
    let output = '';
    proc.stderr.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000)));
    // --silent mutes the request log, not the "S3rver listening on 127.0.0.1:<port>" line.
    const listening = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`s3rver did not start within 15 s: ${output}`)), 15_000);
      proc.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        const match = /listening on [^\s:]+:(\d+)/.exec(output);
        if (match) {
          clearTimeout(timer);
          resolve(Number(match[1]));
        }
      });
      proc.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`s3rver exited at start (${String(signal ?? code)}): ${output}`));
      });
    }).catch((error: unknown) => {
      child = undefined;
      proc.kill('SIGKILL');
      throw error;
    });
    proc.stdout.resume();
    port = listening;
    await waitForConnection(port);
  };

  const stop = async () => {
    const proc = child;
    if (!proc) return;
    child = undefined;
    if (proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise((resolve) => proc.once('exit', resolve));
      proc.kill('SIGTERM');
      await exited;
    }
  };

  await start();
  return {
    endpoint: `http://127.0.0.1:${port}`,
    bucket,
    dir,
    stop,
    start,
    async close() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
      process.removeListener('exit', onExit);
    },
  };
}

/** Resolves once a TCP connection to 127.0.0.1:port succeeds (the server's accept loop is running). */
async function waitForConnection(port: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`s3rver on port ${port} does not accept connections`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
