import { describe, expect, it } from 'vitest';
import type { AxisValue, Cell, PackageSpec } from '../../src/config/model.js';
import { NightshiftError } from '../../src/errors.js';
import { buildEnv, hostEnvironment, renderCommand, renderImage } from '../../src/build/build-env.js';
import { containerEnv, containerName, dockerRunArgs, dockerStartError, envFileText, removeContainers } from '../../src/build/docker-executor.js';
import type { ExecuteOptions } from '../../src/build/executor.js';
import { pkg } from '../helpers/model.js';

const value = (v: string, attrs: Record<string, string> = {}): AxisValue => ({ value: v, attrs });
const cu126 = value('cu126', { version: '12.6', image_tag: 'cuda12.6' });

function cellOf(spec: PackageSpec, values: Record<string, AxisValue>): Cell {
  return { id: [spec.name, ...Object.values(values).map((v) => v.value)].join('_'), package: spec, values };
}

const axis = (name: string) => ({ name, values: [] });
const manywheel = cellOf(
  pkg('manywheel', 60, {
    image: 'example/builder:{cuda.image_tag|cpu}',
    command: ['bash', '/recipes/{package}/build.sh', '--py={python}', '{date}@{machine}'],
    axes: [axis('python'), axis('cuda')],
    env: { IMAGE_TAG: '{cuda.image_tag|cpu}', WHERE: '{machine}/{date}', DESIRED_CUDA: 'pkg-{cuda}' },
  }),
  { python: value('3.12'), cuda: cu126 },
);
const libtorch = cellOf(pkg('libtorch', 60, { axes: [axis('cuda'), axis('abi')] }), { cuda: cu126, abi: value('cxx11-abi') });
const matrixEnv = { DESIRED_PYTHON: '{python}', DESIRED_CUDA: '{cuda}', CUDA_VERSION: '{cuda.version|none}', PLAIN: 'x' };
const night = { date: '2026_11_22', machine: 'linux-0' };

describe('buildEnv', () => {
  it('holds the NIGHTSHIFT_* variables, one per axis, and the rendered matrix and package env', () => {
    expect(buildEnv({ cell: manywheel, matrixEnv, ...night })).toEqual({
      NIGHTSHIFT_BUILD_ID: 'manywheel_3.12_cu126',
      NIGHTSHIFT_PACKAGE: 'manywheel',
      NIGHTSHIFT_DATE: '2026_11_22',
      NIGHTSHIFT_MACHINE: 'linux-0',
      NIGHTSHIFT_PYTHON: '3.12',
      NIGHTSHIFT_CUDA: 'cu126',
      DESIRED_PYTHON: '3.12',
      DESIRED_CUDA: 'pkg-cu126', // the package env wins over the matrix env
      CUDA_VERSION: '12.6',
      PLAIN: 'x',
      IMAGE_TAG: 'cuda12.6',
      WHERE: 'linux-0/2026_11_22',
    });
  });

  it('leaves out a shared entry naming an axis the cell does not have', () => {
    const env = buildEnv({ cell: libtorch, matrixEnv, ...night });
    expect(env).not.toHaveProperty('DESIRED_PYTHON');
    expect(env).toMatchObject({ DESIRED_CUDA: 'cu126', NIGHTSHIFT_CUDA: 'cu126', NIGHTSHIFT_ABI: 'cxx11-abi' });
    expect(env).not.toHaveProperty('NIGHTSHIFT_PYTHON');
  });

  it('keeps the NIGHTSHIFT_* variables even when a template sets the same name', () => {
    const env = buildEnv({ cell: libtorch, matrixEnv: { NIGHTSHIFT_BUILD_ID: 'spoofed', NIGHTSHIFT_CUDA: 'x' }, ...night });
    expect(env.NIGHTSHIFT_BUILD_ID).toBe('libtorch_cu126_cxx11-abi');
    expect(env.NIGHTSHIFT_CUDA).toBe('cu126');
  });

  it('throws a NightshiftError when a package env entry cannot be filled in', () => {
    const broken = cellOf(pkg('conda', 60, { env: { PY: '{python}' } }), {});
    expect(() => buildEnv({ cell: broken, matrixEnv: {}, ...night })).toThrow(NightshiftError);
    expect(() => buildEnv({ cell: broken, matrixEnv: {}, ...night })).toThrow(/conda: env PY "\{python\}": \{python\}/);
  });

  it('throws when a shared entry names an attribute the value lacks (validation reports it)', () => {
    expect(() => buildEnv({ cell: libtorch, matrixEnv: { V: '{abi.version}' }, ...night })).toThrow(NightshiftError);
  });
});

describe('renderCommand / renderImage', () => {
  it('renders every argument and the image', () => {
    expect(renderCommand(manywheel, night.date, night.machine)).toEqual(['bash', '/recipes/manywheel/build.sh', '--py=3.12', '2026_11_22@linux-0']);
    expect(renderImage(manywheel, night.date, night.machine)).toBe('example/builder:cuda12.6');
    const cpu = { ...manywheel, values: { python: value('3.12'), cuda: value('cpu') } };
    expect(renderImage(cpu, night.date, night.machine)).toBe('example/builder:cpu');
  });

  it('has no image for a host package', () => {
    const host = cellOf(pkg('wheel-mac', 60, { executor: 'host', image: null }), {});
    expect(renderImage(host, night.date, night.machine)).toBeNull();
  });
});

describe('hostEnvironment', () => {
  it("drops nightshift's secrets and anything named like a secret", () => {
    const base = {
      PATH: '/usr/bin',
      HOME: '/home/build',
      NIGHTSHIFT_SMTP_URL: 'smtp://u:p@mail',
      AWS_ACCESS_KEY_ID: 'AKIA',
      AWS_SECRET_ACCESS_KEY: 's',
      AWS_SESSION_TOKEN: 't',
      AWS_SECURITY_TOKEN: 't',
      AWS_REGION: 'us-east-1',
      GITHUB_TOKEN: 'g',
      db_password: 'p',
      FTP_PASSWD: 'p',
      MY_SECRET_THING: 's',
      GOOGLE_APPLICATION_CREDENTIALS: '/key.json',
      UNSET: undefined,
    };
    expect(hostEnvironment(base)).toEqual({ PATH: '/usr/bin', HOME: '/home/build', AWS_REGION: 'us-east-1' });
  });

  it('reads process.env by default', () => {
    expect(hostEnvironment().PATH).toBe(process.env.PATH);
  });
});

function options(extra: Partial<ExecuteOptions> = {}): ExecuteOptions {
  return {
    id: 'manywheel_3.12_cu126',
    date: '2026_11_22',
    machine: 'linux-0',
    root: '/var/lib/nightshift',
    command: ['bash', '/recipes/manywheel/build.sh', 'a=b'],
    env: { NIGHTSHIFT_BUILD_ID: 'manywheel_3.12_cu126', DESIRED_CUDA: 'cu126', TRICKY: 'x=y z' },
    image: 'example/builder:cuda12.6',
    resources: {},
    recipesDir: '/night/recipes',
    outDir: '/night/artifacts/manywheel_3.12_cu126',
    workDir: '/night/work/manywheel_3.12_cu126',
    logFd: 99,
    timeoutMs: 1000,
    signal: new AbortController().signal,
    ...extra,
  };
}

describe('dockerRunArgs', () => {
  it('is exactly the documented docker run', () => {
    expect(dockerRunArgs(options(), 'nightshift-x', '/tmp/e/build.env')).toEqual([
      'run',
      '--rm',
      '--init',
      '--name',
      'nightshift-x',
      '--log-driver',
      'none',
      '--label',
      'nightshift.night=2026_11_22',
      '--label',
      'nightshift.build=manywheel_3.12_cu126',
      '--label',
      'nightshift.machine=linux-0',
      '--label',
      'nightshift.root=/var/lib/nightshift',
      '-v',
      '/night/recipes:/recipes:ro',
      '-v',
      '/night/artifacts/manywheel_3.12_cu126:/out',
      '--env-file',
      '/tmp/e/build.env',
      'example/builder:cuda12.6',
      'bash',
      '/recipes/manywheel/build.sh',
      'a=b',
    ]);
  });

  it('never puts an environment value in argv: they go to the env file, one per line', () => {
    const args = dockerRunArgs(options(), 'n', '/tmp/e/build.env');
    expect(args).not.toContain('-e');
    expect(args.join(' ')).not.toContain('x=y z');
    expect(envFileText(containerEnv(options()))).toBe(
      'NIGHTSHIFT_BUILD_ID=manywheel_3.12_cu126\nDESIRED_CUDA=cu126\nTRICKY=x=y z\nNIGHTSHIFT_RECIPES=/recipes\nNIGHTSHIFT_OUT=/out\n',
    );
  });

  it('refuses a value with a line break, which an env file cannot carry', () => {
    expect(() => envFileText({ BAD: 'a\nb' })).toThrow(/BAD holds a line break/);
  });

  it('passes resources and the network', () => {
    const args = dockerRunArgs(options({ resources: { gpus: 2, memory: '32g', memoryBytes: 32 * 1024 ** 3, cpus: 8 }, network: 'none' }), 'n', 'f');
    const image = args.indexOf('example/builder:cuda12.6');
    expect(args.slice(image - 8, image)).toEqual(['--gpus', '2', '--memory', '34359738368', '--cpus', '8', '--network', 'none']);
    expect(dockerRunArgs(options({ resources: { gpus: 'all', memory: '512m' } }), 'n', 'f')).toEqual(expect.arrayContaining(['--gpus', 'all', '--memory', '512m']));
  });

  it('omits --gpus 0 and everything not configured', () => {
    const args = dockerRunArgs(options({ resources: { gpus: 0 } }), 'n', 'f');
    for (const flag of ['--gpus', '--memory', '--cpus', '--network']) expect(args).not.toContain(flag);
  });

  it('refuses a docker build without an image', () => {
    expect(() => dockerRunArgs(options({ image: undefined }), 'n', 'f')).toThrow(/needs an image/);
  });
});

describe('containerName', () => {
  it('is nightshift-<date>-<id>-<nonce> with characters Docker refuses replaced', () => {
    expect(containerName('2026_11_22', 'manywheel_3.12_cu126', 'ab12')).toBe('nightshift-2026_11_22-manywheel_3.12_cu126-ab12');
    expect(containerName('2026_11_22', 'conda_3.13t+cu128', 'ab12')).toBe('nightshift-2026_11_22-conda_3.13t-cu128-ab12');
    expect(containerName('2026_11_22', 'a b/c:d@e', 'n')).toMatch(/^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/);
  });
});

describe('dockerStartError', () => {
  const image = 'example/builder:cu126';
  it("turns docker's own message into a start error naming the image", () => {
    const tail = "Unable to find image 'example/builder:cu126' locally\ndocker: Error response from daemon: pull access denied.\n\nRun 'docker run --help' for more information\n";
    expect(dockerStartError(125, image, tail)).toBe('image example/builder:cu126 is not on this machine and could not be pulled: Error response from daemon: pull access denied.');
    const refused = 'docker: Error response from daemon: network x not found\n';
    expect(dockerStartError(125, image, refused)).toBe('docker could not start image example/builder:cu126: Error response from daemon: network x not found');
  });

  it('reports a command tini cannot exec', () => {
    expect(dockerStartError(127, image, '[FATAL tini (7)] exec nosuch failed: No such file or directory\n')).toMatch(
      /could not be run in image example\/builder:cu126: .*exec nosuch failed/,
    );
  });

  it("leaves the build's own exit codes alone", () => {
    expect(dockerStartError(127, image, 'bash: foo: command not found\n')).toBeUndefined();
    expect(dockerStartError(125, image, 'the build said 125\n')).toBeUndefined();
    expect(dockerStartError(1, image, 'docker: whatever\n')).toBeUndefined();
  });

  it('still reports exit 125 when the log cannot be read', () => {
    expect(dockerStartError(125, image, undefined)).toMatch(/could not start image example\/builder:cu126 \(exit 125\)/);
    expect(dockerStartError(127, image, undefined)).toBeUndefined();
  });
});

describe('removeContainers', () => {
  it("refuses a label set that could match containers that are not nightshift's", async () => {
    await expect(removeContainers({})).rejects.toThrow(/nightshift/);
    await expect(removeContainers({ 'com.example.app': 'x' })).rejects.toThrow(/nightshift/);
  });
});
