/**
 * `nightshift build --upload` of builds outside this machine's share of the nightly: published like a
 * night, but everything under `manual/` at the destination root (artifacts at `manual/<key>`, the
 * manifest and logs at `manual/nightshift/nights/<date>/<machine>/`) and never a latest pointer, so no
 * nightly reader (report, status --all-machines, latest) ever sees them.
 */
import type { Cell, Schedule } from '../config/model.js';
import { cellVars } from '../matrix/expand.js';
import type { NightLayout } from '../night/layout.js';
import { appendMasterLog } from '../night/open-night.js';
import type { BuildRecord, NightState } from '../night/state.js';
import type { Destination } from './destination.js';
import { openScheduleDestination } from './open.js';
import { publishNight, type PublishOutcome } from './publish.js';
import { publishedLayout } from './published-layout.js';

export const MANUAL_PREFIX = 'manual/';

export async function uploadManual(request: {
  schedule: Schedule;
  cells: readonly Cell[];
  night: NightLayout;
  state: NightState;
  ids: readonly string[];
}): Promise<PublishOutcome> {
  const { schedule, night, state } = request;
  const manual = { ...state, builds: state.builds.filter((b) => b.manual && request.ids.includes(b.id)) };
  const published = publishedLayout(schedule.upload, { root: schedule.root, date: state.date, machine: state.machine });
  const byId = new Map(request.cells.map((cell) => [cell.id, cell]));
  const varsFor = (build: BuildRecord) => {
    const cell = byId.get(build.id);
    return cell ? cellVars(cell, { date: state.date, machine: state.machine }) : { ...build.axes, package: build.package, id: build.id, date: state.date, machine: state.machine };
  };
  const destination = underPrefix(await openScheduleDestination(schedule, state.date), MANUAL_PREFIX);
  const outcome = await publishNight({ night, state: manual, published, keyTemplate: schedule.upload.key, varsFor, destination, latest: false });
  await appendMasterLog(
    night,
    'upload',
    `manual build(s) ${manual.builds.map((b) => b.id).join(', ')} to ${outcome.to}: ${outcome.uploaded} uploaded, ${outcome.skipped} already there, ${outcome.failed.length} failed`,
  );
  return outcome;
}

/** The same destination with every key under `prefix`. */
function underPrefix(destination: Destination, prefix: string): Destination {
  const key = (k: string) => `${prefix}${k}`;
  return {
    url: `${destination.url}${prefix}`,
    head: (k) => destination.head(key(k)),
    putFile: (k, file, options) => destination.putFile(key(k), file, options),
    putBytes: (k, body, options) => destination.putBytes(key(k), body, options),
    getBytes: (k, options) => destination.getBytes(key(k), options),
    list: async (p) => (await destination.list(key(p))).map((k) => k.slice(prefix.length)),
    delete: (k) => destination.delete(key(k)),
  };
}
