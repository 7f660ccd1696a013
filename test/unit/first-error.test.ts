import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIRST_ERROR_MAX_CHARS, firstErrorLine, scanLogForFirstError } from '../../src/night/first-error.js';

const HEADER = [
  'nightshift: torch_3.12_cu128 on gpu-1, night 2026_11_22, started 2026-11-22T01:00:00.000Z',
  'nightshift: image builder:cu128, command "bash build.sh"',
  'nightshift: cache /var/cache/nightshift/pip mounted at /root/.cache/pip',
];

describe('firstErrorLine', () => {
  it("skips nightshift's own header and footer lines", () => {
    expect(firstErrorLine([...HEADER, 'compiling', 'nightshift: failed · exit code 1 · duration 3m · error: nothing'])).toBeNull();
  });

  it("prefers the compiler's message to ninja's FAILED line before it and make's Error after it", () => {
    const log = [
      ...HEADER,
      '[12/40] Building CXX object foo.o',
      'FAILED: foo.o',
      'src/foo.cpp:3:7: error: use of undeclared identifier x',
      'src/foo.cpp:9:1: error: the second error',
      'make: *** [all] Error 2',
    ];
    expect(firstErrorLine(log)).toBe('src/foo.cpp:3:7: error: use of undeclared identifier x');
  });

  it('falls back to the first line that only says something failed', () => {
    expect(firstErrorLine(['ok', 'FAILED: target/a.o', 'make: *** [all] Error 2'])).toBe('FAILED: target/a.o');
    expect(firstErrorLine(['Traceback (most recent call last):', '  File "setup.py", line 3', 'ModuleNotFoundError: No module named torch'])).toBe(
      'ModuleNotFoundError: No module named torch',
    );
  });

  it('knows the usual ways builds fail', () => {
    for (const line of [
      'fatal: could not read Username for https://github.com',
      "cp: cannot stat 'dist/x.whl': No such file or directory",
      '/usr/bin/ld: a.o: undefined reference to `foo`',
      'build.sh: line 4: cmake: command not found',
      'CMake Error at CMakeLists.txt:12 (find_package):',
      'conda.exceptions.PackagesNotFoundError: The following packages are not available',
    ]) {
      expect(firstErrorLine(['ok', line])).toBe(line);
    }
  });

  it('does not take harmless words for errors', () => {
    expect(firstErrorLine(['-- Looking for error.h - found', 'cc -Werror -c x.c', '0 errors, 0 warnings', 'tests: 12 passed, errors=0'])).toBeNull();
  });

  it('strips terminal colours and progress redraws, and cuts a long line', () => {
    expect(firstErrorLine(['\u001b[31merror:\u001b[0m bad thing'])).toBe('error: bad thing');
    expect(firstErrorLine(['10%\r50%\rerror: at the end'])).toBe('error: at the end');
    const long = firstErrorLine([`error: ${'x'.repeat(5000)}`])!;
    expect(Array.from(long)).toHaveLength(FIRST_ERROR_MAX_CHARS);
    expect(long.endsWith('…')).toBe(true);
  });
});

describe('scanLogForFirstError', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'nightshift-first-error-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('streams a log with megabytes of output before the error', async () => {
    const file = path.join(dir, 'big.log');
    const noise = Array.from({ length: 40_000 }, (_, i) => `[${i}/40000] Building CXX object caffe2/CMakeFiles/torch_cpu.dir/file_${i}.cpp.o`).join('\n');
    await writeFile(file, `${HEADER.join('\n')}\n${noise}\nFAILED: a.o\nsrc/a.cpp:1:1: error: here\n\nnightshift: failed · exit code 1\n`);
    expect(await scanLogForFirstError(file)).toBe('src/a.cpp:1:1: error: here');
  });

  it('reads no more than its byte bound', async () => {
    const file = path.join(dir, 'late.log');
    await writeFile(file, `${'x'.repeat(100_000)}\nerror: too late\n`);
    expect(await scanLogForFirstError(file, 50_000)).toBeNull();
    expect(await scanLogForFirstError(file)).toBe('error: too late');
  });

  it('gives null for a log that is not there', async () => {
    expect(await scanLogForFirstError(path.join(dir, 'missing.log'))).toBeNull();
  });
});
