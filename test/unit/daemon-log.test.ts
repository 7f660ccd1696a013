import { describe, expect, it } from 'vitest';
import { daemonLog, maskSecrets } from '../../src/daemon/log.js';

const clock = () => new Date('2026-11-22T08:05:00.123Z');

describe('daemon log', () => {
  it('text: the time, then the message, one line per event', () => {
    const lines: string[] = [];
    const log = daemonLog('text', (line) => lines.push(line), clock);
    log.event('night.started', 'night 2026_11_22 started (12 builds)', { date: '2026_11_22', builds: 12 });
    log.event('config.problem', 'first line\n  second line');
    expect(lines).toEqual(['2026-11-22T08:05:00.123Z night 2026_11_22 started (12 builds)', '2026-11-22T08:05:00.123Z first line | second line']);
  });

  it('json: one object per line with time, event, the fields and the message', () => {
    const lines: string[] = [];
    const log = daemonLog('json', (line) => lines.push(line), clock);
    log.event('night.started', 'night 2026_11_22 started (12 builds)', { date: '2026_11_22', builds: 12, skipped: undefined });
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toEqual({
      time: '2026-11-22T08:05:00.123Z',
      event: 'night.started',
      date: '2026_11_22',
      builds: 12,
      message: 'night 2026_11_22 started (12 builds)',
    });
    expect(Object.keys(JSON.parse(lines[0]!) as object)).toEqual(['time', 'event', 'date', 'builds', 'message']);
  });

  it('never writes credentials found in URLs', () => {
    expect(maskSecrets('sending via smtp://bot:hunter2@mail.example.com:587 failed')).toBe('sending via smtp://***@mail.example.com:587 failed');
    expect(maskSecrets('clone https://x-access-token:ghp_abc@github.com/example/builder.git')).toBe('clone https://***@github.com/example/builder.git');
    expect(maskSecrets('mail builds@example.com at https://example.com/a@b')).toBe('mail builds@example.com at https://example.com/a@b');
    const lines: string[] = [];
    daemonLog('json', (line) => lines.push(line), clock).event('report.failed', 'report not mailed: smtp://u:p@h refused', { url: 'smtp://u:p@h' });
    expect(lines[0]).not.toMatch(/u:p@/);
  });
});
