/**
 * The daemon: this machine's nights and the fleet's morning report, on schedule, in one long-running
 * process. node-cron triggers them in the schedule's time zone; everything else is decided here:
 *
 * - A night is known by its date. A trigger while a night runs is logged and dropped (never stacked);
 *   a trigger for a night already finished on this machine is logged and dropped (so a doubled trigger
 *   changes nothing); otherwise the night starts, or resumes what an earlier run left.
 * - At start: an unfinished night of today (a restart after SIGTERM or a crash) resumes; a night whose
 *   time passed at most `missed_grace` ago and that never ran (the machine was down) starts.
 * - Once a minute a catch-up check looks for a scheduled time that passed with no trigger (node-cron
 *   does not fire for a wall time inside a daylight-saving gap; a stalled machine misses one) and
 *   triggers it: the night of the skipped hour runs one minute after the clocks jumped (see due.ts).
 * - The report runs only on the machine the schedule names (`report.machine`).
 * - stop() (SIGTERM/SIGINT) cancels the running night like `run` does and resolves when all is quiet;
 *   reload() (SIGHUP) swaps in a new configuration, or keeps the old one when the new one is invalid.
 *   A running night keeps the configuration it started with.
 * Nothing that goes wrong in a night or a report stops the daemon: it is logged, and the next trigger
 * comes as usual.
 */
import cron, { type ScheduledTask, type TaskContext } from 'node-cron';
import type { Executor } from '../build/executor.js';
import type { RunnerEvent } from '../runner/run-builds.js';
import type { LoadedConfig } from '../config/load.js';
import type { Schedule } from '../config/model.js';
import type { NightEstimates } from '../runner/estimates.js';
import { nightDate } from '../night/night-date.js';
import { machineBuilds, type ScheduledNightCollaborators, type ScheduledNightOutcome, type ScheduledNightRequest } from '../runner/scheduled-night.js';
import { formatDuration } from '../units.js';
import { missedSlot, nextRun, previousRun, reportNightDate, scheduledOn, startupAction, triggerExpression, type NightProgress } from './due.js';
import type { DaemonLog } from './log.js';
import { describeNextRuns, nextRuns } from './next-runs.js';

export interface DaemonContext {
  config: LoadedConfig;
  schedule: Schedule;
}

export interface DaemonDeps {
  /** This machine's name; load() has checked that the schedule lists it. */
  machine: string;
  /** Loads and checks the configuration (at start and on reload); throws a NightshiftError when it is invalid. */
  load(): Promise<DaemonContext>;
  /** The night's estimates (loadEstimates: shared history at the destination), read once per night; tells trouble to `warn`. */
  estimates(context: DaemonContext, date: string, warn: (line: string) => void): Promise<NightEstimates>;
  /** runScheduledNight, or a stand-in in tests. */
  runNight(request: ScheduledNightRequest, collaborators: ScheduledNightCollaborators): Promise<ScheduledNightOutcome>;
  /** Where night `date` stands on this machine (from its night.json). */
  readProgress(root: string, date: string): Promise<NightProgress>;
  /** Writes the report of night `date` and, with `send`, mails it; tells its progress to `say`; throws when it cannot. */
  report(context: DaemonContext, date: string, send: boolean, say: (line: string) => void): Promise<void>;
  executors: Readonly<Record<'docker' | 'host', Executor>>;
  log: DaemonLog;
  now?: () => Date;
}

/** The catch-up check runs every minute, and leaves node-cron this long to fire a trigger itself. */
const CATCH_UP_CRON = '0 * * * * *';
const CATCH_UP_SLACK_MS = 30_000;
/** A report (reading the destination, mailing) cannot be interrupted; on stop it gets this long. */
const REPORT_STOP_WAIT_MS = 10_000;

export class Daemon {
  private readonly deps: DaemonDeps;
  private readonly now: () => Date;
  private readonly log: DaemonLog['event'];
  private context: DaemonContext | undefined;
  private loadedAt = '';
  private tasks: ScheduledTask[] = [];
  private night: { date: string; done: Promise<void> } | undefined;
  private reporting: { date: string; done: Promise<void> } | undefined;
  /** The last scheduled time a trigger came for (or start/reload time): the catch-up looks after it. */
  private lastNightSlot = 0;
  private lastReportSlot = 0;
  /** The catch-up's memo: the first scheduled time after a given one. */
  private readonly firstAfter = new Map<string, number>();
  private readonly stopController = new AbortController();
  private stopping = false;
  private reloads: Promise<void> = Promise.resolve();
  private markStopped!: () => void;
  /** Resolves when stop() is done: no night, no timers. */
  readonly stopped: Promise<void> = new Promise((resolve) => (this.markStopped = resolve));

  constructor(deps: DaemonDeps) {
    this.deps = deps;
    this.now = deps.now ?? (() => new Date());
    this.log = (event, message, fields) => deps.log.event(event, message, fields);
  }

  /** Loads the configuration (throws when invalid), schedules the triggers and starts or resumes a due night. */
  async start(): Promise<void> {
    const context = await this.deps.load();
    if (this.stopping) return;
    this.install(context);
    const { schedule } = context;
    this.log(
      'daemon.started',
      `daemon started: schedule ${schedule.name} (${schedule.file}), machine ${this.deps.machine}, nights at "${schedule.cron}" in ${schedule.timezone}, pid ${process.pid}`,
      {
        schedule: schedule.name,
        machine: this.deps.machine,
        cron: schedule.cron,
        timezone: schedule.timezone,
        pid: process.pid,
      },
    );
    this.logPlan(context);
    await this.startup(context).catch((error: unknown) => this.log('night.failed', `start-up check failed: ${error instanceof Error ? error.message : String(error)}`));
  }

  /** SIGHUP: reload the configuration; an invalid one is refused and the current one kept. */
  reload(): Promise<void> {
    // One at a time, in order; a reload never throws (it is called from a signal handler).
    this.reloads = this.reloads
      .then(() => this.reloadNow())
      .catch((error: unknown) => this.log('daemon.error', `internal error during reload, please report it: ${stackOf(error)}`));
    return this.reloads;
  }

  /** SIGTERM/SIGINT: no new trigger, the running night's builds are canceled; resolves when done. */
  async stop(signal: string): Promise<void> {
    if (this.stopping) return this.stopped;
    this.stopping = true;
    const night = this.night;
    this.log('daemon.stopping', `${signal}: stopping${night ? `; night ${night.date}'s running builds are canceled and it resumes at the next start` : ''}`, {
      signal,
      date: night?.date,
    });
    this.removeTasks();
    this.stopController.abort(signal);
    await night?.done;
    if (this.reporting) {
      let timer: NodeJS.Timeout | undefined;
      const waited = await Promise.race([this.reporting.done.then(() => true), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), REPORT_STOP_WAIT_MS)))]);
      clearTimeout(timer);
      if (!waited) this.log('report.abandoned', `report ${this.reporting.date} still running after ${REPORT_STOP_WAIT_MS / 1000}s; stopping without it`);
    }
    this.log('daemon.stopped', 'stopped', { signal });
    this.markStopped();
  }

  // ---- triggers ------------------------------------------------------------------------------------

  private install(context: DaemonContext): void {
    const { schedule } = context;
    this.context = context;
    this.loadedAt = this.now().toISOString();
    this.lastNightSlot = this.lastReportSlot = this.now().getTime();
    const options = (name: string) => ({ name, timezone: schedule.timezone, logger: this.cronLogger() });
    // node-cron ANDs day of month and weekday; crontab ORs them when both are given: such an expression
    // triggers every day at its times and the handlers keep the days it names (due.ts).
    const night = cron.schedule(triggerExpression(schedule.cron), (ctx) => this.guard(() => this.onNightTrigger(ctx)), options('nightshift-night'));
    night.on('execution:missed', (ctx) =>
      this.log('cron.missed', `night trigger of ${ctx.date.toISOString()} missed (the machine or the event loop stalled); the catch-up check starts it`),
    );
    this.tasks = [night];
    if (this.sendsReport(schedule)) {
      const report = cron.schedule(triggerExpression(schedule.report!.cron), (ctx) => this.guard(() => this.onReportTrigger(ctx)), options('nightshift-report'));
      report.on('execution:missed', (ctx) => this.log('cron.missed', `report trigger of ${ctx.date.toISOString()} missed; the catch-up check starts it`));
      this.tasks.push(report);
    }
    this.tasks.push(cron.schedule(CATCH_UP_CRON, () => this.guard(() => this.catchUp()), { name: 'nightshift-catch-up', timezone: 'UTC', logger: this.cronLogger() }));
  }

  private removeTasks(): void {
    for (const task of this.tasks.splice(0)) void task.destroy();
  }

  private sendsReport(schedule: Schedule): boolean {
    return schedule.report !== undefined && schedule.report.machine === this.deps.machine;
  }

  /** The start-up lines: when the next night and report come, and who sends the report. */
  private logPlan({ schedule }: DaemonContext): void {
    const next = nextRuns(schedule, this.now());
    this.log('schedule.next', describeNextRuns(next), { night: next.night?.at.toISOString(), report: next.report?.at.toISOString(), timezone: schedule.timezone });
    if (schedule.report && !this.sendsReport(schedule)) {
      this.log('report.elsewhere', `report: sent by ${schedule.report.machine}, not this one`, { machine: schedule.report.machine });
    }
  }

  /** node-cron's own warnings go to the daemon's log, not to the console. */
  private cronLogger() {
    const say = (message: unknown) => this.log('cron.warning', `node-cron: ${message instanceof Error ? message.message : String(message)}`);
    return { info: () => {}, debug: () => {}, warn: say, error: say };
  }

  /** A trigger never throws into node-cron: whatever goes wrong is logged. */
  private guard(work: () => void): void {
    try {
      work();
    } catch (error) {
      this.log('daemon.error', `internal error, please report it: ${stackOf(error)}`);
    }
  }

  private onNightTrigger(ctx: TaskContext): void {
    const { schedule } = this.context!;
    const date = nightDate(ctx.date, schedule.timezone);
    if (!scheduledOn(schedule.cron, date)) return;
    this.lastNightSlot = Math.max(this.lastNightSlot, ctx.date.getTime());
    this.triggerNight(date, 'trigger');
  }

  private onReportTrigger(ctx: TaskContext): void {
    const { schedule } = this.context!;
    if (!scheduledOn(schedule.report!.cron, nightDate(ctx.date, schedule.timezone))) return;
    this.lastReportSlot = Math.max(this.lastReportSlot, ctx.date.getTime());
    this.triggerReport(ctx.date);
  }

  /** Triggers node-cron did not fire (a wall time in a daylight-saving gap, a stalled machine), within missed_grace. */
  private catchUp(): void {
    if (this.stopping || !this.context) return;
    const { schedule } = this.context;
    const now = this.now();
    const look = (cronExpression: string, since: number) => {
      // Nearly always nothing was missed: the first scheduled time after `since` is still to come. That
      // time only changes with a trigger, so it is computed once per trigger, not every minute.
      const key = `${cronExpression} ${schedule.timezone} ${since}`;
      let first = this.firstAfter.get(key);
      if (first === undefined) {
        first = nextRun(cronExpression, schedule.timezone, new Date(since))?.at.getTime() ?? Infinity;
        if (this.firstAfter.size > 16) this.firstAfter.clear();
        this.firstAfter.set(key, first);
      }
      if (first > now.getTime() - CATCH_UP_SLACK_MS) return undefined;
      return missedSlot({ cron: cronExpression, timezone: schedule.timezone, now, since: new Date(since), graceMs: schedule.missedGraceS * 1000, slackMs: CATCH_UP_SLACK_MS });
    };
    const night = look(schedule.cron, this.lastNightSlot);
    if (night) {
      this.lastNightSlot = night.at.getTime();
      this.log('night.catch-up', `night ${night.date}: its time ${night.wall} ${schedule.timezone} passed without a trigger; triggering it now`, {
        date: night.date,
        scheduled: night.at.toISOString(),
      });
      this.triggerNight(night.date, 'catch-up');
    }
    const report = this.sendsReport(schedule) ? look(schedule.report!.cron, this.lastReportSlot) : undefined;
    if (report) {
      this.lastReportSlot = report.at.getTime();
      this.log('report.catch-up', `report: its time ${report.wall} ${schedule.timezone} passed without a trigger; triggering it now`, { scheduled: report.at.toISOString() });
      this.triggerReport(report.at);
    }
  }

  private async startup(context: DaemonContext): Promise<void> {
    const { schedule } = context;
    const now = this.now();
    const today = nightDate(now, schedule.timezone);
    const latest = previousRun(schedule.cron, schedule.timezone, now, schedule.missedGraceS * 1000);
    const todayProgress = await this.deps.readProgress(schedule.root, today);
    const latestProgress = latest ? await this.deps.readProgress(schedule.root, latest.date) : 'none';
    const decision = startupAction({ today, todayProgress, latest, latestProgress });
    if (this.stopping) return;
    if (decision.action === 'none') {
      this.log('night.none-due', `no night to start now: ${decision.reason}`, { missed_grace_s: schedule.missedGraceS });
      return;
    }
    this.log('night.due', `${decision.reason}: ${decision.action === 'resume' ? 'resuming' : 'starting'} it now`, { date: decision.date, action: decision.action });
    this.triggerNight(decision.date, decision.action);
  }

  // ---- the night -----------------------------------------------------------------------------------

  /** Starts night `date` unless a night is running (then the trigger is dropped) or it already finished. */
  private triggerNight(date: string, why: string): void {
    if (this.stopping) return;
    if (this.night) {
      this.log('night.skipped', `night ${date} ${why} skipped: night ${this.night.date} still running`, { date, running: this.night.date, why });
      return;
    }
    // Claimed before the first await, so that no other trigger can start a night meanwhile.
    const claim: { date: string; done: Promise<void> } = { date, done: Promise.resolve() };
    this.night = claim;
    claim.done = this.runNight(this.context!, date, why).finally(() => {
      if (this.night === claim) this.night = undefined;
    });
  }

  private async runNight(context: DaemonContext, date: string, why: string): Promise<void> {
    const { config, schedule } = context;
    const machine = this.deps.machine;
    const started = this.now().getTime();
    try {
      const progress = await this.deps.readProgress(schedule.root, date);
      if (progress === 'finished') {
        this.log('night.skipped', `night ${date} ${why} skipped: it already finished on this machine`, { date, why });
        return;
      }
      if (this.stopping) return;
      const say = (event: string) => (line: string) => this.log(event, `night ${date}: ${line}`, { date });
      const estimates = await this.deps.estimates(context, date, say('night.warning'));
      const builds = machineBuilds(config, schedule, machine, {}, estimates).builds.length;
      const verb = progress === 'unfinished' ? 'resumed' : 'started';
      this.log(`night.${verb}`, `night ${date} ${verb} (${builds} builds)`, { date, builds, why });
      const outcome = await this.deps.runNight(
        { config, schedule, date, machine, purpose: 'daemon', estimates },
        {
          executors: this.deps.executors,
          signal: this.stopController.signal,
          onEvent: (event) => this.buildEvent(date, event),
          say: say('night.progress'),
          warn: say('night.warning'),
        },
      );
      const counts = new Map<string, number>();
      for (const build of outcome.night.state.builds) counts.set(build.status, (counts.get(build.status) ?? 0) + 1);
      const summary = [...counts].map(([status, n]) => `${n} ${status}`).join(', ') || 'nothing to build';
      const took = formatDuration((this.now().getTime() - started) / 1000);
      const upload = outcome.night.upload;
      const fields = { date, took_s: Math.round((this.now().getTime() - started) / 1000), ...Object.fromEntries(counts) };
      if (this.stopController.signal.aborted) {
        this.log('night.stopped', `night ${date} stopped after ${took}: ${summary}`, fields);
        return;
      }
      this.log('night.finished', `night ${date} finished in ${took}: ${summary}`, fields);
      if (upload?.historyWarning) this.log('night.warning', `night ${date}: ${upload.historyWarning}`, { date });
      if (upload?.failed.length)
        this.log('night.warning', `night ${date}: ${upload.failed.length} upload(s) failed; \`nightshift upload --date ${date}\` tries them again`, { date });
    } catch (error) {
      this.log('night.failed', `night ${date} failed: ${(error as Error).message}`, { date });
    }
  }

  private buildEvent(date: string, event: RunnerEvent): void {
    if (event.type === 'start') {
      this.log('build.started', `night ${date}: ${event.id} started`, { date, build: event.id, slot: event.slot });
      return;
    }
    const { record } = event;
    const took = record.duration_s === undefined ? '' : ` after ${formatDuration(record.duration_s)}`;
    // Reasons may repeat the status ("canceled: nightshift was stopped ..."): say it once.
    const reason = record.status === 'succeeded' || !record.reason ? '' : `: ${record.reason.replace(new RegExp(`^${record.status}: `), '')}`;
    this.log('build.finished', `night ${date}: ${record.id} ${record.status}${took}${reason}`, {
      date,
      build: record.id,
      status: record.status,
      duration_s: record.duration_s,
      exit_code: record.exit_code,
    });
  }

  // ---- the report ----------------------------------------------------------------------------------

  private triggerReport(at: Date): void {
    if (this.stopping) return;
    const { schedule } = this.context!;
    const date = reportNightDate(schedule.cron, schedule.timezone, at, nightDate(at, schedule.timezone));
    if (this.reporting) {
      this.log('report.skipped', `report ${date} skipped: the report of ${this.reporting.date} is still being made`, { date });
      return;
    }
    const claim: { date: string; done: Promise<void> } = { date, done: Promise.resolve() };
    this.reporting = claim;
    claim.done = this.makeReport(this.context!, date).finally(() => {
      if (this.reporting === claim) this.reporting = undefined;
    });
  }

  private async makeReport(context: DaemonContext, date: string): Promise<void> {
    const settings = context.schedule.report!;
    // No recipients and no webhooks: the report is still written to the night folder, and the log says why no mail went.
    const send = settings.to.length > 0 || (settings.webhooks?.length ?? 0) > 0;
    const running = this.night?.date === date ? ` (night ${date} is still running here: the report shows it as it stands)` : '';
    this.log('report.started', `report ${date} started${running}`, { date });
    try {
      await this.deps.report(context, date, send, (line) => this.log('report.progress', `report ${date}: ${line}`, { date }));
      const sent = [settings.to.length > 0 ? 'mailed' : '', settings.webhooks?.length ? `posted to ${settings.webhooks.length} webhook(s)` : ''].filter(Boolean).join(' and ');
      if (send) this.log('report.finished', `report ${date} done: ${sent}`, { date, mailed: settings.to.length > 0 });
      else this.log('report.finished', `report ${date} written, not sent: report.to and report.webhooks name no one`, { date, mailed: false });
    } catch (error) {
      this.log('report.failed', `report ${date} not mailed: ${(error as Error).message}`, { date, mailed: false });
    }
  }

  private async reloadNow(): Promise<void> {
    if (this.stopping) return;
    this.log('config.reloading', 'SIGHUP: reloading the configuration');
    let next: DaemonContext;
    try {
      next = await this.deps.load();
    } catch (error) {
      for (const line of (error as Error).message.split('\n').filter(Boolean)) this.log('config.problem', line);
      this.log('config.rejected', `the new configuration is invalid: keeping the one loaded at ${this.loadedAt}`);
      return;
    }
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- stop() may have run during the await above
    if (this.stopping) return;
    this.removeTasks();
    this.install(next);
    const running = this.night ? `; night ${this.night.date} goes on with the configuration it started with` : '';
    this.log('config.reloaded', `configuration reloaded: nights at "${next.schedule.cron}" in ${next.schedule.timezone}${running}`, {
      cron: next.schedule.cron,
      timezone: next.schedule.timezone,
    });
    this.logPlan(next);
  }
}

/** What an internal error report shows: the stack when there is one. */
function stackOf(error: unknown): string {
  return (error instanceof Error ? error.stack : undefined) ?? String(error);
}
