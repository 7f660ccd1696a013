/** Manifests of made-up nights for report tests: each planned build of a machine with the status its story gives it that night. */
import type { Manifest, ManifestBuild } from '../../src/store/manifest.js';

export interface PlannedBuild {
  id: string;
  package: string;
  machine: string;
}

/** `story[id][night]` is the build's status that night (default succeeded); a failure exits 2, a timeout has no exit code. */
export function storyManifest(options: {
  date: string;
  night: number;
  machine: string;
  plan: readonly PlannedBuild[];
  story: Record<string, string[]>;
  destination: string;
}): Manifest {
  const { date, night, machine } = options;
  const builds = options.plan
    .filter((b) => b.machine === machine)
    .map((b): ManifestBuild => {
      const status = options.story[b.id]?.[night] ?? 'succeeded';
      const failed = status !== 'succeeded';
      return {
        id: b.id,
        package: b.package,
        axes: {},
        status,
        started_at: `${date.replaceAll('_', '-')}T08:05:00.000Z`,
        finished_at: `${date.replaceAll('_', '-')}T09:05:00.000Z`,
        duration_s: 3600,
        exit_code: status === 'timed_out' ? null : failed ? 2 : 0,
        reason: status === 'timed_out' ? 'timed out after 3h and was killed' : failed ? 'exit code 2' : null,
        log: `nightshift/nights/${date}/${machine}/logs/${b.id}.log`,
        artifacts: [],
        published: !failed,
      };
    });
  return { version: 1, date, machine, schedule: 'nightly', finished_at: null, destination: options.destination, recipes: { repo: 'r', ref: 'main', commit: 'c0ffee' }, builds };
}
