import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { stringMatching } from '../helpers/expect.js';
import { readSentRecord, sentRecordPath, writeSentRecord } from '../../src/report/sent-record.js';

let dir: string;
beforeEach(async () => (dir = await mkdtemp(path.join(tmpdir(), 'nightshift-sent-'))));
afterEach(() => rm(dir, { recursive: true, force: true }));

describe('report.sent.json', () => {
  it('reads back what was written; nothing when the report was not sent', async () => {
    expect(await readSentRecord(dir)).toEqual({});
    const record = { sent_at: '2026-11-22T15:00:00.000Z', to: ['builds@example.com'], subject: 's', message_id: '<m@x>' };
    await writeSentRecord(dir, record);
    expect(await readSentRecord(dir)).toEqual({ record });
  });

  it('names the file and what is wrong when it is not a record', async () => {
    await writeFile(sentRecordPath(dir), '{"sent_at":"2026-11-22T15:00:00.000Z","to":"builds@example.com"}');
    expect(await readSentRecord(dir)).toEqual({
      problem: stringMatching(/report\.sent\.json cannot be read \(to: Invalid input: expected array, received string; subject: .*\)$/),
    });
  });
});
