/**
 * The prune at the end of `nightshift run`, with real git and the host executor: a typo'd future --date
 * never ages this week's nights, and a root from before markers is taken over only when every dated
 * folder in it is a nightshift night.
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeNightFixture, type NightFixture } from '../helpers/night-fixture.js';
import { runCli } from '../helpers/run-cli.js';
import { addDays, nightDate } from '../../src/night/night-date.js';
import { ROOT_MARKER } from '../../src/night/root-marker.js';

describe('nightshift run prunes by the real clock, and only in its own root', () => {
  let night: NightFixture;
  const today = nightDate(new Date(), 'UTC');
  const recent = [addDays(today, -2), addDays(today, -1), today];
  const run = () => runCli(['run', '--only', 'ok_*', '--config', night.configDir, '--machine', 'm1', '--date', night.date]);

  /** A night folder as a run leaves it. */
  async function pastNight(date: string): Promise<void> {
    await mkdir(path.join(night.root, date, 'logs', 'master'), { recursive: true });
    await writeFile(path.join(night.root, date, 'night.json'), JSON.stringify({ version: 1, date, builds: [] }));
  }

  beforeEach(async () => {
    night = await makeNightFixture({ executor: 'host' });
  }, 60_000);
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset when the before-hook failed
  afterEach(() => night?.cleanup());

  it("run --date far after today (the fixture's night) keeps this week's nights, and marks a root holding only nightshift nights", async () => {
    for (const date of recent) await pastNight(date);
    const result = await run();
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
    const left = await readdir(night.root);
    for (const date of [...recent, night.date]) expect(left).toContain(date);
    expect(result.stdout).not.toMatch(/pruned night/);
    expect(JSON.parse(await readFile(path.join(night.root, ROOT_MARKER), 'utf8'))).toMatchObject({ version: 1, created_by: 'nightshift run', nights_found: 3 });
  }, 60_000);

  it('leaves a root with dated folders it did not make unmarked, and removes none of them however old', async () => {
    await mkdir(path.join(night.root, '2019_05_03', 'photos'), { recursive: true });
    await pastNight('2019_05_04');
    const result = await run();
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toContain(`${night.root} is not marked as nightshift's (.nightshift-root): 2019_05_03 is a dated folder without night.json`);
    expect(result.stderr).toContain(`prune: nothing removed under ${night.root}: it has no .nightshift-root`);
    expect(existsSync(path.join(night.root, '2019_05_03', 'photos'))).toBe(true);
    expect(existsSync(path.join(night.root, '2019_05_04'))).toBe(true);
    expect(existsSync(path.join(night.root, ROOT_MARKER))).toBe(false);
  }, 60_000);
});
