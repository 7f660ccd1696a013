/**
 * The per-night, per-machine manifest and the per-cell "latest good" pointer — pure. The manifest says
 * exactly what the night produced (every build, not only the successes), so nobody mistakes a missing
 * cell for a good one; a latest pointer only ever names a build whose artifacts are all published.
 */
import type { NightState } from '../night/state.js';

export interface PublishedArtifact {
  file: string;
  key: string;
  size: number;
  sha256: string;
}

export interface ManifestBuild {
  id: string;
  package: string;
  axes: Record<string, string>;
  status: string;
  started_at: string | null;
  finished_at: string | null;
  duration_s: number | null;
  exit_code: number | null;
  reason: string | null;
  /** Key of the build's log at the destination, null when it has none there. */
  log: string | null;
  /** Artifacts published for this build (succeeded builds only). */
  artifacts: PublishedArtifact[];
  /** True when the build succeeded and every artifact of it is at the destination. */
  published: boolean;
}

export interface Manifest {
  version: 1;
  date: string;
  machine: string;
  schedule: string;
  /** When the night's last run ended (null while it runs). The manifest holds no upload time, so the
   * same night uploads to the same bytes and a second upload sends nothing. */
  finished_at: string | null;
  destination: string;
  recipes: { repo: string; ref: string; commit: string } | null;
  builds: ManifestBuild[];
}

export interface BuildPublication {
  log: string | null;
  artifacts: PublishedArtifact[];
  complete: boolean;
}

export function buildManifest(state: NightState, publications: ReadonlyMap<string, BuildPublication>, meta: { destination: string }): Manifest {
  return {
    version: 1,
    date: state.date,
    machine: state.machine,
    schedule: state.schedule,
    finished_at: state.finished_at ?? null,
    destination: meta.destination,
    recipes: state.recipes ?? null,
    builds: state.builds.map((build) => {
      const publication = publications.get(build.id);
      return {
        id: build.id,
        package: build.package,
        axes: build.axes,
        status: build.status,
        started_at: build.started_at ?? null,
        finished_at: build.finished_at ?? null,
        duration_s: build.duration_s ?? null,
        exit_code: build.exit_code ?? null,
        reason: build.reason ?? null,
        log: publication?.log ?? null,
        artifacts: publication?.artifacts ?? [],
        published: build.status === 'succeeded' && (publication?.complete ?? false),
      };
    }),
  };
}

export interface LatestPointer {
  id: string;
  date: string;
  machine: string;
  commit: string | null;
  manifest: string;
  artifacts: PublishedArtifact[];
}

/** A pointer moves forward only: re-uploading an older night never takes "latest" back in time. */
export function pointerMoves(existing: LatestPointer | undefined, date: string): boolean {
  return existing === undefined || existing.date <= date;
}
