/**
 * The upload stage of a night: find the destination for this night and machine, publish, share this
 * machine's build durations, and record the outcome in night.json and the master log. Used at the end of `run` and by `nightshift upload`.
 */
import { stat } from 'node:fs/promises';
import type { Cell, PipIndex, Schedule } from '../config/model.js';
import { cellVars } from '../matrix/expand.js';
import { render, type TemplateVars } from '../matrix/template.js';
import type { NightLayout } from '../night/layout.js';
import { appendMasterLog } from '../night/open-night.js';
import type { BuildRecord, NightStateStore } from '../night/state.js';
import { readDurations } from '../night/history.js';
import { nightDate } from '../night/night-date.js';
import type { Destination } from './destination.js';
import { openScheduleDestination } from './open.js';
import { writePipIndexes } from './pip-index.js';
import { publishNight, type PublishOutcome } from './publish.js';
import { publishedLayout } from './published-layout.js';
import { writeSharedHistory } from './shared-history.js';

export interface UploadNightRequest {
  schedule: Schedule;
  /** The matrix's cells, for template attributes of the key (`{cuda.version}`). */
  cells: readonly Cell[];
  night: NightLayout;
  store: NightStateStore;
  now?: () => Date;
}

export async function uploadNight(request: UploadNightRequest): Promise<PublishOutcome> {
  const { schedule, night, store } = request;
  const now = request.now ?? (() => new Date());
  const state = store.get();
  const published = publishedLayout(schedule.upload, { root: schedule.root, date: state.date, machine: state.machine });
  const byId = new Map(request.cells.map((cell) => [cell.id, cell]));
  const varsFor = (build: BuildRecord): TemplateVars => {
    const cell = byId.get(build.id);
    return cell ? cellVars(cell, { date: state.date, machine: state.machine }) : { ...build.axes, package: build.package, id: build.id, date: state.date, machine: state.machine };
  };

  let outcome: PublishOutcome;
  let destination: Destination | undefined;
  const sent = { bytes: 0 };
  try {
    destination = countingBytes(await openScheduleDestination(schedule, state.date), sent);
    // Builds by hand outside the machine's share are not the nightly's (build --upload sends them to manual/).
    const nightly = { ...state, builds: state.builds.filter((b) => !b.manual) };
    outcome = await publishNight({ night, state: nightly, published, keyTemplate: schedule.upload.key, varsFor, destination, now });
  } catch (error) {
    // The destination itself is unusable (unknown scheme, no bucket): nothing went; say so and go on.
    const at = now().toISOString();
    outcome = { to: published.rootUrl, started_at: at, finished_at: at, uploaded: 0, skipped: 0, failed: [{ key: '', error: (error as Error).message }], latest: [] };
  }
  if (destination && schedule.upload.index) {
    const clockToday = nightDate(now(), schedule.timezone);
    outcome = await updatePipIndex(destination, schedule.upload.index, request.cells, { tonight: state.date, clockToday }, night, outcome);
  }
  const historyWarning = destination && (await shareHistory(destination, schedule.root, state.machine, now()));
  const { latest: _latest, ...record } = outcome;
  await store.update((s) => {
    s.upload = { ...record, bytes: sent.bytes };
  });
  const failures = outcome.failed.length ? `, ${outcome.failed.length} failed (first: ${outcome.failed[0]!.key || outcome.to}: ${outcome.failed[0]!.error})` : '';
  await appendMasterLog(night, 'upload', `to ${outcome.to}: ${outcome.uploaded} uploaded, ${outcome.skipped} already there${failures}`);
  if (historyWarning) await appendMasterLog(night, 'upload', historyWarning);
  return historyWarning ? { ...outcome, historyWarning } : outcome;
}

/**
 * `destination`, adding the size of every object it writes to `sent.bytes` (what went, for /metrics): a
 * file's size as opened, a small object's length. An object that fails to go adds nothing.
 */
function countingBytes(destination: Destination, sent: { bytes: number }): Destination {
  return {
    url: destination.url,
    head: (key) => destination.head(key),
    getBytes: (key, options) => destination.getBytes(key, options),
    list: (prefix) => destination.list(prefix),
    delete: (key) => destination.delete(key),
    async putFile(key, file, options) {
      await destination.putFile(key, file, options);
      sent.bytes += typeof file === 'string' ? (await stat(file)).size : file.info.size;
    },
    async putBytes(key, body, options) {
      await destination.putBytes(key, body, options);
      sent.bytes += typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength;
    },
  };
}

/**
 * Rebuilds the pip channels' pages from every machine's manifests at the destination (after this
 * machine's manifest is there). A page that could not be written is a failed object of the upload, so
 * that `nightshift upload` tries again; manifests it cannot read are named in the master log.
 */
async function updatePipIndex(
  destination: Destination,
  index: PipIndex,
  cells: readonly Cell[],
  when: { tonight: string; clockToday: string },
  night: NightLayout,
  outcome: PublishOutcome,
): Promise<PublishOutcome> {
  const byId = new Map(cells.map((cell) => [cell.id, cell]));
  const channels = cells.flatMap((cell) => {
    const rendered = render(index.path, cellVars(cell, { date: when.tonight, machine: '' }));
    return rendered.ok ? [rendered.value.replace(/^\/+|\/+$/g, '')] : [];
  });
  try {
    const result = await writePipIndexes({
      destination,
      index,
      ...when,
      channels: [...new Set(channels)],
      varsFor: (build, at) => {
        const cell = byId.get(build.id);
        return cell ? cellVars(cell, at) : { ...build.axes, package: build.package, id: build.id, ...at };
      },
    });
    const wheels = [...result.channels.values()].reduce((sum, list) => sum + list.length, 0);
    await appendMasterLog(
      night,
      'upload',
      `pip index: ${result.channels.size} channel(s), ${wheels} wheel(s) of the last ${index.keepDays} night(s), ${result.written} page(s) written` +
        (result.deleted.length ? `, ${result.deleted.length} older wheel(s) removed` : '') +
        (result.keptForLatest.length ? `, ${result.keptForLatest.length} older wheel(s) kept for their latest pointer` : ''),
    );
    for (const problem of result.problems) await appendMasterLog(night, 'upload', `pip index: ${problem}`);
    return outcome;
  } catch (error) {
    return { ...outcome, failed: [...outcome.failed, { key: `${index.path}/simple/`, error: `pip index not updated: ${(error as Error).message}` }] };
  }
}

/**
 * This machine's durations (history.json) to `nightshift/history/<machine>.json`, where the other
 * machines balance the next nights by them. Trouble is a warning (returned), never the night's failure:
 * the next upload writes the object again.
 */
async function shareHistory(destination: Destination, root: string, machine: string, now: Date): Promise<string | undefined> {
  try {
    await writeSharedHistory(destination, machine, await readDurations(root), now);
    return undefined;
  } catch (error) {
    return `build history not shared (${(error as Error).message}); the next upload tries again`;
  }
}
