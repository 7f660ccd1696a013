/**
 * This machine's leftover build containers: left by a runner that was killed (killing the docker client
 * does not stop its container), a failed build's container `build --keep` left for `docker exec`
 * (`nightshift.keep=1`), a debug shell's (`nightshift shell`). Every container removed carries this
 * machine's and this root's nightshift labels, and its night has no live run.
 */
import { execa } from 'execa';
import { removeContainers } from '../build/docker-executor.js';
import { isNightDate } from '../night/night-date.js';
import { nightInUse } from '../night/nights.js';

export interface LeftoverRequest {
  root: string;
  machine: string;
  /** Nights whose containers belong to a live run. */
  keep: ReadonlySet<string>;
  dryRun: boolean;
  docker: string;
  errors: string[];
  notes: string[];
}

/**
 * Containers of this machine's nightshift whose night has no live run: left by a runner that was
 * killed (killing the docker client does not stop its container). Named `name (night N)`.
 */
export async function removeLeftoverContainers(request: LeftoverRequest): Promise<string[]> {
  const { machine, docker, errors } = request;
  // Both labels: another schedule on this machine, with its own root, has its own nights and containers.
  const listed = await execa(
    docker,
    ['ps', '-a', '--filter', `label=nightshift.machine=${machine}`, '--filter', `label=nightshift.root=${request.root}`, '--format', '{{.Names}}\t{{.Label "nightshift.night"}}'],
    {
      reject: false,
      stdin: 'ignore',
    },
  );
  if (listed.exitCode === undefined && listed.code === 'ENOENT') {
    // No Docker on this machine (e.g. a Mac running host builds): there can be no containers to clean.
    request.notes.push(`${docker} not found: no leftover containers to look for`);
    return [];
  }
  if (listed.failed) {
    // The last line says why ("Cannot connect to the Docker daemon ..."); earlier ones are warnings.
    const why = listed.stderr.trim().split('\n').at(-1) || (listed.shortMessage ?? 'it did not say why');
    errors.push(`leftover containers were not checked: docker ps failed: ${why}; start Docker (or fix its permissions) and prune again`);
    return [];
  }
  const byNight = leftoversByNight(listed.stdout, request.keep);
  const removed: string[] = [];
  for (const [night, names] of byNight) {
    // A run may have started on that night since the locks were read: its containers are not leftovers.
    if (await nightInUse(request.root, night)) continue;
    if (!request.dryRun) {
      try {
        // The guarded removal: by nightshift labels, never by a bare list of names.
        await removeContainers({ 'nightshift.machine': machine, 'nightshift.root': request.root, 'nightshift.night': night }, docker);
      } catch (error) {
        errors.push(`could not remove the leftover containers of night ${night} (${names.join(', ')}): ${(error as Error).message}`);
        continue;
      }
    }
    removed.push(...names.map((name) => `${name} (night ${night})`));
  }
  return removed;
}

/**
 * `name<TAB>night` lines to the container names of each night without a live run. A container whose
 * night label is missing or not a date was not made by a nightshift run and is left alone.
 */
export function leftoversByNight(listing: string, keep: ReadonlySet<string>): Map<string, string[]> {
  const byNight = new Map<string, string[]>();
  for (const line of listing.split('\n')) {
    const [name, night] = line.trim().split('\t');
    if (!name || !night || !isNightDate(night) || keep.has(night)) continue;
    byNight.set(night, [...(byNight.get(night) ?? []), name]);
  }
  return byNight;
}
