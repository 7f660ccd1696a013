/**
 * Publishing a night: the artifacts of succeeded builds, every finished build's log, then the
 * manifest, then the latest pointers — in that order, so a manifest or pointer never names an object
 * that is not there yet. An object already at the destination with the same sha256 is skipped, so a
 * second upload of the same night sends nothing new. A file that fails is recorded; the rest still go.
 */
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import path from 'node:path';
import PQueue from 'p-queue';
import type { TemplateVars } from '../matrix/template.js';
import { FINISHED_STATUSES, artifactDir, type NightLayout } from '../night/layout.js';
import type { BuildRecord, NightState, UploadRecord } from '../night/state.js';
import { sha256File } from '../files.js';
import type { Destination } from './destination.js';
import { buildManifest, pointerMoves, type BuildPublication, type LatestPointer, type PublishedArtifact } from './manifest.js';
import { artifactKey, latestKey, logKey, manifestKey, type PublishedLayout } from './published-layout.js';

export interface PublishRequest {
  night: NightLayout;
  state: NightState;
  published: PublishedLayout;
  /** Artifact key template (`upload.key`). */
  keyTemplate: string;
  /** Template variables of a build (its axes with attributes where the matrix knows them). */
  varsFor: (build: BuildRecord) => TemplateVars;
  destination: Destination;
  /** Uploads at once. */
  concurrency?: number;
  /** Move the latest pointers (default true; never for manual builds). */
  latest?: boolean;
  now?: () => Date;
}

export interface PublishOutcome extends UploadRecord {
  /** Ids whose latest pointer now names this night. */
  latest: string[];
  /** Why this machine's build history could not be shared (uploadNight), for a warning; not kept in night.json. */
  historyWarning?: string;
}

type Sent = 'uploaded' | 'skipped';

export async function publishNight(request: PublishRequest): Promise<PublishOutcome> {
  const { state, destination, night } = request;
  const now = request.now ?? (() => new Date());
  const startedAt = now();
  const queue = new PQueue({ concurrency: request.concurrency ?? 4 });
  const counts = { uploaded: 0, skipped: 0 };
  const failed: UploadRecord['failed'] = [];

  /** One object: skipped when the destination already has it with the same sha256 (`sha256()` is called only then). */
  const send = (key: string, sha256: string | (() => Promise<string>), put: () => Promise<void>): Promise<boolean> =>
    queue.add(async () => {
      try {
        const existing = await destination.head(key);
        const same = existing?.sha256 !== undefined && existing.sha256 === (typeof sha256 === 'string' ? sha256 : await sha256());
        const outcome: Sent = same ? 'skipped' : (await put(), 'uploaded');
        counts[outcome] += 1;
        return true;
      } catch (error) {
        failed.push({ key, error: (error as Error).message });
        return false;
      }
    }) as Promise<boolean>;

  const publications = new Map<string, BuildPublication>();
  await Promise.all(
    state.builds.map(async (build) => {
      const artifacts: PublishedArtifact[] =
        build.status === 'succeeded'
          ? (build.artifacts ?? []).map((a) => ({ ...a, key: artifactKey(request.published, request.keyTemplate, { ...request.varsFor(build), file: a.file }) }))
          : [];
      const sentArtifacts = await Promise.all(
        artifacts.map((a) => send(a.key, a.sha256, () => destination.putFile(a.key, path.join(artifactDir(night, build.id), a.file), { sha256: a.sha256 }))),
      );
      let log: string | null = null;
      if (build.log && FINISHED_STATUSES.includes(build.status)) {
        const file = path.join(night.dir, build.log);
        const key = logKey(state.date, state.machine, build.id);
        // Hashed only to compare with an object already at the key (S3 hashes it for its metadata when
        // not given it); a file destination links a new log without reading it: a 1 GiB log hashes in about a second.
        let known: string | undefined;
        const digest = async () => (known ??= await sha256File(file));
        if ((await isReadableFile(file)) && (await send(key, digest, () => destination.putFile(key, file, { sha256: known, contentType: 'text/plain; charset=utf-8' })))) log = key;
      }
      publications.set(build.id, { log, artifacts, complete: sentArtifacts.every(Boolean) });
    }),
  );

  const manifest = buildManifest(state, publications, { destination: destination.url });
  const key = manifestKey(state.date, state.machine);
  const manifestBody = json(manifest);
  const manifestSent = await send(key, sha256(manifestBody), () => putJson(destination, key, manifestBody));

  // Pointers only after the manifest they cite is there, and only for builds fully published.
  const latest: string[] = [];
  if (manifestSent && request.latest !== false) {
    for (const build of manifest.builds.filter((b) => b.published)) {
      const pointerKey = latestKey(build.id);
      try {
        const existing = await destination.getBytes(pointerKey);
        if (!pointerMoves(existing && (JSON.parse(existing.toString('utf8')) as LatestPointer), state.date)) continue;
        const pointer: LatestPointer = { id: build.id, date: state.date, machine: state.machine, commit: state.recipes?.commit ?? null, manifest: key, artifacts: build.artifacts };
        const body = json(pointer);
        if (existing?.toString('utf8') === body) continue;
        await putJson(destination, pointerKey, body);
        counts.uploaded += 1;
        latest.push(build.id);
      } catch (error) {
        failed.push({ key: pointerKey, error: (error as Error).message });
      }
    }
  }
  return {
    to: destination.url,
    started_at: startedAt.toISOString(),
    finished_at: now().toISOString(),
    ...counts,
    failed,
    manifest: manifestSent ? key : undefined,
    latest,
  };
}

/** What the log step sends: a regular file this process can open (anything else is left out, as before). */
async function isReadableFile(file: string): Promise<boolean> {
  try {
    const handle = await open(file, 'r');
    try {
      return (await handle.stat()).isFile();
    } finally {
      await handle.close();
    }
  } catch {
    return false;
  }
}

const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

function putJson(destination: Destination, key: string, body: string): Promise<void> {
  return destination.putBytes(key, body, { sha256: sha256(body), contentType: 'application/json' });
}
