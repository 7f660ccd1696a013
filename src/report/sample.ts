/**
 * A realistic night for the report: the PyTorch-shaped matrix (manywheel × python × cuda, conda,
 * libtorch × cuda × abi; 45 cells) over three machines, one of which never reported. Shared by the
 * render tests (snapshots) and scripts/render-sample-report.mjs (docs/sample-report.*), so the
 * committed sample is exactly what the tests pin down.
 */
import { logKey } from '../store/published-layout.js';
import { compareUrl } from './commit-range.js';
import { countCells, isFailure, type ReportCell, type ReportModel } from './model.js';

const DATE = '2026_11_22';
const BUCKET_URL = 'https://pytorch-nightlies-example.s3.amazonaws.com/';
const MACHINES = ['linux-0', 'linux-1', 'linux-2'];
const RECIPES_REPO = 'https://github.com/pytorch/builder.git';
/** The recipes commits of the last five nights, oldest first: tonight's is the last. */
const COMMITS = {
  '2026_11_19': '5b1e0c4f9a7d2e8b3c6f1a0d9e8c7b6a5f4e3d2c',
  '2026_11_20': '8d2f7a13c9e4b5a6f7081920a1b2c3d4e5f60718',
  '2026_11_21': 'c41a9e07b2d3f4a5b6c7d8e9f0a1b2c3d4e5f607',
  '2026_11_22': 'e93b6d25f1a0c9b8d7e6f5a4b3c2d1e0f9a8b7c6',
} as const;

type Overrides = Partial<Omit<ReportCell, 'id' | 'package' | 'axes' | 'machine'>> & { tail?: string[] };

/** A failure's commits: tonight's recipes, the last good night's and the first failing night's. */
function range(lastGood: keyof typeof COMMITS, firstBad: keyof typeof COMMITS): ReportCell['commits'] {
  const [good, bad] = [COMMITS[lastGood], COMMITS[firstBad]];
  return { tonight: COMMITS[DATE], last_good: good, first_bad: bad, compare_url: compareUrl(RECIPES_REPO, good, bad) };
}

/** Tonight's result for the cells that did not simply succeed again; everything else is a green rerun. */
const TONIGHT: Record<string, Overrides> = {
  'manywheel_3.14_cu130': {
    status: 'failed',
    reason: 'exit code 1',
    exit_code: 1,
    duration_s: 2466,
    change: 'newly-failed',
    streak: 1,
    failing_since: DATE,
    last_success: '2026_11_21',
    first_error: "torch/csrc/Module.cpp:1873:20: error: 'PyThreadState' {aka 'struct _ts'} has no member named 'recursion_remaining'",
    commits: range('2026_11_21', DATE),
    tail: [
      '-- Found CUDAToolkit: /usr/local/cuda-13.0/include (found version "13.0.48")',
      '-- Building for CUDA architectures: 75;80;86;90;100;120',
      '[2871/6120] Building CUDA object caffe2/CMakeFiles/torch_cuda.dir/__/aten/src/ATen/native/cuda/SoftMax.cu.o',
      '[2872/6120] Building CXX object caffe2/CMakeFiles/torch_python.dir/__/torch/csrc/Module.cpp.o',
      'FAILED: caffe2/CMakeFiles/torch_python.dir/__/torch/csrc/Module.cpp.o',
      '/opt/python/cp314-cp314/include/python3.14/cpython/pystate.h:112:5: note: declared here',
      "torch/csrc/Module.cpp:1873:20: error: 'PyThreadState' {aka 'struct _ts'} has no member named 'recursion_remaining'",
      ' 1873 |   if (tstate->recursion_remaining < 0 && x < y && y > 0) {',
      '      |               ^~~~~~~~~~~~~~~~~~~',
      'ninja: build stopped: subcommand failed.',
      'Traceback (most recent call last):',
      '  File "/pytorch/setup.py", line 1502, in <module>',
      '    main()',
      "subprocess.CalledProcessError: Command '['cmake', '--build', '.', '--target', 'install', '--config', 'Release']' returned non-zero exit status 1.",
      '+ exit 1',
    ],
  },
  'libtorch_cu128_cxx11-abi': {
    status: 'failed',
    reason: 'exit code 2',
    exit_code: 2,
    duration_s: 6122,
    change: 'still-failing',
    streak: 3,
    failing_since: '2026_11_20',
    last_success: '2026_11_19',
    first_error: '/pytorch/aten/src/ATen/native/cuda/Reduce.cuh(1062): error: no instance of function template "at::native::reduce_kernel<512, 1, R>" matches the argument list',
    commits: range('2026_11_19', '2026_11_20'),
    tail: [
      '[4410/5302] Building CUDA object caffe2/CMakeFiles/torch_cuda.dir/__/aten/src/ATen/native/transformers/cuda/attention.cu.o',
      '/pytorch/aten/src/ATen/native/cuda/Reduce.cuh(1062): error: no instance of function template "at::native::reduce_kernel<512, 1, R>" matches the argument list',
      '            argument types are: (ReduceOp<float, MeanOps<float, float, float, float>, uint32_t, float, 4>)',
      '          detected during:',
      '            instantiation of "void at::native::launch_reduce_kernel<mt_per_thread,R>(const ReduceConfig &, const R &) [with mt_per_thread=4, R=ReduceOp<float, MeanOps<float, float, float, float>, uint32_t, float, 4>]" at line 1198',
      '            instantiation of "void at::native::gpu_reduce_kernel<scalar_t,out_scalar_t,vt0,ops_t,ident_t>(TensorIterator &, const ops_t &, ident_t, AccumulationBuffer *, int64_t) [with scalar_t=float, out_scalar_t=float, vt0=4, ops_t=MeanOps<float, float, float, float>, ident_t=double]" && sm_120 != \'sm_100\'',
      '1 error detected in the compilation of "/pytorch/aten/src/ATen/native/cuda/ReduceMomentKernel.cu".',
      'ninja: build stopped: subcommand failed.',
      'make: *** [Makefile:146: all] Error 2',
      '+ exit 2',
    ],
  },
  'conda_3.12_cu128': {
    status: 'timed_out',
    reason: 'timed out after 3h and was killed',
    exit_code: null,
    duration_s: 10800,
    change: 'still-failing',
    streak: 2,
    failing_since: '2026_11_21',
    last_success: '2026_11_20',
    first_error: null,
    // Same recipes as the last good night: the cause is elsewhere (here, the conda channel).
    commits: { tonight: COMMITS[DATE], last_good: COMMITS['2026_11_20'], first_bad: COMMITS['2026_11_20'], compare_url: null },
    tail: [
      'Solving environment: ...working... ',
      'Collecting package metadata (repodata.json): ...working... done',
      'Solving environment: ...working... failed with initial frozen solve. Retrying with flexible solve.',
      'Solving environment: ...working... failed with repodata from current_repodata.json, will retry with next repodata source.',
      'Collecting package metadata (repodata.json): ...working... done',
      'Solving environment: ...working... ',
    ],
  },
  'manywheel_3.13t_cu128': {
    change: 'fixed',
    duration_s: 4512,
    last_success: DATE,
  },
  // A machine that is slower than usual tonight shows in the grid before it becomes a timeout.
  'manywheel_3.11_cu128': { duration_s: 5460 },
  'manywheel_3.12_cu130': { duration_s: 5210 },
};

/** Durations (s) of a good build, by package and device, so the grid shows plausible numbers. */
function typicalDuration(pkg: string, cuda: string, index: number): number {
  const base = pkg === 'libtorch' ? 8400 : pkg === 'conda' ? 3900 : 3600;
  return Math.round(cuda === 'cpu' ? base * 0.35 : base + ((index * 337) % 900));
}

function plannedCells(): { package: string; axes: Record<string, string> }[] {
  const cudas = ['cpu', 'cu126', 'cu128', 'cu130'];
  const cells: { package: string; axes: Record<string, string> }[] = [];
  for (const python of ['3.10', '3.11', '3.12', '3.13', '3.14']) for (const cuda of cudas) cells.push({ package: 'manywheel', axes: { python, cuda } });
  for (const [python, cuda] of [
    ['3.13t', 'cpu'],
    ['3.13t', 'cu128'],
    ['3.14t', 'cu128'],
  ] as const)
    cells.push({ package: 'manywheel', axes: { python, cuda } });
  for (const python of ['3.10', '3.11', '3.12', '3.13']) for (const cuda of cudas) cells.push({ package: 'conda', axes: { python, cuda } });
  for (const cuda of cudas)
    for (const abi of ['cxx11-abi', 'pre-cxx11']) {
      if (abi === 'pre-cxx11' && (cuda === 'cu128' || cuda === 'cu130')) continue;
      cells.push({ package: 'libtorch', axes: { cuda, abi } });
    }
  return cells;
}

/** The sample night: linux-2 published no manifest, so its 15 cells are missing. */
export function sampleReportModel(): ReportModel {
  const cells = plannedCells().map((planned, index): ReportCell => {
    const id = [planned.package, ...Object.values(planned.axes)].join('_');
    const machine = MACHINES[index % MACHINES.length]!;
    const key = logKey(DATE, machine, id);
    const base: ReportCell = {
      id,
      package: planned.package,
      axes: planned.axes,
      machine,
      status: 'succeeded',
      reason: null,
      duration_s: typicalDuration(planned.package, planned.axes.cuda!, index),
      usual_s: Math.round((typicalDuration(planned.package, planned.axes.cuda!, index) * 0.97) / 60) * 60,
      exit_code: 0,
      streak: 0,
      failing_since: null,
      last_success: DATE,
      change: 'still-good',
      log: { key, url: `${BUCKET_URL}${key}`, tail: ['+ exit 0'] },
      commits: { tonight: COMMITS[DATE], last_good: null, first_bad: null, compare_url: null },
    };
    if (machine === 'linux-2') {
      const reason = `never ran: ${machine} published nothing for this night (down, still running, or its upload failed)`;
      return {
        ...base,
        status: 'missing',
        reason,
        duration_s: null,
        exit_code: null,
        streak: 1,
        failing_since: DATE,
        last_success: '2026_11_21',
        change: 'newly-failed',
        log: { key: null, url: null, tail: [] },
        commits: undefined,
      };
    }
    const { tail, ...overrides } = TONIGHT[id] ?? {};
    return { ...base, ...overrides, log: { ...base.log, tail: tail ?? base.log.tail } };
  });
  return {
    date: DATE,
    schedule: 'nightly',
    destination: 's3://pytorch-nightlies-example/',
    axes: ['python', 'cuda', 'abi'],
    machines: MACHINES.map((name) => {
      const own = cells.filter((cell) => cell.machine === name);
      const reported = name !== 'linux-2';
      return { name, reported, builds: own.length, failed: reported ? own.filter((cell) => isFailure(cell.status)).length : 0 };
    }),
    cells,
    counts: countCells(cells),
    history: ['2026_11_21', '2026_11_20', '2026_11_19', '2026_11_18', '2026_11_17'],
  };
}
