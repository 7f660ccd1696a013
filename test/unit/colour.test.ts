import { describe, expect, it } from 'vitest';
import { colourWanted, colours, fitWidth, visibleLength } from '../../src/output/colour.js';
import { table } from '../../src/output/table.js';

describe('colourWanted', () => {
  it('is on for a terminal, off for a pipe, with NO_COLOR set and not empty, and with TERM=dumb', () => {
    expect(colourWanted({ isTTY: true, env: { TERM: 'xterm-256color' } })).toBe(true);
    expect(colourWanted({ isTTY: false, env: { TERM: 'xterm-256color' } })).toBe(false);
    expect(colourWanted({ isTTY: true, env: { NO_COLOR: '1' } })).toBe(false);
    expect(colourWanted({ isTTY: true, env: { NO_COLOR: '' } })).toBe(true);
    expect(colourWanted({ isTTY: true, env: { TERM: 'dumb' } })).toBe(false);
  });

  it('FORCE_COLOR turns it on without a terminal, but NO_COLOR still wins', () => {
    expect(colourWanted({ isTTY: false, env: { FORCE_COLOR: '1' } })).toBe(true);
    expect(colourWanted({ isTTY: false, env: { FORCE_COLOR: '0' } })).toBe(false);
    expect(colourWanted({ isTTY: false, env: { FORCE_COLOR: '1', NO_COLOR: '1' } })).toBe(false);
  });
});

describe('colours', () => {
  it('paints status words only for an output that takes colour', () => {
    expect(colours({}).status('failed')).toBe('failed');
    expect(colours({ colour: false }).status('2 canceled', 'canceled')).toBe('2 canceled');
    expect(colours({ colour: true }).status('succeeded')).toBe('\x1b[32msucceeded\x1b[0m');
    expect(colours({ colour: true }).status('2 canceled', 'canceled')).toBe('\x1b[33m2 canceled\x1b[0m');
    // A timeout is never shown as a plain failure.
    expect(colours({ colour: true }).status('timed_out')).not.toBe(colours({ colour: true }).status('timed_out', 'failed'));
  });

  it('measures and cuts text by what a terminal shows', () => {
    const red = colours({ colour: true }).status('failed');
    expect(visibleLength(`${red} a_1`)).toBe(10);
    expect(fitWidth('abcdefgh', 5)).toBe('abcd…');
    expect(visibleLength(fitWidth(`${red} a_very_long_id`, 8))).toBe(8);
    expect(fitWidth(`${red} a_very_long_id`, 8).endsWith('\x1b[0m')).toBe(true);
  });

  it('keeps table columns aligned when a cell is coloured', () => {
    const cells = [
      ['build', 'status', 'exit'],
      ['a_1', 'succeeded', '0'],
      ['a_2', 'failed', '2'],
    ];
    const paint = colours({ colour: true });
    const coloured = table(cells.map(([build, status, exit]) => [build!, paint.status(status!), exit!]));
    // eslint-disable-next-line no-control-regex -- removing the escapes is the point
    expect(coloured.map((row) => row.replace(/\x1b\[[0-9;]*m/g, ''))).toEqual(table(cells));
    expect(coloured[2]).toBe('a_2    \x1b[1;31mfailed\x1b[0m     2');
  });
});
