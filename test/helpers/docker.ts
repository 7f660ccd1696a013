// Helpers for Docker integration tests.
//
// Tests that need Docker await `dockerAvailable()` (memoized) in `beforeEach`: when the engine
// or the test image is missing every test FAILS with a hint; none is skipped (a failing
// `beforeAll` would only report them as skipped).
import { execa, type Options } from 'execa';

/** The local test image, built by scripts/make-test-image.sh (never pulled). */
export const TEST_IMAGE = 'nightshift-test/busybox:latest';

const HINT = 'run `bash scripts/ensure-docker.sh && bash scripts/make-test-image.sh` (as root on Debian it installs and starts Docker)';

export interface DockerResult {
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
  failed: boolean;
}

/** Runs `docker <args>` without throwing on a non-zero exit; stdout/stderr are strings. */
export async function docker(args: readonly string[], options: Pick<Options, 'timeout' | 'cancelSignal'> = {}): Promise<DockerResult> {
  const r = await execa('docker', args, { reject: false, stdin: 'ignore', ...options });
  return {
    exitCode: r.exitCode,
    stdout: r.stdout,
    stderr: r.stderr,
    failed: r.failed,
  };
}

function describeFailure(r: DockerResult): string {
  const text = (r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ');
  return text || `exit code ${String(r.exitCode)}`;
}

/** Throws a clear Error unless the Docker engine answers and TEST_IMAGE exists. */
export async function dockerAvailable(): Promise<void> {
  const info = await docker(['info', '--format', '{{.ServerVersion}}'], { timeout: 30_000 });
  if (info.failed) {
    throw new Error(`Docker engine is not usable (docker info: ${describeFailure(info)}); ${HINT}`);
  }
  const image = await docker(['image', 'inspect', '--format', '{{.Id}}', TEST_IMAGE], { timeout: 30_000 });
  if (image.failed) {
    throw new Error(`Docker test image ${TEST_IMAGE} is missing (${describeFailure(image)}); ${HINT}`);
  }
}

function labelFilter(label: string): string {
  if (label.trim() === '') {
    // An empty filter would match every container on the host.
    throw new Error('a non-empty label (key or key=value) is required');
  }
  return `label=${label}`;
}

async function listWithLabel(label: string, format: string): Promise<string[]> {
  const r = await docker(['ps', '-a', '--filter', labelFilter(label), '--format', format]);
  if (r.failed) throw new Error(`docker ps failed: ${describeFailure(r)}`);
  return r.stdout
    .split('\n')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** Names of all containers (running or not) carrying `label` (`key` or `key=value`). */
export async function containersWithLabel(label: string): Promise<string[]> {
  return listWithLabel(label, '{{.Names}}');
}

/** Force-removes every container carrying `label` (and only those); returns their names. */
export async function removeContainersWithLabel(label: string): Promise<string[]> {
  const names = await containersWithLabel(label);
  if (names.length === 0) return [];
  const r = await docker(['rm', '-f', ...names]);
  // A container may vanish by itself meanwhile (--rm); only complain if some remain.
  if (r.failed && (await containersWithLabel(label)).length > 0) {
    throw new Error(`docker rm -f failed: ${describeFailure(r)}`);
  }
  return names;
}
