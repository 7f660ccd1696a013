/**
 * Publishing a night: the artifacts of succeeded builds, every finished build's log, then the
 * manifest, then the latest pointers — in that order, so a manifest or pointer never names an object
 * that is not there yet. An object already at the destination with the same sha256 is skipped, so a
 * second upload of the same night sends nothing new. A file that fails is recorded; the rest still go.
 *
 * What is published is exactly what the build made, or nothing: an artifact is opened once, without
 * following links, inside its build's folder, and the bytes sent are hashed and compared with the
 * sha256 night.json recorded at the build's end. An artifact key that holds another build's content
 * is never replaced: two builds of a night whose `upload.key` renders alike must not swap the object.
 * The same cell of the same night built on two machines (with the shared queue, a machine cut off from
 * Redis keeps building while another takes its build over) is published once: the second machine keeps
 * the first one's object and its manifest says so (`published_by`); the latest pointer names the
 * build that ended last.
 */
import { createHash } from 'node:crypto';
import PQueue from 'p-queue';
import type { TemplateVars } from '../matrix/template.js';
import { FINISHED_STATUSES, artifactDir, type NightLayout } from '../night/layout.js';
import type { BuildRecord, NightState, UploadRecord } from '../night/state.js';
import type { Destination } from './destination.js';
import { pointerBody, pointerMoves, readLatestPointer, writeLatestPointer, type LatestPointer, type PointerBuild } from './latest.js';
import { ContentChangedError, openInside, sha256Of, UnsafeFileError } from './local-file.js';
import { buildManifest, manifestMachines, readManifest, type BuildPublication, type PublishedArtifact } from './manifest.js';
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

/** Which build of the night holds an artifact key, by a manifest already at the destination, and what it recorded there. */
interface Holder {
  machine: string;
  id: string;
  size: number;
  sha256: string;
}

export async function publishNight(request: PublishRequest): Promise<PublishOutcome> {
  const { state, destination, night } = request;
  const now = request.now ?? (() => new Date());
  const startedAt = now();
  const queue = new PQueue({ concurrency: request.concurrency ?? 4 });
  const counts = { uploaded: 0, skipped: 0 };
  const failed: UploadRecord['failed'] = [];
  const fail = (key: string, error: string) => (failed.push({ key, error }), false);

  /** One object: skipped when the destination already has it with the same sha256 (`sha256()` is called only then). */
  const send = (key: string, sha256: string | (() => Promise<string>), put: () => Promise<void>): Promise<boolean> =>
    queue.add<boolean>(async () => {
      try {
        const existing = await destination.head(key);
        const same = existing?.sha256 !== undefined && existing.sha256 === (typeof sha256 === 'string' ? sha256 : await sha256());
        const outcome: Sent = same ? 'skipped' : (await put(), 'uploaded');
        counts[outcome] += 1;
        return true;
      } catch (error) {
        return fail(key, (error as Error).message);
      }
    });

  const planned = state.builds.map((build) => ({
    build,
    artifacts:
      build.status === 'succeeded'
        ? (build.artifacts ?? []).map((a): PublishedArtifact => ({ ...a, key: artifactKey(request.published, request.keyTemplate, { ...request.varsFor(build), file: a.file }) }))
        : [],
  }));
  const byKey = new Map<string, { id: string; file: string; sha256: string }[]>();
  for (const { build, artifacts } of planned) for (const a of artifacts) byKey.set(a.key, [...(byKey.get(a.key) ?? []), { id: build.id, file: a.file, sha256: a.sha256 }]);
  // Read once, and only when an artifact key already holds other content.
  let holders: Promise<Map<string, Holder[]>> | undefined;

  /**
   * One artifact: exactly the bytes the build made, to a key no other build of the night holds, or nothing.
   * Resolves to what the manifest records for it, or null when it is not published (and why is in `failed`).
   */
  const sendArtifact = (build: BuildRecord, artifact: PublishedArtifact): Promise<PublishedArtifact | null> =>
    queue.add(async () => {
      const { key } = artifact;
      const label = `artifacts/${build.id}/${artifact.file}`;
      const refuse = (error: string) => (fail(key, error), null);
      try {
        const clash = byKey.get(key)!.find((other) => other.id !== build.id && other.sha256 !== artifact.sha256);
        if (clash)
          return refuse(
            `${label} not published: artifacts/${clash.id}/${clash.file} of this night has the same key with other content; make upload.key tell the builds apart (add {id})`,
          );
        const existing = await destination.head(key);
        if (existing?.sha256 === artifact.sha256) {
          counts.skipped += 1;
          return artifact;
        }
        if (existing) {
          // The build whose recorded content is the object there (a manifest also lists artifacts that failed to go).
          const claims = (await (holders ??= readHolders(destination, state.date))).get(key) ?? [];
          const holder = claims.find((claim) => claim.sha256 === existing.sha256) ?? claims[0];
          if (holder && sameCellElsewhere(holder, build.id, state.machine, existing.sha256)) {
            // Published once: the other machine's build of this cell stays, and this manifest names it.
            counts.skipped += 1;
            return { ...artifact, size: holder.size, sha256: holder.sha256, published_by: holder.machine };
          }
          const refused = await replaceRefused(destination, state, build.id, key, holder);
          if (refused)
            return refuse(
              `${label} not published: the key already holds other content (sha256 ${existing.sha256 ?? 'unknown'}, ${refused}), which nightshift does not replace; make upload.key tell the builds apart (add {id}), or remove the object if it is stale`,
            );
        }
        const source = await openInside(artifactDir(night, build.id), artifact.file, label);
        try {
          const sha256 = await sha256Of(source);
          if (sha256 !== artifact.sha256) return refuse(changed(label, artifact.sha256, sha256));
          await destination.putFile(key, source, { sha256: artifact.sha256 });
        } finally {
          await source.handle.close();
        }
        counts.uploaded += 1;
        return artifact;
      } catch (error) {
        if (error instanceof ContentChangedError) return refuse(changed(label, error.recorded, error.now));
        if (error instanceof UnsafeFileError) return refuse(`${error.message}; not published`);
        return refuse((error as Error).message);
      }
    });

  const publications = new Map<string, BuildPublication>();
  await Promise.all(
    planned.map(async ({ build, artifacts }) => {
      const sentArtifacts = await Promise.all(artifacts.map((a) => sendArtifact(build, a)));
      const recorded = artifacts.map((a, index) => sentArtifacts[index] ?? a);
      let log: string | null = null;
      if (build.log && FINISHED_STATUSES.includes(build.status)) {
        const key = logKey(state.date, state.machine, build.id);
        // Opened once, without following links; hashed only to compare with an object already at the
        // key (S3 hashes it for its metadata when not given it); a file destination links a new log
        // without reading it: a 1 GiB log hashes in about a second. A log that cannot be opened so is left out.
        const source = await openInside(night.dir, build.log).catch(() => undefined);
        if (source) {
          try {
            let known: string | undefined;
            const digest = async () => (known ??= await sha256Of(source));
            if (await send(key, digest, () => destination.putFile(key, source, { sha256: known, contentType: 'text/plain; charset=utf-8' }))) log = key;
          } finally {
            await source.handle.close();
          }
        }
      }
      publications.set(build.id, { log, artifacts: recorded, complete: sentArtifacts.every((a) => a !== null) });
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
      try {
        const existing = await readLatestPointer(destination, build.id);
        const candidate: PointerBuild = { date: state.date, machine: state.machine, finished_at: build.finished_at };
        if (!pointerMoves(existing && (await withFinishedAt(destination, existing.pointer, candidate)), candidate)) continue;
        const pointer: LatestPointer = {
          id: build.id,
          date: state.date,
          machine: state.machine,
          commit: state.recipes?.commit ?? null,
          manifest: key,
          artifacts: build.artifacts,
          finished_at: build.finished_at,
        };
        if (existing?.text === pointerBody(pointer)) continue;
        await writeLatestPointer(destination, pointer);
        counts.uploaded += 1;
        latest.push(build.id);
      } catch (error) {
        failed.push({ key: latestKey(build.id), error: (error as Error).message });
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

const changed = (label: string, recorded: string, now: string) => `${label} changed after the build: sha256 ${recorded} recorded, ${now} now; not published`;

/**
 * Why the object at `key` may not be replaced by build `id` of this night, or undefined when it may:
 * only the same cell replaces its own object — this machine's earlier upload of the same night (a
 * rebuild), or an older night's when the key has no date in it and the cell's latest pointer names it.
 */
async function replaceRefused(destination: Destination, state: NightState, id: string, key: string, holder: Holder | undefined): Promise<string | undefined> {
  if (holder) return holder.machine === state.machine && holder.id === id ? undefined : `from ${holder.id} on ${holder.machine} this night`;
  const latest = (await readLatestPointer(destination, id))?.pointer;
  if (!latest?.artifacts.some((a) => a.key === key)) return 'not from this cell';
  return latest.date <= state.date ? undefined : `from ${id} of the newer night ${latest.date}`;
}

/**
 * The object at a key is this cell's build of this night by another machine, as that machine's manifest
 * recorded it (the object itself still has the recorded sha256, when the destination knows it).
 */
function sameCellElsewhere(holder: Holder, id: string, machine: string, sha256: string | undefined): boolean {
  return holder.id === id && holder.machine !== machine && (sha256 === undefined || sha256 === holder.sha256);
}

/**
 * The existing pointer with when its build ended, when that decides (same night, another machine) and the
 * pointer does not carry it (written before pointers did): then from the manifest it names.
 */
async function withFinishedAt(destination: Destination, existing: LatestPointer, candidate: PointerBuild): Promise<PointerBuild> {
  if (existing.finished_at != null || existing.date !== candidate.date || existing.machine === candidate.machine) return existing;
  const { manifest } = await readManifest(destination, existing.date, existing.machine);
  return { ...existing, finished_at: manifest?.builds.find((b) => b.id === existing.id)?.finished_at ?? null };
}

/**
 * Every artifact key of the night's manifests at the destination, with the builds that claim it. A build
 * that kept another machine's object (`published_by`) claims it for the machine that sent it.
 */
async function readHolders(destination: Destination, date: string): Promise<Map<string, Holder[]>> {
  const machines = await manifestMachines(destination, date);
  const holders = new Map<string, Holder[]>();
  for (const machine of machines) {
    // An unreadable manifest says nothing about who holds what: its keys stay unclaimed (never replaced).
    const { manifest } = await readManifest(destination, date, machine);
    for (const build of manifest?.builds ?? [])
      for (const a of build.artifacts) {
        const claim = { machine: a.published_by ?? machine, id: build.id, size: a.size, sha256: a.sha256 };
        holders.set(a.key, [...(holders.get(a.key) ?? []), claim]);
      }
  }
  return holders;
}

const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

function putJson(destination: Destination, key: string, body: string): Promise<void> {
  return destination.putBytes(key, body, { sha256: sha256(body), contentType: 'application/json' });
}
