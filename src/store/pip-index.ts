/**
 * The pip nightly channel (`upload.index`): a PEP 503 simple index per channel, the only place that
 * knows its format. A channel is `index.path` rendered for a cell (`whl/nightly/{cuda}` → `whl/nightly/cu126`);
 * its index lives at `<destination root>/<channel>/simple/`:
 *
 *   <channel>/simple/index.html               the root page: one link per project
 *   <channel>/simple/<project>/index.html     a project's wheels, each `<key>#sha256=<hex>`
 *
 * The pages are built from what is at the destination, never from one machine's memory: the manifests
 * of every machine for the kept nights (the newest `keep_days`), their succeeded and published builds'
 * `.whl` artifacts. So machines that publish at once converge (the last writer sees every manifest), a
 * cell that failed tonight leaves last night's wheel in the index, and older nights drop out: from the
 * pages, and once the pages are written their wheels from the destination too (aged-wheels.ts). Links are
 * relative to the page, so any HTTP front of the bucket or folder serves the index as it is. Each page is
 * one object written whole (atomic on S3 and on a `file://` folder).
 */
import { createHash } from 'node:crypto';
import type { PipIndex } from '../config/model.js';
import { render, type TemplateVars } from '../matrix/template.js';
import { addDays, isNightDate } from '../night/night-date.js';
import { eachLimit, removeAgedWheels } from './aged-wheels.js';
import type { Destination } from './destination.js';
import { readManifest, type ManifestBuild } from './manifest.js';
import { readRequiresPython } from './wheel-metadata.js';

const NIGHTS = 'nightshift/nights/';

export interface PipIndexRequest {
  destination: Destination;
  index: PipIndex;
  /** The night just uploaded: the kept window ends at it, or at a newer night already published. */
  tonight: string;
  /** Today by the clock in the schedule's time zone: a night published with a later --date never moves the window. */
  clockToday: string;
  /** A build's template variables (its cell's axes with attributes, where the matrix still has the cell). */
  varsFor: (build: ManifestBuild, night: { date: string; machine: string }) => TemplateVars;
  /** Channels the matrix renders today, so that a channel whose wheels all aged out gets empty pages. */
  channels?: readonly string[];
}

export interface ChannelWheel {
  /** The project name, normalised as PEP 503 says. */
  project: string;
  file: string;
  /** Object key relative to the destination root. */
  key: string;
  sha256: string;
  date: string;
  /** The wheel's `Requires-Python`, shown to pip as `data-requires-python`. */
  requiresPython?: string;
}

export interface PipIndexOutcome {
  /** Channel path to its wheels, newest night first. */
  channels: Map<string, ChannelWheel[]>;
  /** Pages written (unchanged pages are not written again). */
  written: number;
  /** Manifests that could not be read, channels that could not be rendered, wheels that could not be removed: named here. */
  problems: string[];
  /** Wheels of nights older than keep_days removed from the destination by this upload, sorted keys. */
  deleted: string[];
  /** Wheels of such nights kept because a cell's latest pointer still names them, sorted keys. */
  keptForLatest: string[];
}

/** PEP 503: runs of "-", "_" and "." are one "-", lower case. */
export function normalizeProject(name: string): string {
  return name.replace(/[-_.]+/g, '-').toLowerCase();
}

/** The project of a wheel file: its name's first component (`torch-2.6.0.dev20261130-cp312-...whl` → torch). */
export function wheelProject(file: string): string | undefined {
  if (!file.endsWith('.whl')) return undefined;
  const name = file.split('-')[0];
  return name ? normalizeProject(name) : undefined;
}

/**
 * The nights whose wheels stay: the `keepDays` calendar days up to the newest night, which is tonight or a
 * later night already published, but never one dated after today's clock (a test run with a far --date
 * must not empty the channel; such a night counts only while it is itself the one uploaded).
 */
export function keptNights(dates: readonly string[], tonight: string, keepDays: number, clockToday: string): string[] {
  const { oldest, newest } = keptWindow(dates, tonight, keepDays, clockToday);
  return [...new Set(dates)].filter((date) => isNightDate(date) && date >= oldest && date <= newest).sort();
}

/** The first and last night of the kept window (see keptNights). */
export function keptWindow(dates: readonly string[], tonight: string, keepDays: number, clockToday: string): { oldest: string; newest: string } {
  const newest = [tonight, ...dates.filter((date) => date <= clockToday)].filter(isNightDate).sort().at(-1)!;
  return { oldest: addDays(newest, -(keepDays - 1)), newest };
}

/**
 * The nights whose wheels leave the destination: those before the kept window. None when tonight is
 * dated after today's clock: such a night (a test run with a far --date) hides the real nights from the
 * pages only until the next real upload, and must not remove their wheels for good.
 */
export function agedNights(dates: readonly string[], tonight: string, keepDays: number, clockToday: string): string[] {
  if (tonight > clockToday) return [];
  const { oldest } = keptWindow(dates, tonight, keepDays, clockToday);
  return [...new Set(dates)].filter((date) => isNightDate(date) && date < oldest).sort();
}

/** Rounds of rebuilding while other machines' manifests keep arriving; one more upload settles anything left. */
const MAX_ROUNDS = 3;

/**
 * Rebuilds every channel's pages from the destination's manifests of the kept nights. Machines that
 * publish at once: after writing, the manifests are listed again, and a manifest that arrived meanwhile
 * means one more round. Whichever machine writes a page last has then built it from every manifest
 * written before its final look, and a machine that comes later finds the page as it would write it.
 */
export async function writePipIndexes(request: PipIndexRequest): Promise<PipIndexOutcome> {
  let manifests = await manifestKeys(request.destination);
  let written = 0;
  for (let round = 1; ; round++) {
    const outcome = await writeRound(request, manifests);
    written += outcome.written;
    const now = await manifestKeys(request.destination);
    if (round === MAX_ROUNDS || (now.length === manifests.length && now.every((key, i) => key === manifests[i]))) {
      // Pages first, then files: no page this upload wrote links a wheel removed here.
      const aged = await removeWheelsOfAgedNights(request, manifests, now);
      return { ...outcome, written, deleted: aged.deleted, keptForLatest: aged.keptForLatest, problems: [...outcome.problems, ...aged.problems] };
    }
    manifests = now;
  }
}

/** Manifests read at once while looking for aged wheels: a year of nights must not open thousands of connections. */
const READ_CONCURRENCY = 8;

/**
 * Removes from the destination the wheels of the nights the pages just dropped: every `.whl` of a
 * succeeded build in a channel, named by a manifest of a night before the kept window (of `paged`, the
 * manifests the pages were built from), unless a manifest of a later night names the same key (all
 * machines, also those whose manifest arrived since: `listedSince`) or the cell's latest pointer does. When
 * a later night's manifest cannot be read nothing is removed, since it might name any of them.
 */
async function removeWheelsOfAgedNights(
  request: PipIndexRequest,
  paged: readonly string[],
  listedSince: readonly string[],
): Promise<Pick<PipIndexOutcome, 'deleted' | 'keptForLatest' | 'problems'>> {
  const { destination, index } = request;
  const nothing = { deleted: [], keptForLatest: [] };
  const nightOf = (key: string) => key.slice(NIGHTS.length).split('/')[0]!;
  const aged = new Set(agedNights(paged.map(nightOf), request.tonight, index.keepDays, request.clockToday));
  const keys = [...new Set([...paged, ...listedSince])];
  const agedKeys = keys.filter((key) => aged.has(nightOf(key)));
  if (!agedKeys.length) return { ...nothing, problems: [] };

  const read = async (key: string) => {
    const [date, machine] = key.slice(NIGHTS.length).split('/');
    try {
      return await readManifest(destination, date!, machine!);
    } catch (error) {
      return { key, manifest: undefined, problem: (error as Error).message };
    }
  };
  const protecting = new Set<string>();
  for (const manifestRead of await readAll(
    keys.filter((key) => !aged.has(nightOf(key))),
    read,
  )) {
    if (manifestRead.problem !== undefined) {
      return { ...nothing, problems: [`wheels of nights older than keep_days not removed: ${manifestRead.problem}; the next upload tries again`] };
    }
    for (const build of manifestRead.manifest?.builds ?? []) for (const artifact of build.artifacts) protecting.add(artifact.key);
  }

  const problems: string[] = [];
  const candidates = new Map<string, string[]>();
  for (const manifestRead of await readAll(agedKeys, read)) {
    if (manifestRead.problem !== undefined) problems.push(`wheels of ${manifestRead.key} not removed: ${manifestRead.problem}`);
    const manifest = manifestRead.manifest;
    if (!manifest) continue;
    for (const build of manifest.builds) {
      if (build.status !== 'succeeded') continue;
      const wheels = build.artifacts.filter((a) => wheelProject(a.file) !== undefined && !protecting.has(a.key));
      // Only the channels' wheels: a build whose channel cannot be rendered was never on a page.
      if (!wheels.length || !render(index.path, request.varsFor(build, { date: manifest.date, machine: manifest.machine })).ok) continue;
      const list = candidates.get(build.id) ?? [];
      for (const a of wheels) if (!list.includes(a.key)) list.push(a.key);
      candidates.set(build.id, list);
    }
  }
  const outcome = await removeAgedWheels({ destination, candidates });
  return { ...outcome, problems: [...problems, ...outcome.problems] };
}

/** `read` over `keys`, at most READ_CONCURRENCY at a time, in the keys' order. */
async function readAll<T>(keys: readonly string[], read: (key: string) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array<T>(keys.length);
  const order = keys.map((key, i) => [key, i] as const);
  await eachLimit(order, READ_CONCURRENCY, async ([key, i]) => {
    results[i] = await read(key);
  });
  return results;
}

/** Every manifest key at the destination, sorted. */
async function manifestKeys(destination: Destination): Promise<string[]> {
  return (await destination.list(NIGHTS)).filter((key) => /^[^/]+\/[^/]+\/manifest\.json$/.test(key.slice(NIGHTS.length))).sort();
}

async function writeRound(request: PipIndexRequest, manifests: readonly string[]): Promise<Omit<PipIndexOutcome, 'deleted' | 'keptForLatest'>> {
  const { destination, index } = request;
  const problems: string[] = [];
  const byNight = new Map<string, string[]>();
  for (const key of manifests) {
    const [night, machine] = key.slice(NIGHTS.length).split('/');
    byNight.set(night!, [...(byNight.get(night!) ?? []), machine!]);
  }
  const nights = keptNights([...byNight.keys()], request.tonight, index.keepDays, request.clockToday).reverse();
  const reads = await Promise.all(nights.flatMap((date) => byNight.get(date)!.map((machine) => readManifest(destination, date, machine))));

  const channels = new Map<string, Map<string, ChannelWheel>>(request.channels?.map((channel) => [channel, new Map()]));
  for (const read of reads) {
    if (read.problem) problems.push(read.problem);
    const manifest = read.manifest;
    if (!manifest) continue;
    for (const build of manifest.builds) {
      if (build.status !== 'succeeded' || !build.published) continue;
      const wheels = build.artifacts.filter((a) => wheelProject(a.file) !== undefined);
      if (!wheels.length) continue;
      const rendered = render(index.path, request.varsFor(build, { date: manifest.date, machine: manifest.machine }));
      if (!rendered.ok) {
        problems.push(`${build.id} of ${manifest.date} is in no pip channel: upload.index.path cannot fill ${rendered.ref.text} for it`);
        continue;
      }
      const channel = rendered.value.replace(/^\/+|\/+$/g, '');
      const byFile = channels.get(channel) ?? new Map<string, ChannelWheel>();
      channels.set(channel, byFile);
      // Newest night first: a file name published again by an older night keeps the newest one's object.
      for (const a of wheels) if (!byFile.has(a.file)) byFile.set(a.file, { project: wheelProject(a.file)!, file: a.file, key: a.key, sha256: a.sha256, date: manifest.date });
    }
  }

  let written = 0;
  const put = async (key: string, html: string, existing: Buffer | undefined) => {
    if (existing?.toString('utf8') === html) return;
    await destination.putBytes(key, html, { sha256: createHash('sha256').update(html).digest('hex'), contentType: 'text/html; charset=utf-8' });
    written += 1;
  };
  const result = new Map<string, ChannelWheel[]>();
  for (const [channel, byFile] of channels) {
    const wheels = [...byFile.values()];
    result.set(channel, wheels);
    const simple = `${channel}/simple/`;
    const projects = [...new Set(wheels.map((w) => w.project))].sort();
    // A project whose wheels all left the kept nights gets an empty page: pip then finds nothing there.
    const earlier = (await destination.list(simple)).map((key) => key.slice(simple.length).split('/')).filter((parts) => parts.length === 2 && parts[1] === 'index.html');
    const gone = earlier.map((parts) => parts[0]!).filter((project) => !projects.includes(project));
    for (const project of [...projects, ...gone]) {
      const key = `${simple}${project}/index.html`;
      const existing = await destination.getBytes(key);
      const known = requiresPythonOnPage(existing?.toString('utf8') ?? '');
      const listed = wheels.filter((w) => w.project === project);
      for (const wheel of listed) {
        wheel.requiresPython = known.has(wheel.sha256) ? known.get(wheel.sha256) : await wheelRequiresPython(destination, wheel.key);
      }
      await put(key, projectPage(channel, project, listed), existing);
    }
    // The root page last: it never names a project whose page is not there yet.
    const rootKey = `${simple}index.html`;
    await put(rootKey, rootPage(projects), await destination.getBytes(rootKey));
  }
  return { channels: result, written, problems };
}

/** The most of a wheel's end read for its METADATA; a wheel whose METADATA lies further back is listed without data-requires-python. */
const MAX_METADATA_TAIL = 32 * 1024 * 1024;

/** A published wheel's Requires-Python, from the end of the object (usually one read of 64 KiB). */
async function wheelRequiresPython(destination: Destination, key: string): Promise<string | undefined> {
  const size = (await destination.head(key))?.size;
  if (size === undefined) return undefined;
  let lastBytes = Math.min(size, 64 * 1024);
  for (let reads = 0; reads < 3; reads++) {
    const tail = await destination.getBytes(key, { lastBytes });
    if (!tail) return undefined;
    const read = readRequiresPython(tail, size);
    if (read.kind !== 'need') return read.kind === 'found' ? read.requiresPython : undefined;
    if (read.lastBytes > MAX_METADATA_TAIL || read.lastBytes <= lastBytes) return undefined;
    lastBytes = read.lastBytes;
  }
  return undefined;
}

/**
 * What a page written earlier says of each wheel's Requires-Python, by sha256 (a wheel listed without
 * it has none), so that only the wheels new to a page are read.
 */
function requiresPythonOnPage(html: string): Map<string, string | undefined> {
  const known = new Map<string, string | undefined>();
  for (const match of html.matchAll(/<a href="[^"]*#sha256=([0-9a-f]{64})"(?: data-requires-python="([^"]*)")?>/g)) {
    known.set(match[1]!, match[2] === undefined ? undefined : unescapeHtml(match[2]));
  }
  return known;
}

const unescapeHtml = (text: string) =>
  text
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&amp;/g, '&');
const escapeHtml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const encodeKey = (key: string) => key.split('/').map(encodeURIComponent).join('/');

export function rootPage(projects: readonly string[]): string {
  const links = projects.map((project) => `    <a href="${encodeURIComponent(project)}/">${escapeHtml(project)}</a><br>\n`).join('');
  return `<!DOCTYPE html>\n<html>\n  <head><meta name="pypi:repository-version" content="1.0"><title>Simple index</title></head>\n  <body>\n${links}  </body>\n</html>\n`;
}

/** A project's page at `<channel>/simple/<project>/`: links climb back to the destination root, so they work behind any HTTP front. */
export function projectPage(channel: string, project: string, wheels: readonly ChannelWheel[]): string {
  const up = '../'.repeat(channel.split('/').filter(Boolean).length + 2);
  const sorted = [...wheels].sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
  const links = sorted
    .map((w) => {
      const requires = w.requiresPython === undefined ? '' : ` data-requires-python="${escapeHtml(w.requiresPython)}"`;
      return `    <a href="${escapeHtml(`${up}${encodeKey(w.key)}#sha256=${w.sha256}`)}"${requires}>${escapeHtml(w.file)}</a><br>\n`;
    })
    .join('');
  return `<!DOCTYPE html>\n<html>\n  <head><meta name="pypi:repository-version" content="1.0"><title>Links for ${escapeHtml(project)}</title></head>\n  <body>\n    <h1>Links for ${escapeHtml(project)}</h1>\n${links}  </body>\n</html>\n`;
}
