/**
 * The slot runner: a machine's builds, `slots` at a time, the longest expected first (ties: the order
 * given), admitted within the machine's memory/cpus/gpus budget (admission.ts: a build that does not fit waits
 * while a smaller one that fits may start; one larger than the whole budget fails without running).
 * Each build streams its output to logs/running/<id>.log, which is renamed into logs/succeeded or
 * logs/failed when it ends; night.json is updated at every start and end. A failed build is a result,
 * never an exception: one build's trouble does not stop the others.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Cell, Matrix } from '../config/model.js';
import { artifactDir, finishedLog, runningLog, workDir, type EndStatus, type NightLayout } from '../night/layout.js';
import { keepAttemptLog } from '../night/attempt-logs.js';
import { appendMasterLog } from '../night/open-night.js';
import type { ArtifactRecord, AttemptRecord, BuildRecord, NightStateStore } from '../night/state.js';
import { formatDuration } from '../units.js';
import { ExitCode, NightshiftError } from '../errors.js';
import { diskFullError, diskFullUnder, isDiskFull, mountPointOf } from '../files.js';
import { Admission, type Budget, type Needs } from './admission.js';
import { listArtifacts } from '../build/artifacts.js';
import { buildEnv, renderCommand, renderImage } from '../build/build-env.js';
import { cacheMount } from '../build/cache.js';
import type { ExecuteResult, Executors } from '../build/executor.js';
import { scanLogForFirstError } from '../night/first-error.js';
import { buildOutcome, footerLine, onFullDisk, type Outcome } from '../build/outcome.js';
import { retryReason } from './retry.js';
import { CANCELED_BY_REQUEST, type CancelWatch } from '../night/cancel-requests.js';

export type RunnerEvent =
  | { type: 'start'; id: string; slot: number }
  /** Slot 0: the build was refused without running (it needs more than the machine's whole budget). */
  | { type: 'finish'; id: string; slot: number; record: BuildRecord };

export interface RunBuildsOptions {
  layout: NightLayout;
  /** In start order (it breaks ties between equal estimates). */
  cells: readonly Cell[];
  /** Expected seconds of a cell (history, else the matrix estimate): admission starts the longest that fits. Default: the matrix estimate. */
  estimate?: (cell: Cell) => number;
  slots: number;
  /** The machine's memory (bytes), cpus and gpus: builds reserve their declared resources within it. Unlimited when left out. */
  budget?: Omit<Budget, 'slots'>;
  matrix: Matrix;
  machine: string;
  store: NightStateStore;
  executors: Executors;
  /** Aborted on SIGINT/SIGTERM: nothing new starts, running builds are killed and marked canceled. */
  signal: AbortSignal;
  /** Requests of `nightshift cancel`: a running build named is stopped, a waiting one ends canceled without starting. */
  cancels?: CancelWatch;
  onEvent?: (event: RunnerEvent) => void;
  now?: () => Date;
}

/** Runs the builds and resolves with each one's final record, in the order they finished. */
export async function runBuilds(options: RunBuildsOptions): Promise<BuildRecord[]> {
  const admission = new Admission({ slots: Math.max(1, options.slots), ...options.budget });
  const freeSlots = new SlotNumbers();
  const records: BuildRecord[] = [];
  const errors: unknown[] = [];
  const estimate = options.estimate ?? ((cell: Cell) => cell.package.estimateS);
  const waiting = options.cells.map((cell) => ({ id: cell.id, cell, estimateS: estimate(cell), ...needsOf(cell) }));

  // A build larger than the whole budget would wait forever: it fails now, without running.
  for (const build of [...waiting]) {
    const reason = admission.exceedsBudget(build);
    if (reason === undefined || options.signal.aborted) continue;
    waiting.splice(waiting.indexOf(build), 1);
    try {
      records.push(await endUnstarted(build.cell, 'failed', reason, options));
    } catch (error) {
      errors.push(error);
    }
  }

  let running = 0;
  const started = new Set<string>();
  let stopWatching = () => {};
  await new Promise<void>((resolve) => {
    const settle = () => {
      if (running === 0 && (options.signal.aborted || waiting.length === 0 || admission.pick(waiting) === undefined)) resolve();
    };
    const pump = () => {
      // On abort nothing new starts; the running builds are canceled by their executors.
      while (!options.signal.aborted) {
        const id = admission.pick(waiting);
        if (id === undefined) break;
        const build = waiting.splice(
          waiting.findIndex((b) => b.id === id),
          1,
        )[0]!;
        admission.start(build);
        const slot = freeSlots.take();
        running++;
        started.add(id);
        runOne(build.cell, slot, options)
          .then(
            (record) => void records.push(record),
            (error: unknown) => void errors.push(error),
          )
          .finally(() => {
            admission.finish(build);
            freeSlots.give(slot);
            started.delete(id);
            running--;
            pump();
          });
      }
      settle();
    };
    // A waiting build named by `nightshift cancel` ends now, without starting; a running one is stopped by its own signal (runOne).
    stopWatching =
      options.cancels?.onRequest((id) => {
        const at = waiting.findIndex((b) => b.id === id);
        if (at === -1 || options.signal.aborted) {
          if (!started.has(id)) void options.cancels!.dismiss(id).catch(() => undefined); // not a build this run starts
          return;
        }
        const build = waiting.splice(at, 1)[0]!;
        running++;
        endUnstarted(build.cell, 'canceled', CANCELED_BY_REQUEST, options)
          .then(
            (record) => void records.push(record),
            (error: unknown) => void errors.push(error),
          )
          .finally(() => {
            running--;
            pump();
          });
      }) ?? stopWatching;
    options.signal.addEventListener('abort', settle, { once: true });
    pump();
  });
  stopWatching();
  // Only nightshift's own bookkeeping can throw here (a failed build is a record); the other builds ran.
  // It is never swallowed: night.json no longer says where the night stands.
  if (errors.length) throw bookkeepingError(errors[0], options.store.file);
  return records;
}

/**
 * A file system error while keeping the night's records (night.json, logs) is the machine's trouble,
 * told with the file and what to do (exit 4); anything else is a bug and stays as it is (exit 70).
 */
export function bookkeepingError(error: unknown, stateFile: string): unknown {
  const { code, path: file } = (error ?? {}) as NodeJS.ErrnoException;
  const cause = error instanceof NightshiftError ? error : isDiskFull(error) ? diskFullError(file ?? stateFile, error) : undefined;
  const message = cause?.message ?? (typeof code === 'string' && /^E[A-Z]+$/.test(code) ? (error as Error).message : undefined);
  if (message === undefined) return error;
  return new NightshiftError(
    `the night's records could not be kept, so ${stateFile} may show builds that ended as running: ${message}; once that is fixed, \`nightshift run\` runs them again`,
    ExitCode.serviceUnavailable,
    { cause: error },
  );
}

/**
 * A line in nightshift's own diary of the night (logs/master). A full disk must not stop a build or
 * its record in night.json over it, so such a line is left out; other errors are thrown.
 */
async function masterLine(layout: NightLayout, name: string, line: string): Promise<void> {
  await appendMasterLog(layout, name, line).catch((error: unknown) => {
    if (!isDiskFull(error)) throw error;
  });
}

/** What a cell reserves while it runs: its package's declared resources. */
export function needsOf(cell: Cell): Needs {
  const { memoryBytes, cpus, gpus } = cell.package.resources;
  return { memory: memoryBytes, cpus, gpus };
}

/**
 * A build that ends without starting: one that can never fit this machine (failed), or one `nightshift cancel`
 * named before it started (canceled). Recorded with the reason; its request, if any, is handled.
 */
async function endUnstarted(cell: Cell, status: 'failed' | 'canceled', reason: string, options: BuildOptions): Promise<BuildRecord> {
  const { layout, store } = options;
  const now = options.now ?? (() => new Date());
  const at = now().toISOString();
  const state = await store.update((s) => {
    const record = s.builds.find((b) => b.id === cell.id)!;
    Object.assign(record, {
      status,
      image: renderImage(cell, layout.date, options.machine),
      started_at: undefined,
      finished_at: at,
      duration_s: undefined,
      exit_code: undefined,
      reason,
      log: undefined,
      artifacts: undefined,
    } satisfies Partial<BuildRecord>);
  });
  const record = state.builds.find((b) => b.id === cell.id)!;
  await masterLine(layout, 'run', `${status} ${cell.id} without running: ${reason}`);
  if (options.cancels?.requested(cell.id)) await options.cancels.handled(cell.id);
  options.onEvent?.({ type: 'finish', id: cell.id, slot: 0, record });
  return record;
}

/** What running one build needs of the runner's options. */
export type BuildOptions = Pick<RunBuildsOptions, 'layout' | 'matrix' | 'machine' | 'store' | 'executors' | 'signal' | 'cancels' | 'onEvent' | 'now'>;

/** Runs one build (and the retries its package allows) in `slot`; its record must be in night.json. Resolves with its final record. */
export async function runOne(cell: Cell, slot: number, options: BuildOptions): Promise<BuildRecord> {
  const { layout, store } = options;
  const id = cell.id;
  // Named by `nightshift cancel` between being taken and starting: it never starts.
  if (options.cancels?.requested(id)) return endUnstarted(cell, 'canceled', CANCELED_BY_REQUEST, options);
  // Every attempt of a retried build, each with its own log; the last one's log is the build's log.
  const attempts: AttemptRecord[] = [];
  for (let number = 1; ; number++) {
    const attempt = await runAttempt(cell, slot, options, number);
    // Kept logs are named by the build's count of starts this night, which earlier runs' logs share.
    const started = store.get().builds.find((b) => b.id === id)!.attempt;
    // Only a failed attempt runs again (retry.ts), so its outcome says why.
    if (attempt.retry !== undefined && attempt.outcome.status !== 'succeeded') {
      const kept = attempt.logPath && (await keepAttemptLog(layout, id, attempt.logPath, started));
      attempts.push(attemptRecord(layout, started, attempt, kept));
      await store.update((s) => {
        s.builds.find((b) => b.id === id)!.attempts = structuredClone(attempts);
      });
      await masterLine(layout, `slot-${slot}`, `attempt ${number} of ${id} ${attempt.outcome.status} (${attempt.outcome.reason}); runs again: ${attempt.retry}`);
      continue;
    }
    const finalLog = attempt.logPath && (await moveLog(layout, id, attempt.logPath, attempt.outcome.status));
    const firstError = finalLog && attempt.outcome.status !== 'succeeded' ? await scanLogForFirstError(finalLog) : null;
    if (attempts.length) attempts.push(attemptRecord(layout, started, attempt, finalLog));
    const { outcome, result } = attempt;
    // A retried build's duration counts from its first attempt's start: what it cost the night.
    const durationMs = attempts.length ? attempt.finishedAt.getTime() - Date.parse(attempts[0]!.started_at) : result.durationMs;
    const state = await store.update((s) => {
      const record = s.builds.find((b) => b.id === id)!;
      Object.assign(record, {
        status: outcome.status,
        finished_at: attempt.finishedAt.toISOString(),
        duration_s: Math.round(durationMs / 100) / 10,
        exit_code: result.exitCode,
        reason: outcome.reason,
        log: finalLog && path.relative(layout.dir, finalLog),
        first_error: firstError ?? undefined,
        artifacts: attempt.artifacts,
        attempts: attempts.length ? attempts : undefined,
      } satisfies Partial<BuildRecord>);
    });
    const record = state.builds.find((b) => b.id === id)!;
    await masterLine(layout, `slot-${slot}`, `${outcome.status} ${id} after ${formatDuration(record.duration_s ?? 0)}${outcome.reason ? ` (${outcome.reason})` : ''}`);
    if (options.cancels?.requested(id)) await options.cancels.handled(id);
    options.onEvent?.({ type: 'finish', id, slot, record });
    return record;
  }
}

interface Attempt {
  startedAt: Date;
  finishedAt: Date;
  result: ExecuteResult;
  outcome: Outcome;
  artifacts: ArtifactRecord[];
  /** The attempt's log in logs/running/, closed; undefined when it could not even be created. */
  logPath?: string;
  /** Why it runs again (the package's `retry` names its failure), if it does. */
  retry?: string;
}

function attemptRecord(layout: NightLayout, number: number, attempt: Attempt, log: string | undefined): AttemptRecord {
  return {
    attempt: number,
    started_at: attempt.startedAt.toISOString(),
    finished_at: attempt.finishedAt.toISOString(),
    exit_code: attempt.result.exitCode,
    status: attempt.outcome.status,
    ...(attempt.outcome.reason !== undefined && { reason: attempt.outcome.reason }),
    ...(log !== undefined && { log: path.relative(layout.dir, log) }),
  };
}

/** One run of the build's command: its log in logs/running/, night.json saying it runs, its outcome. */
async function runAttempt(cell: Cell, slot: number, options: BuildOptions, number: number): Promise<Attempt> {
  const { layout, store, machine } = options;
  const now = options.now ?? (() => new Date());
  const id = cell.id;
  // The night's stop signal, or this build's own request of `nightshift cancel`: either kills it like a timeout does.
  const canceledByRequest = options.cancels?.signalFor(id);
  const signal = canceledByRequest ? AbortSignal.any([options.signal, canceledByRequest]) : options.signal;
  const outDir = artifactDir(layout, id);
  const logPath = runningLog(layout, id);
  const image = renderImage(cell, layout.date, machine);
  const command = renderCommand(cell, layout.date, machine);
  // Every attempt starts from an empty output folder, so old artifacts are never mistaken for new ones.
  await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });

  const startedAt = now();
  await store.update((state) => {
    const record = state.builds.find((b) => b.id === id)!;
    const first =
      number === 1 &&
      ({
        status: 'running',
        image,
        started_at: startedAt.toISOString(),
        finished_at: undefined,
        duration_s: undefined,
        exit_code: undefined,
        reason: undefined,
        artifacts: undefined,
        attempts: undefined,
      } satisfies Partial<BuildRecord>);
    Object.assign(record, first || {}, { attempt: record.attempt + 1, log: path.relative(layout.dir, logPath) });
  });
  if (number === 1) options.onEvent?.({ type: 'start', id, slot });
  const attemptNote = cell.package.retry && number > 1 ? ` (attempt ${number} of ${cell.package.retry.attempts})` : '';
  await masterLine(layout, `slot-${slot}`, `start ${id}${attemptNote}`);

  // The log is the build's own record: writing it may fail (disk full), which fails the build, never the night.
  let logFd: number | undefined;
  let logError: unknown;
  const toLog = (text: string) => {
    if (logFd === undefined || logError !== undefined) return;
    try {
      writeSync(logFd, text);
    } catch (error) {
      logError = error;
    }
  };
  let result: ExecuteResult;
  try {
    logFd = openSync(logPath, 'w');
  } catch (error) {
    logError = error;
  }
  try {
    if (logFd === undefined) throw new Error(`could not create its log ${logPath}: ${(logError as Error).message}`);
    const of = cell.package.retry ? `, attempt ${number} of ${cell.package.retry.attempts}` : '';
    toLog(`nightshift: ${id} on ${machine}, night ${layout.date}, started ${startedAt.toISOString()}${of}\n`);
    toLog(`nightshift: ${image ? `image ${image}, ` : 'on the host, '}command ${JSON.stringify(command)}\n`);
    const cache = cacheMount(cell, layout.root, layout.date, machine);
    if (cache) toLog(`nightshift: cache ${cache.hostDir}${cache.path ? ` mounted at ${cache.path}` : ''}\n`);
    result = await options.executors[cell.package.executor].run({
      id,
      date: layout.date,
      machine,
      root: layout.root,
      command,
      env: buildEnv({ cell, matrixEnv: options.matrix.env, date: layout.date, machine }),
      image: image ?? undefined,
      resources: cell.package.resources,
      network: cell.package.network,
      recipesDir: layout.recipes,
      outDir,
      workDir: workDir(layout, id),
      cache,
      logFd,
      timeoutMs: cell.package.timeoutS * 1000,
      signal,
    });
  } catch (error) {
    // An executor bug must not take the night down: record it as this build's failure.
    result = {
      exitCode: null,
      timedOut: false,
      canceled: false,
      startError: `nightshift could not run the build: ${(error as Error).message}`,
      durationMs: now().getTime() - startedAt.getTime(),
    };
  }

  let artifacts = await listArtifacts(outDir).catch(() => []);
  let outcome = buildOutcome(result, artifacts.length, cell.package.artifacts, cell.package.timeoutS, {
    machine,
    logError: logError === undefined ? undefined : (logError as Error).message,
  });
  if (outcome.status === 'canceled' && canceledByRequest?.aborted && !options.signal.aborted) outcome = { status: 'canceled', reason: CANCELED_BY_REQUEST };
  if (outcome.status === 'failed' && (isDiskFull(logError) || (await diskFullUnder(layout.dir)))) {
    // A failed build's partial files are of no use, and the night's records need the space.
    await rm(outDir, { recursive: true, force: true });
    await rm(workDir(layout, id), { recursive: true, force: true });
    artifacts = [];
    outcome = onFullDisk(outcome, mountPointOf(layout.dir));
  }
  const retry =
    logFd !== undefined && !signal.aborted
      ? retryReason(cell.package.retry, number, outcome, result.exitCode, outcome.status === 'failed' && cell.package.retry ? await readLogTail(logPath) : '')
      : undefined;
  if (logFd !== undefined) {
    const again = retry ? ` · attempt ${number} of ${cell.package.retry!.attempts}, runs again: ${retry}` : '';
    toLog(`\n${footerLine(outcome, result.exitCode, result.durationMs)}${again}\n`);
    closeSync(logFd);
  }
  return { startedAt, finishedAt: now(), result, outcome, artifacts, logPath: logFd === undefined ? undefined : logPath, retry };
}

const RETRY_MATCH_BYTES = 1024 * 1024;

/** The end of a log, where a build's failure is told, for `retry.on` patterns. */
async function readLogTail(file: string): Promise<string> {
  const handle = await open(file, 'r').catch(() => undefined);
  if (!handle) return '';
  try {
    const size = (await handle.stat()).size;
    const length = Math.min(size, RETRY_MATCH_BYTES);
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await handle.read(buffer, 0, length, size - length);
    return buffer.toString('utf8', 0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** Rename (atomic) into succeeded/ or failed/, removing the other folder's copy of an earlier attempt. */
async function moveLog(layout: NightLayout, id: string, from: string, status: EndStatus): Promise<string> {
  const to = finishedLog(layout, id, status);
  const other = finishedLog(layout, id, status === 'succeeded' ? 'failed' : 'succeeded');
  await rm(other, { force: true });
  await rename(from, to);
  return to;
}

/** Slot numbers 1..n, the lowest free one first, so master logs read like the old per-queue logs. */
export class SlotNumbers {
  private readonly busy = new Set<number>();
  take(): number {
    let slot = 1;
    while (this.busy.has(slot)) slot++;
    this.busy.add(slot);
    return slot;
  }
  give(slot: number): void {
    this.busy.delete(slot);
  }
}
