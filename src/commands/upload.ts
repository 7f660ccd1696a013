/** `nightshift upload`: publish a night's results (again): whatever is missing at the destination goes. */
import { loadSchedule, type GlobalOptions } from '../context.js';
import type { Io } from '../output/io.js';
import { ExitCode } from '../errors.js';
import { acquireNightLock } from '../night/lock.js';
import { resolveNightDate } from '../night/night-date.js';
import { readNight } from '../night/read-night.js';
import { NightStateStore } from '../night/state.js';
import { uploadNight } from '../store/upload-night.js';

export async function upload(options: GlobalOptions, io: Io): Promise<number> {
  const { config, schedule } = await loadSchedule(options);
  const date = resolveNightDate(options.date, schedule.timezone);
  const { layout } = await readNight(schedule.root, date);
  // night.json has one writer at a time: a run still going will upload by itself when it ends.
  const lock = await acquireNightLock(layout.lock, { purpose: 'upload' });
  try {
    const store = new NightStateStore(layout.state);
    await store.load();
    const outcome = await uploadNight({ schedule, cells: config.cells, night: layout, store });
    io.out(`night ${date} to ${outcome.to}: ${outcome.uploaded} uploaded, ${outcome.skipped} already there, ${outcome.failed.length} failed`);
    if (outcome.manifest) io.out(`manifest ${outcome.manifest}`);
    if (outcome.latest.length) io.out(`latest now points at this night for ${outcome.latest.length} build(s)`);
    for (const failure of outcome.failed) io.out(`  not uploaded ${failure.key || outcome.to}: ${failure.error}`);
    if (outcome.historyWarning) io.err(`nightshift: ${outcome.historyWarning}`);
    return outcome.failed.length ? ExitCode.serviceUnavailable : ExitCode.ok;
  } finally {
    await lock.release();
  }
}
