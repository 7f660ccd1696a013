/**
 * `nightshift shell ID [--command CMD]`: debug a build as the night ran it. A docker build gets a shell in
 * its own image with its environment, recipes (/recipes, read-only), artifact folder (/out), cache, network
 * and resources, through the same `docker run` options as the build (docker-executor.ts containerArgs); a
 * host build gets a shell in its work folder with its environment (host-executor.ts hostBuildEnv). The
 * environment is the build's own: nightshift's secrets are never in it.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa, type Options } from 'execa';
import type { Cell } from '../config/model.js';
import { loadSchedule, type GlobalOptions, type ScheduleContext } from '../context.js';
import type { Io } from '../output/io.js';
import { ExitCode, NightshiftError } from '../errors.js';
import { includedCell } from '../matrix/expand.js';
import { withAttributes } from '../matrix/unlisted-values.js';
import { nightToRead, pickBuilds, readNight } from '../night/read-night.js';
import { artifactDir, workDir } from '../night/layout.js';
import type { BuildRecord } from '../night/state.js';
import { buildEnv, renderImage } from '../build/build-env.js';
import { cacheMount } from '../build/cache.js';
import { containerArgs, containerEnv, containerName, envFileText, type ContainerSetup } from '../build/docker-executor.js';
import { hostBuildEnv } from '../build/host-executor.js';

export interface ShellOptions extends GlobalOptions {
  /** Run this (with `sh -c`, or the host's shell) instead of an interactive shell. */
  command?: string;
}

/** The label of a debug shell's container (besides the build's own labels). */
const SHELL_LABEL = 'nightshift.shell=1';

// bash where the image has it, else sh: either way the person lands in the build's working folder.
const INTERACTIVE = ['sh', '-c', 'if command -v bash >/dev/null 2>&1; then exec bash; else exec sh; fi'];

export async function shell(options: ShellOptions, [id]: string[], io: Io): Promise<number> {
  const { config, schedule } = await loadSchedule(options);
  const date = await nightToRead(schedule.root, schedule.timezone, options.date);
  const { layout, state } = await readNight(schedule.root, date);
  const picked = pickBuilds(state, [id!]);
  if (picked.length !== 1) {
    throw new NightshiftError(`${id!} names ${picked.length} builds of night ${date} (${picked.map((b) => b.id).join(', ')}); give one build id`, ExitCode.usage);
  }
  const record = picked[0]!;
  const cell = cellOf(record, config);
  const machine = state.machine;
  const env = buildEnv({ cell, matrixEnv: config.matrix.env, date, machine });
  const cache = cacheMount(cell, schedule.root, date, machine);
  const outDir = artifactDir(layout, record.id);
  const terminal = process.stdin.isTTY && io.isTTY;

  if (cell.package.executor === 'host') {
    const folder = workDir(layout, record.id);
    if (!existsSync(folder)) {
      throw new NightshiftError(`the work folder of ${record.id} (${folder}) is gone; run the build again with nightshift build to make it`, ExitCode.nothingSelected);
    }
    const hostShell = process.env.SHELL || 'sh';
    const argv = options.command === undefined ? [hostShell] : [hostShell, '-c', options.command];
    io.err(`nightshift: a shell for ${record.id} in ${folder}, with its environment; exit to leave`);
    return run(argv, { cwd: folder, env: hostBuildEnv({ env, workDir: folder, outDir, cache }), extendEnv: false }, terminal, io);
  }

  const image = record.image ?? renderImage(cell, date, machine) ?? undefined;
  const setup: ContainerSetup = {
    id: record.id,
    date,
    machine,
    root: schedule.root,
    image,
    resources: cell.package.resources,
    network: cell.package.network,
    recipesDir: layout.recipes,
    outDir,
    cache,
  };
  if (!existsSync(layout.recipes)) {
    throw new NightshiftError(`the recipes of night ${date} (${layout.recipes}) are gone; nothing to mount at /recipes`, ExitCode.nothingSelected);
  }
  // Docker would create a missing bind source itself, owned by root.
  await mkdir(outDir, { recursive: true });
  // The values reach the container through a private file, never argv (see envFileText).
  const envDir = await mkdtemp(path.join(os.tmpdir(), 'nightshift-env-'));
  try {
    const envFile = path.join(envDir, 'build.env');
    await writeFile(envFile, envFileText(containerEnv({ env, cache })), { mode: 0o600 });
    const name = containerName(date, record.id, `shell-${randomBytes(4).toString('hex')}`);
    const command = options.command === undefined ? INTERACTIVE : ['sh', '-c', options.command];
    const args = ['run', '--rm', terminal ? '-it' : '-i', '--init', '--name', name, '--label', SHELL_LABEL, ...containerArgs(setup, envFile), ...command];
    io.err(`nightshift: a shell in ${image!} for ${record.id}: /recipes, /out${cache?.path ? `, ${cache.path}` : ''} mounted as the night had them; exit to leave`);
    return await run(['docker', ...args], {}, terminal, io);
  } finally {
    await rm(envDir, { recursive: true, force: true });
  }
}

/** The build's cell: the nightly's, or for a manual build the package's cell with the recorded axis values. */
function cellOf(record: BuildRecord, config: ScheduleContext['config']): Cell {
  const nightly = config.cells.find((cell) => cell.id === record.id);
  if (nightly) return nightly;
  const spec = config.matrix.packages.find((p) => p.name === record.package);
  const listed = spec && includedCell(spec, { package: spec.name, ...record.axes });
  // A hand build of values matrix.yaml does not list: with the attributes it was given (build --set).
  const cell = listed && withAttributes(listed, new Map(Object.entries(record.attributes ?? {})));
  if (!cell) {
    throw new NightshiftError(
      `${record.id} is in night.json but ${config.matrix.file} no longer makes it (package ${record.package} or its axes changed); restore the configuration the night ran with`,
      ExitCode.usage,
    );
  }
  return cell;
}

/** Runs the shell: on a terminal, attached to it; otherwise its output goes through `io`. Its exit code is ours. */
async function run(argv: string[], options: Options, terminal: boolean, io: Io): Promise<number> {
  const [file, ...args] = argv as [string, ...string[]];
  if (terminal) {
    const result = await execa(file, args, { ...options, stdio: 'inherit', reject: false });
    return exitOf(result.exitCode, result.code, file);
  }
  const child = execa(file, args, { ...options, stdin: 'inherit', stdout: 'pipe', stderr: 'pipe', reject: false, encoding: 'buffer' });
  let chain = Promise.resolve();
  child.stdout.on('data', (chunk: Buffer) => {
    chain = chain.then(() => io.write(chunk));
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  const result = await child;
  await chain;
  if (stderr) io.err(stderr);
  return exitOf(result.exitCode, result.code, file);
}

function exitOf(exitCode: number | undefined, code: string | undefined, file: string): number {
  if (exitCode !== undefined) return exitCode;
  if (code === 'ENOENT') throw new NightshiftError(`${file} could not be run: not found; install it or fix PATH`, ExitCode.serviceUnavailable);
  return ExitCode.serviceUnavailable;
}
