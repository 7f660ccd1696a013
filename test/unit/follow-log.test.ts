/** Following a build's log on real files while the runner renames it: finished, retried, rerun. */
import { appendFile, mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { followLog } from '../../src/night/follow-log.js';
import { attemptLog, finishedLog, nightLayout, runningLog, type NightLayout } from '../../src/night/layout.js';

let root: string;
let layout: NightLayout;
const id = 'wheel_3.12_cpu';

beforeEach(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'nightshift-follow-'));
  layout = nightLayout(root, '2026_11_22');
  for (const folder of Object.values(layout.logs)) await mkdir(folder, { recursive: true });
});
afterEach(() => rm(root, { recursive: true, force: true }));

function follow(ended: () => boolean): { done: Promise<void>; text: () => string } {
  let text = '';
  const done = followLog({
    layout,
    id,
    pollMs: 20,
    ended: () => Promise.resolve(ended()),
    write: (chunk) => {
      text += Buffer.from(chunk).toString('utf8');
      return Promise.resolve();
    },
  });
  return { done, text: () => text };
}

describe('followLog', () => {
  it('keeps following when the log moves from running/ to succeeded/, nothing missed or repeated', async () => {
    let ended = false;
    await writeFile(runningLog(layout, id), 'one\n');
    const follower = follow(() => ended);
    await sleep(60);
    await appendFile(runningLog(layout, id), 'two\n');
    await rename(runningLog(layout, id), finishedLog(layout, id, 'succeeded'));
    await appendFile(finishedLog(layout, id, 'succeeded'), 'footer\n');
    ended = true;
    await follower.done;
    expect(follower.text()).toBe('one\ntwo\nfooter\n');
  });

  it('goes on to the next attempt when a retried build starts again, after the whole first attempt', async () => {
    let ended = false;
    await writeFile(runningLog(layout, id), 'attempt 1\n');
    const follower = follow(() => ended);
    await sleep(60);
    await appendFile(runningLog(layout, id), 'attempt 1 failed: Connection reset by peer\n');
    await rename(runningLog(layout, id), attemptLog(layout, id, 1));
    await sleep(60); // the gap before the next attempt's log exists
    await writeFile(runningLog(layout, id), 'attempt 2\n');
    await sleep(60);
    await appendFile(runningLog(layout, id), 'attempt 2 succeeded\n');
    await rename(runningLog(layout, id), finishedLog(layout, id, 'succeeded'));
    ended = true;
    await follower.done;
    expect(follower.text()).toBe('attempt 1\nattempt 1 failed: Connection reset by peer\nattempt 2\nattempt 2 succeeded\n');
  });
});
