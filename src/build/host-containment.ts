/**
 * Keeping every process a host build starts inside the build, so that none outlives it — not a
 * `setsid` or double-forked daemon, and not when the runner itself is killed with SIGKILL.
 *
 * On Linux as root a build runs as PID 1 of its own PID namespace:
 *   setpriv --pdeathsig KILL -- unshare --fork --pid --kill-child --mount-proc -- COMMAND...
 * When the namespace's PID 1 (the build's command) ends, the kernel kills everything else in it, and its
 * exit completes only once they are all gone. `--kill-child` kills PID 1 when unshare dies, and
 * `--pdeathsig KILL` kills unshare when the runner dies (the parent-death signal survives the exec), so
 * a runner killed with SIGKILL takes its builds with it at once. What a runner leaves anyway (a kill
 * between spawn and prctl) is found at resume from `work/<id>.pid` and killed before the rerun starts.
 *
 * Measured here (2 cores, kernel 6.18, util-linux 2.38, 40 runs of `sh -c true` each): plain 14 ms,
 * unshare --pid 21 ms, + --mount-proc 26 ms, + setpriv --pdeathsig 39 ms; a cgroup v2 (mkdir, move, exec,
 * rmdir) 21 ms. After kill -9 of the runner a cgroup and a bare unshare leave the build running (2 and 3
 * processes) until something kills them; setpriv + unshare leaves none within 300 ms. cgroups also need a
 * writable, delegated cgroup2 tree, which varies between hosts; a PID namespace needs only root.
 *
 * Elsewhere (not root, no unshare, macOS) the build leads its own process group, as before, and the
 * executor warns once. On Linux a child that left the group (setsid, nohup, a daemon) is still found by
 * its environment (the build's own NIGHTSHIFT_RECIPES); only one that also clears it escapes.
 */
import { execa } from 'execa';
import { accessSync, constants, readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

export type Containment = 'pid-namespace' | 'process-group';

/** What the pid file records of a running build, to kill what a dead runner left. */
export interface TrackedBuild {
  containment: Containment;
  /** The spawned process (unshare, or the command itself), leader of the process group `pid`. */
  pid: number;
  /** Its start time in clock ticks since boot (/proc/<pid>/stat), so a reused pid is never killed. */
  start?: number;
  /** This boot (/proc/sys/kernel/random/boot_id): after a reboot nothing of the build can be left. */
  boot?: string;
  /** The namespace's PID 1 as seen from here. */
  init?: { pid: number; start: number };
  /** An environment entry only this build's processes carry (process group only: the namespace needs none). */
  marker?: string;
}

/** The namespace wrapper's argv, or why this host cannot use it (probed once per process). */
let probe: Promise<{ wrapper: string[] } | { why: string }> | undefined;

export function namespaceWrapper(): Promise<{ wrapper: string[] } | { why: string }> {
  probe ??= (async () => {
    if (process.platform !== 'linux') return { why: `${process.platform} has no PID namespaces` };
    const setpriv = findExecutable('setpriv', process.env.PATH);
    const unshare = findExecutable('unshare', process.env.PATH);
    if (typeof setpriv !== 'string' || typeof unshare !== 'string') return { why: 'util-linux setpriv and unshare are not installed' };
    const wrapper = [setpriv, '--pdeathsig', 'KILL', '--', unshare, '--fork', '--pid', '--kill-child', '--mount-proc', '--'];
    const tried = await execa(wrapper[0]!, [...wrapper.slice(1), 'true'], { reject: false, stdin: 'ignore' });
    if (tried.exitCode === 0) return { wrapper };
    const said = tried.stderr.trim().split('\n')[0] || `exit code ${tried.exitCode ?? 'none'}`;
    return { why: `a PID namespace is not permitted here (${said})` };
  })();
  return probe;
}

/**
 * The absolute path of `file` as execvp would find it (PATH of the build's environment; a name with a
 * slash is relative to `cwd`), or why it cannot be run: checked here because under unshare a missing
 * command would only show as exit code 127.
 */
export function findExecutable(file: string, pathVar: string | undefined, cwd = process.cwd()): string | { error: string } {
  const candidates = file.includes('/') ? [path.resolve(cwd, file)] : (pathVar ?? '/usr/local/bin:/usr/bin:/bin').split(':').map((dir) => path.resolve(cwd, dir || '.', file));
  let notExecutable = false;
  for (const candidate of candidates) {
    try {
      if (!statSync(candidate).isFile()) continue;
    } catch {
      continue;
    }
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      notExecutable = true;
    }
  }
  return { error: notExecutable ? `command not executable: ${file}` : `command not found: ${file}` };
}

/** The pid file of a build whose work folder is `workDir`: beside it, where the build's own tree cannot remove it. */
export function pidFileOf(workDir: string): string {
  return `${workDir}.pid`;
}

/** Records the spawned build in its pid file; in a namespace, once its PID 1 shows up (within a second). */
export async function track(containment: Containment, pid: number, pidFile: string, marker: string): Promise<TrackedBuild> {
  const tracked: TrackedBuild = { containment, pid, start: startTime(pid), boot: bootId(), ...(containment === 'process-group' && { marker }) };
  await writePidFile(pidFile, tracked);
  if (containment !== 'pid-namespace') return tracked;
  for (let i = 0; i < 200 && tracked.init === undefined && isSame(pid, tracked.start); i++) {
    const child = childrenOf(pid)[0];
    const start = child === undefined ? undefined : startTime(child);
    if (child !== undefined && start !== undefined) tracked.init = { pid: child, start };
    else await delay(5);
  }
  if (tracked.init) await writePidFile(pidFile, tracked);
  return tracked;
}

/**
 * Whole or not at all (temporary file, then rename), so a reader never finds half a record. A pid file
 * that cannot be written costs only the cleanup after a dead runner, never the build: it is not an error.
 */
async function writePidFile(pidFile: string, tracked: TrackedBuild): Promise<void> {
  const temp = `${pidFile}.${process.pid}.tmp`;
  try {
    await writeFile(temp, `${JSON.stringify(tracked)}\n`);
    await rename(temp, pidFile);
  } catch {
    await rm(temp, { force: true }).catch(() => {});
  }
}

/** Whether any process of the build still runs (zombies do not count). */
export function buildAlive(tracked: TrackedBuild): boolean {
  // The namespace lives exactly as long as its PID 1: its exit waits for every other member.
  if (tracked.init && isSame(tracked.init.pid, tracked.init.start)) return true;
  return groupAlive(tracked.pid) || (tracked.marker !== undefined && carrying(tracked.marker).length > 0);
}

/** SIGTERM to every process of the build, then SIGKILL to what is left after `graceMs`; resolves when none is left. */
export async function killBuild(tracked: TrackedBuild, graceMs: number): Promise<void> {
  signalBuild(tracked, 'SIGTERM');
  if (await gone(tracked, graceMs)) return;
  signalBuild(tracked, 'SIGKILL');
  await gone(tracked, 10_000);
}

/**
 * Kills what a runner that died left of a build (by the pid file) and waits until it is gone, so that
 * nothing of it writes into the rerun's folders. True when something was still running.
 */
export async function killLeftovers(pidFile: string): Promise<boolean> {
  let tracked: TrackedBuild;
  try {
    tracked = JSON.parse(await readFile(pidFile, 'utf8')) as TrackedBuild;
  } catch {
    return false; // none, or written half by a runner killed at that moment: its build had just started
  }
  let found = false;
  if (tracked.boot === bootId()) {
    // A pid whose start time differs is another process now; a group with members keeps its number.
    const leaderReused = startTime(tracked.pid) !== undefined && !isSame(tracked.pid, tracked.start);
    const safe: TrackedBuild = { ...tracked, pid: leaderReused ? -1 : tracked.pid };
    found = buildAlive(safe);
    if (found) {
      signalBuild(safe, 'SIGKILL');
      await gone(safe, 10_000);
    }
  }
  await rm(pidFile, { force: true });
  return found;
}

export async function forgetBuild(pidFile: string): Promise<void> {
  await rm(pidFile, { force: true });
}

function signalBuild(tracked: TrackedBuild, signal: NodeJS.Signals): void {
  // PID 1 of a namespace takes only SIGKILL (or a signal it handles) from here; it takes the rest down with it.
  if (tracked.init && isSame(tracked.init.pid, tracked.init.start)) {
    for (const pid of namespaceMembers(tracked.init.pid)) send(pid, signal);
    send(tracked.init.pid, signal);
  }
  if (tracked.pid > 0) send(-tracked.pid, signal);
  if (tracked.marker !== undefined) for (const pid of carrying(tracked.marker)) send(pid, signal);
}

async function gone(tracked: TrackedBuild, withinMs: number): Promise<boolean> {
  const deadline = Date.now() + withinMs;
  while (buildAlive(tracked)) {
    if (Date.now() >= deadline) return false;
    await delay(25);
  }
  return true;
}

function send(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // ESRCH: gone already.
  }
}

/**
 * Whether any process of the group still runs. On Linux zombies do not count: where PID 1 does not
 * reap orphans (some containers), a killed grandchild stays a zombie for good.
 */
function groupAlive(pgid: number): boolean {
  if (pgid <= 0) return false;
  if (pgid === process.pid) return false;
  try {
    process.kill(-pgid, 0);
  } catch {
    return false;
  }
  if (process.platform !== 'linux') return true;
  return processes().some((p) => p.pgrp === pgid && p.state !== 'Z');
}

/** The processes in the PID namespace whose PID 1 is `init` (host pids), found by /proc/<pid>/ns/pid. */
function namespaceMembers(init: number): number[] {
  const ns = readLink(`/proc/${init}/ns/pid`);
  if (ns === undefined) return [];
  return processes()
    .filter((p) => p.pid !== init && readLink(`/proc/${p.pid}/ns/pid`) === ns)
    .map((p) => p.pid);
}

/** Live processes (of any user this one may read) whose environment holds `entry` exactly. */
function carrying(entry: string): number[] {
  if (process.platform !== 'linux') return [];
  const needle = Buffer.from(`\0${entry}\0`);
  return processes()
    .filter((p) => p.state !== 'Z' && p.pid !== process.pid)
    .filter((p) => {
      try {
        return Buffer.concat([Buffer.from([0]), readFileSync(`/proc/${p.pid}/environ`)]).includes(needle);
      } catch {
        return false; // another user's, or exited meanwhile
      }
    })
    .map((p) => p.pid);
}

interface ProcStat {
  pid: number;
  state: string;
  ppid: number;
  pgrp: number;
  start: number;
}

function processes(): ProcStat[] {
  const all: ProcStat[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = procStat(Number(entry));
    if (stat) all.push(stat);
  }
  return all;
}

function procStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined; // exited meanwhile, or no /proc
  }
  // "pid (comm) state ppid pgrp ... starttime(22nd)": comm may hold spaces and parentheses.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { pid, state: fields[0]!, ppid: Number(fields[1]), pgrp: Number(fields[2]), start: Number(fields[19]) };
}

function startTime(pid: number): number | undefined {
  return procStat(pid)?.start;
}

/** The same process as recorded, still running (a zombie has ended). */
function isSame(pid: number, start: number | undefined): boolean {
  const stat = procStat(pid);
  return stat !== undefined && stat.state !== 'Z' && (start === undefined || stat.start === start);
}

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(' ').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function readLink(file: string): string | undefined {
  try {
    return readlinkSync(file);
  } catch {
    return undefined;
  }
}

function bootId(): string | undefined {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return undefined;
  }
}
