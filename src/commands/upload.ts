/** `nightshift upload`: publish a night's results (again): whatever is missing at the destination goes. */
import { loadSchedule, type GlobalOptions } from '../context.js';
import type { Io } from '../output/io.js';
import { humanOutput, printJson } from '../output/json.js';
import { ExitCode } from '../errors.js';
import { acquireNightLock } from '../night/lock.js';
import { resolveNightDate } from '../night/night-date.js';
import { readNight } from '../night/read-night.js';
import { NightStateStore } from '../night/state.js';
import { uploadNight } from '../store/upload-night.js';
import { uploadJson } from './json-shapes.js';

export interface UploadOptions extends GlobalOptions {
  json?: boolean;
}

export async function upload(options: UploadOptions, io: Io): Promise<number> {
  const { config, schedule } = await loadSchedule(options);
  const date = resolveNightDate(options.date, schedule.timezone);
  const { layout } = await readNight(schedule.root, date);
  // night.json has one writer at a time: a run still going will upload by itself when it ends.
  const lock = await acquireNightLock(layout.lock, { purpose: 'upload' });
  try {
    const store = new NightStateStore(layout.state);
    await store.load();
    const outcome = await uploadNight({ schedule, cells: config.cells, night: layout, store });
    // The bytes are counted by uploadNight and kept only in night.json's upload record.
    if (options.json) printJson(io, { date, machine: store.get().machine, ...uploadJson(outcome, store.get().upload?.bytes) });
    const human = humanOutput(io, options.json);
    human.out(`night ${date} to ${outcome.to}: ${outcome.uploaded} uploaded, ${outcome.skipped} already there, ${outcome.failed.length} failed`);
    if (outcome.manifest) human.out(`manifest ${outcome.manifest}`);
    if (outcome.latest.length) human.out(`latest now points at this night for ${outcome.latest.length} build(s)`);
    for (const failure of outcome.failed) human.out(`  not uploaded ${failure.key || outcome.to}: ${failure.error}`);
    if (outcome.historyWarning) io.err(`nightshift: ${outcome.historyWarning}`);
    return outcome.failed.length ? ExitCode.serviceUnavailable : ExitCode.ok;
  } finally {
    await lock.release();
  }
}
