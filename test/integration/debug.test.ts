/**
 * Debugging a failed build: `nightshift shell ID` gives a shell with the build's image, environment and
 * mounts (a host build: in its work folder), and `build --keep` leaves a failed docker build's container
 * running for `docker exec`, until `nightshift prune` removes it. Real Docker with the local test image,
 * real git recipes, the CLI itself.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { makeNightFixture, type NightFixture } from '../helpers/night-fixture.js';
import { runCli, type CliResult } from '../helpers/run-cli.js';
import { containersWithLabel, docker, dockerAvailable, removeContainersWithLabel, TEST_IMAGE } from '../helpers/docker.js';
import { readNightState } from '../../src/night/state.js';

let inDocker: NightFixture;
let onHost: NightFixture;
let keptBuild: CliResult;
let goodBuild: CliResult;
let keptName: string;
const args = (night: NightFixture) => ['--config', night.configDir, '--date', night.date];
const SECRET = 'smtp://user:hunter2@mail.example';

beforeAll(async () => {
  await dockerAvailable();
  [inDocker, onHost] = await Promise.all([makeNightFixture({ executor: 'docker' }), makeNightFixture({ executor: 'host' })]);
  keptBuild = await runCli(['build', '--machine', 'm1', 'bad', '3.12', 'cpu', '--keep', ...args(inDocker)]);
  keptName = /kept (\S+) \(bad_3\.12_cpu\)/.exec(keptBuild.stdout)?.[1] ?? '';
  goodBuild = await runCli(['build', '--machine', 'm1', 'ok', '3.11', 'cpu', '--keep', ...args(inDocker)]);
  expect((await runCli(['build', '--machine', 'm1', 'bad', '3.12', 'cpu', ...args(onHost)])).exitCode).toBe(1);
}, 60_000);

afterAll(async () => {
  // Every container this file made carries its night's label, kept or not.
  /* eslint-disable @typescript-eslint/no-unnecessary-condition -- unset when the before-hook failed */
  if (inDocker) await removeContainersWithLabel(`nightshift.night=${inDocker.date}`);
  await inDocker?.cleanup();
  await onHost?.cleanup();
  /* eslint-enable @typescript-eslint/no-unnecessary-condition */
});

beforeEach(async () => {
  await dockerAvailable();
});

describe('nightshift shell', () => {
  it("runs in a failed docker build's image with its environment and mounts, and no secrets", async () => {
    process.env.NIGHTSHIFT_SMTP_URL = SECRET;
    try {
      const shell = await runCli(['shell', 'bad_3.12_cpu', '--command', 'env; ls /recipes /out; id -un', ...args(inDocker)]);
      expect(shell.stderr).toMatch(/a shell in nightshift-test\/busybox:latest for bad_3\.12_cpu/);
      expect(shell.exitCode).toBe(0);
      expect(shell.stdout).toMatch(/^NIGHTSHIFT_BUILD_ID=bad_3\.12_cpu$/m);
      expect(shell.stdout).toMatch(/^DESIRED_PYTHON=3\.12$/m);
      expect(shell.stdout).toMatch(/^NIGHTSHIFT_RECIPES=\/recipes$/m);
      expect(shell.stdout).toMatch(/^fail\.sh$/m);
      expect(shell.stdout).toMatch(/^\/out:$/m);
      expect(shell.stdout).not.toContain('hunter2');
    } finally {
      delete process.env.NIGHTSHIFT_SMTP_URL;
    }
    // --rm: the debug shell's container is gone once it exits.
    expect(await containersWithLabel('nightshift.shell=1')).not.toContainEqual(expect.stringContaining(inDocker.date));
  });

  it("ends with the command's exit code", async () => {
    const shell = await runCli(['shell', 'bad_3.12_cpu', '--command', 'exit 7', ...args(inDocker)]);
    expect(shell.exitCode).toBe(7);
  });

  it("runs a host build's shell in its work folder, with its environment", async () => {
    process.env.NIGHTSHIFT_SMTP_URL = SECRET;
    try {
      const shell = await runCli(['shell', 'bad_3.12_cpu', '--command', 'pwd; echo "id=$NIGHTSHIFT_BUILD_ID out=$NIGHTSHIFT_OUT"; env', ...args(onHost)]);
      expect(shell.exitCode).toBe(0);
      const work = path.join(onHost.root, onHost.date, 'work', 'bad_3.12_cpu');
      expect(shell.stdout.split('\n')[0]).toBe(work);
      expect(shell.stdout).toContain(`id=bad_3.12_cpu out=${path.join(onHost.root, onHost.date, 'artifacts', 'bad_3.12_cpu')}`);
      expect(shell.stdout).toMatch(new RegExp(`^NIGHTSHIFT_RECIPES=${work}$`, 'm'));
      expect(shell.stdout).not.toContain('hunter2');
    } finally {
      delete process.env.NIGHTSHIFT_SMTP_URL;
    }
  });

  it('refuses an unknown id with the one meant (exit 3)', async () => {
    const shell = await runCli(['shell', 'bad_3.13_cpu', '--command', 'true', ...args(inDocker)]);
    expect(shell.exitCode).toBe(3);
    expect(shell.stderr).toMatch(/no build bad_3\.13_cpu in night .*did you mean "bad_3\.12_cpu"/);
  });
});

describe('build --keep', () => {
  it("leaves a failed build's container running, labelled, for docker exec", async () => {
    expect(keptBuild.exitCode).toBe(1);
    expect(keptName).toMatch(/^nightshift-/);
    expect(keptBuild.stdout).toContain(`docker exec -it ${keptName} sh`);
    expect(await containersWithLabel(`nightshift.keep=1`)).toContain(keptName);
    const exec = await docker(['exec', keptName, 'sh', '-c', 'echo ok; echo "$NIGHTSHIFT_BUILD_ID"; ls /recipes']);
    expect(exec.stdout).toMatch(/^ok\nbad_3\.12_cpu\n/);
    expect(exec.stdout).toContain('fail.sh');
  });

  it('leaves nothing of a build that succeeds', async () => {
    expect(goodBuild.exitCode).toBe(0);
    expect(goodBuild.stdout).not.toMatch(/^kept /m);
    // The night's only container is the failed build's (the debug shells' were removed as they ended).
    expect(await containersWithLabel(`nightshift.night=${inDocker.date}`)).toEqual([keptName]);
  });

  it('runs the build as usual, said in its log, when the image has no sleep to keep the container alive', async () => {
    // The test image without its sleep: made from it locally, as every image here is.
    const image = `nightshift-test/no-sleep:${process.pid}`;
    const maker = `nightshift-test-no-sleep-${process.pid}`;
    const night = await makeNightFixture({ executor: 'docker' });
    try {
      expect((await docker(['run', '--name', maker, TEST_IMAGE, 'rm', '/bin/sleep'])).exitCode).toBe(0);
      expect((await docker(['commit', maker, image])).exitCode).toBe(0);
      const matrix = path.join(night.configDir, 'matrix.yaml');
      await writeFile(matrix, (await readFile(matrix, 'utf8')).replaceAll(TEST_IMAGE, image));

      const build = await runCli(['build', '--machine', 'm1', 'bad', '3.12', 'cpu', '--keep', ...args(night)]);
      expect(build.exitCode).toBe(1);
      expect(build.stdout).toContain(`nightshift: --keep: ${image} has no sleep command to keep its container alive; the build runs without --keep`);
      // The build itself ran (its own failure, not a start error), and nothing is left behind.
      expect((await readNightState(path.join(night.root, night.date, 'night.json')))!.builds.find((b) => b.id === 'bad_3.12_cpu')).toMatchObject({
        status: 'failed',
        exit_code: 3,
      });
      expect(build.stdout).not.toMatch(/^kept /m);
      expect(await containersWithLabel(`nightshift.night=${night.date}`)).toEqual([]);
    } finally {
      await docker(['rm', '-f', maker]);
      await docker(['rmi', '-f', image]);
      await removeContainersWithLabel(`nightshift.night=${night.date}`);
      await night.cleanup();
    }
  });

  it('nightshift prune removes the kept container', async () => {
    const prune = await runCli(['prune', '--config', inDocker.configDir, '--machine', 'm1']);
    expect(prune.exitCode).toBe(0);
    expect(prune.stdout).toContain(keptName);
    expect(await containersWithLabel(`nightshift.night=${inDocker.date}`)).toEqual([]);
  });
});
