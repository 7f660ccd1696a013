/**
 * The per-night, per-machine manifest: its shape, how it is made from night.json (pure), and how it is
 * read back — the only place that parses one. The manifest says exactly what the night produced (every
 * build, not only the successes), so nobody mistakes a missing cell for a good one.
 */
import * as z from 'zod';
import { parseJson, type Parsed } from '../json-format.js';
import type { NightState, QueueOutage } from '../night/state.js';
import type { Destination } from './destination.js';
import { manifestKey, nightPrefix } from './published-layout.js';

export const MANIFEST_VERSION = 1;

export interface PublishedArtifact {
  file: string;
  key: string;
  size: number;
  sha256: string;
  /**
   * Set when the object at `key` is another machine's build of the same cell and night (the cell ended
   * on two machines): this build's own file was not sent, and size and sha256 are of the object there.
   */
  published_by?: string;
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
  /** A build that did not succeed: the first line of its log that says what went wrong (absent in older manifests). */
  first_error?: string;
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
  /** When this machine could not reach the shared queue during the night (absent: never, or no queue). */
  queue_outages?: QueueOutage[];
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
        ...(build.first_error ? { first_error: build.first_error } : {}),
        artifacts: publication?.artifacts ?? [],
        published: build.status === 'succeeded' && (publication?.complete ?? false),
      };
    }),
    ...(state.queue?.outages?.length ? { queue_outages: state.queue.outages } : {}),
  };
}

const nullableString = z.string().nullable();

export const publishedArtifactSchema = z.looseObject({ file: z.string(), key: z.string(), size: z.number(), sha256: z.string(), published_by: z.string().optional() });

// Loose objects: a field a later version adds does not make a manifest unreadable.
const manifestSchema = z.looseObject({
  version: z.literal(MANIFEST_VERSION),
  date: z.string(),
  machine: z.string(),
  schedule: z.string(),
  finished_at: nullableString,
  destination: z.string(),
  recipes: z.looseObject({ repo: z.string(), ref: z.string(), commit: z.string() }).nullable(),
  builds: z.array(
    z.looseObject({
      id: z.string(),
      package: z.string(),
      axes: z.record(z.string(), z.string()),
      status: z.string(),
      started_at: nullableString,
      finished_at: nullableString,
      duration_s: z.number().nullable(),
      exit_code: z.number().nullable(),
      reason: nullableString,
      log: nullableString,
      first_error: z.string().optional(),
      artifacts: z.array(publishedArtifactSchema),
      published: z.boolean(),
    }),
  ),
  queue_outages: z.array(z.looseObject({ from: z.string(), to: z.string().optional() })).optional(),
});

/** A manifest's text, or what is wrong with it. */
export function parseManifest(text: string): Parsed<Manifest> {
  return parseJson(text, manifestSchema, MANIFEST_VERSION);
}

/** What reading a machine's manifest of a night found: nothing, a manifest, or a problem naming the object. */
export type ManifestRead = { key: string; manifest: Manifest | undefined; problem?: undefined } | { key: string; manifest: undefined; problem: string };

/**
 * A machine's manifest of a night at the destination. A destination error is thrown (the caller
 * decides what to fall back to); an object that is not a manifest this version reads is a `problem`.
 */
export async function readManifest(destination: Destination, date: string, machine: string): Promise<ManifestRead> {
  const key = manifestKey(date, machine);
  const body = await destination.getBytes(key);
  if (body === undefined) return { key, manifest: undefined };
  const parsed = parseManifest(body.toString('utf8'));
  return parsed.ok
    ? { key, manifest: parsed.value }
    : { key, manifest: undefined, problem: `${destination.url}${key} is not a manifest this nightshift can read (${parsed.problem}); it is left out` };
}

/** The machines that have a manifest of the night at the destination, sorted. */
export async function manifestMachines(destination: Destination, date: string): Promise<string[]> {
  const prefix = nightPrefix(date);
  return (await destination.list(prefix))
    .filter((key) => key.endsWith('/manifest.json') && key.indexOf('/', prefix.length) === key.length - '/manifest.json'.length)
    .map((key) => key.slice(prefix.length, -'/manifest.json'.length))
    .sort();
}
