/** `status --all-machines` while the night comes from the shared queue: the live fleet as text and as JSON. */
import type { Schedule } from '../config/model.js';
import type { FleetSnapshot } from '../queue/fleet-snapshot.js';
import { table } from '../output/table.js';
import { formatDuration } from '../units.js';

/** How many waiting builds the text names; the JSON has them all. */
const NEXT_SHOWN = 5;

export interface LiveFleet {
  schedule: Schedule;
  date: string;
  /** The queue's URL, redacted. */
  url: string;
  snapshot: FleetSnapshot;
  now: Date;
}

/** HH:MM of an ISO time in the schedule's time zone. */
export function clockTime(iso: string, timeZone: string): string {
  const time = new Date(iso);
  if (Number.isNaN(time.getTime())) return iso;
  return new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(time);
}

const secondsSince = (iso: string, now: Date) => Math.max(0, (now.getTime() - new Date(iso).getTime()) / 1000);

const isOver = ({ running, waiting }: FleetSnapshot) => running.length === 0 && waiting.length === 0;

function endedCounts(snapshot: FleetSnapshot): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const { status } of snapshot.ended) counts[status] = (counts[status] ?? 0) + 1;
  return counts;
}

export function liveFleetText({ schedule, date, url, snapshot, now }: LiveFleet): string {
  const { running, waiting, ended } = snapshot;
  const zone = schedule.timezone;
  const lines = [`night ${date} · live from the shared queue at ${url} (times in ${zone})`];

  // Every machine of the schedule, and any other that took a build (renamed, or from another config).
  const names = [...new Set([...schedule.machines.map((m) => m.name), ...running.map((r) => r.machine)])];
  const rows = names.flatMap((name) => {
    const mine = running.filter((r) => r.machine === name);
    if (!mine.length) return [[name, '(nothing running)', '', '']];
    return mine.map((r) => [name, r.id, clockTime(r.since, zone), formatDuration(secondsSince(r.since, now))]);
  });
  lines.push(...table([['machine', 'running', 'since', 'for'], ...rows], { alignRight: [3] }));

  const next = waiting.slice(0, NEXT_SHOWN).map((w) => `${w.id} (${formatDuration(w.estimateS)})`);
  const more = waiting.length > NEXT_SHOWN ? `, and ${waiting.length - NEXT_SHOWN} more` : '';
  lines.push(waiting.length ? `waiting: ${waiting.length}, next: ${next.join(', ')}${more}` : 'waiting: none');

  const counts = Object.entries(endedCounts(snapshot)).map(([status, n]) => `${n} ${status}`);
  lines.push(ended.length ? `ended: ${ended.length} (${counts.join(', ')})` : 'ended: none yet');
  const bad = ended.filter((e) => e.status !== 'succeeded');
  if (bad.length) {
    const badRows = bad.map((e) => [e.status, e.id, e.machine ? `on ${e.machine}` : '', e.finished_at ? `at ${clockTime(e.finished_at, zone)}` : '', e.reason ?? '']);
    lines.push(...table(badRows).map((line) => `  ${line}`));
  }
  if (isOver(snapshot)) lines.push('the night is over: nothing waits or runs');
  return lines.join('\n');
}

export function liveFleetJson({ schedule, date, url, snapshot, now }: LiveFleet) {
  return {
    date,
    schedule: schedule.name,
    source: 'queue',
    queue: { url, reachable: true, exists: true },
    running: snapshot.running.map((r) => ({ id: r.id, machine: r.machine, since: r.since, running_s: Math.round(secondsSince(r.since, now)) })),
    waiting: snapshot.waiting.map((w) => ({ id: w.id, estimate_s: w.estimateS })),
    ended: snapshot.ended.map((e) => ({ id: e.id, status: e.status, machine: e.machine ?? null, finished_at: e.finished_at ?? null, reason: e.reason ?? null })),
    counts: { running: snapshot.running.length, waiting: snapshot.waiting.length, ended: endedCounts(snapshot) },
    over: isOver(snapshot),
  };
}
