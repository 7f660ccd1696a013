/**
 * A Daemon with the real node-cron triggers and decisions but stand-in nights and reports, for tests
 * under vitest's fake timers: a night "runs" for `nightMs` of (fake) time and records its date.
 */
import type { LoadedConfig } from '../../src/config/load.js';
import type { Matrix, Schedule } from '../../src/config/model.js';
import { Daemon, type DaemonContext, type DaemonDeps } from '../../src/daemon/daemon.js';
import type { NightProgress } from '../../src/daemon/due.js';
import type { LogFields } from '../../src/daemon/log.js';
import { configEstimates } from '../../src/runner/estimates.js';
import type { ScheduledNightOutcome } from '../../src/runner/scheduled-night.js';
import type { BuildRecord } from '../../src/night/state.js';
import { cell } from './model.js';

export interface ScheduleSpec {
  cron: string;
  timezone?: string;
  missedGraceS?: number;
  report?: { cron: string; machine?: string; to?: string[]; webhooks?: string[] };
}

export function testContext(spec: ScheduleSpec): DaemonContext {
  const machines = [
    { name: 'm1', slots: 1 },
    { name: 'm2', slots: 1 },
  ];
  const schedule: Schedule = {
    name: 'nightly',
    file: 'schedules/nightly.yaml',
    cron: spec.cron,
    timezone: spec.timezone ?? 'UTC',
    root: '/nonexistent/nightshift-daemon-test',
    keepDays: 5,
    cacheSizeBytes: 50 * 1024 ** 3,
    missedGraceS: spec.missedGraceS ?? 6 * 3600,
    machines,
    upload: { to: 'file:///nonexistent/{date}', key: '{id}/{file}', pathStyle: false, attempts: 1 },
    report: spec.report && { cron: spec.report.cron, machine: spec.report.machine ?? 'm1', to: spec.report.to ?? [], when: 'always', webhooks: spec.report.webhooks ?? [] },
  };
  const config: LoadedConfig = { dir: '/nonexistent', matrix: {} as Matrix, cells: [cell('wheel_3.12', 60), cell('lib_cpu', 30)], schedules: [schedule] };
  return { config, schedule };
}

export interface LoggedEvent {
  time: Date;
  event: string;
  message: string;
  fields: LogFields;
}

export interface Harness {
  daemon: Daemon;
  /** Every night started or resumed, in order. */
  nights: { date: string; at: Date; aborted: boolean }[];
  reports: { date: string; send: boolean; at: Date }[];
  events: LoggedEvent[];
  progress: Map<string, NightProgress>;
  /** What the next load() returns or throws (a reload). */
  setLoad(next: DaemonContext | Error): void;
  /** Events of one kind, e.g. 'night.skipped'. */
  of(event: string): LoggedEvent[];
  /** Nights per date. */
  perDate(): Record<string, number>;
}

export interface HarnessOptions {
  machine?: string;
  /** How long a night takes, in ms of fake time (default 10 minutes). */
  nightMs?: number;
  /** Make runNight throw this. */
  nightError?: Error;
  reportError?: Error;
}

export function makeHarness(spec: ScheduleSpec, options: HarnessOptions = {}): Harness {
  let load: DaemonContext | Error = testContext(spec);
  const nights: Harness['nights'] = [];
  const reports: Harness['reports'] = [];
  const events: LoggedEvent[] = [];
  const progress = new Map<string, NightProgress>();
  const deps: DaemonDeps = {
    machine: options.machine ?? 'm1',
    load: () => (load instanceof Error ? Promise.reject(load) : Promise.resolve(load)),
    estimates: () => Promise.resolve(configEstimates),
    runNight: async (request, collaborators) => {
      const record = { date: request.date, at: new Date(), aborted: false };
      nights.push(record);
      if (options.nightError) throw options.nightError;
      progress.set(request.date, 'unfinished');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, options.nightMs ?? 10 * 60_000);
        collaborators.signal.addEventListener('abort', () => {
          clearTimeout(timer);
          record.aborted = true;
          resolve();
        });
      });
      progress.set(request.date, record.aborted ? 'unfinished' : 'finished');
      const builds = [{ id: 'wheel_3.12', status: record.aborted ? 'canceled' : 'succeeded' } as BuildRecord];
      return { night: { state: { builds }, ran: builds, kept: [] } } as unknown as ScheduledNightOutcome;
    },
    readProgress: (_root, date) => Promise.resolve(progress.get(date) ?? 'none'),
    report: (_context, date, send, say) => {
      reports.push({ date, send, at: new Date() });
      say('written to /nonexistent/report.html');
      return options.reportError ? Promise.reject(options.reportError) : Promise.resolve();
    },
    executors: {} as DaemonDeps['executors'],
    log: { event: (event, message, fields = {}) => void events.push({ time: new Date(), event, message, fields }) },
  };
  const harness: Harness = {
    daemon: new Daemon(deps),
    nights,
    reports,
    events,
    progress,
    setLoad: (next) => void (load = next),
    of: (event) => events.filter((e) => e.event === event),
    perDate: () => {
      const counts: Record<string, number> = {};
      for (const night of nights) counts[night.date] = (counts[night.date] ?? 0) + 1;
      return counts;
    },
  };
  return harness;
}
