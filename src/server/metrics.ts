/**
 * `GET /metrics`: Prometheus text for one schedule on this machine, made from the night's files at the
 * moment of the scrape. Every scrape builds a fresh registry, so nothing is cached between scrapes, no
 * label set of an earlier night lingers, and nightshift uses no process-wide default registry. Every
 * series carries the labels `schedule` and `machine`. The README's "Monitoring with Prometheus" documents each one.
 */
import { Gauge, Histogram, Registry } from 'prom-client';
import type { Schedule } from '../config/model.js';
import { BUILD_STATUSES, FINISHED_STATUSES } from '../night/layout.js';
import { nightDate } from '../night/night-date.js';
import { readNightFacts, type NightFacts } from './metrics-nights.js';
import { readQueueFigures, type QueueFigures } from './metrics-queue.js';

export interface MetricsOptions {
  /** The schedule whose nights are reported (its root already resolved). */
  schedule: Schedule;
  /** This machine's name, as the `machine` label. */
  machine: string;
  /** The scrape's time (default: now); decides the queue's night when this machine has none yet. */
  now?: Date;
  /** Where NIGHTSHIFT_REDIS_URL is read (default: process.env). */
  env?: NodeJS.ProcessEnv;
}

/**
 * Build durations, 1 minute to 8 hours: the range nightly builds fall in, finer where most of them end
 * (minutes to two hours) and coarse up to the longest timeout anyone sets.
 */
export const BUILD_DURATION_BUCKETS = [60, 120, 300, 600, 900, 1200, 1800, 2700, 3600, 5400, 7200, 10800, 14400, 21600, 28800];

/** The states of the fleet's builds in the shared queue, in the order they are shown. */
const QUEUE_STATES = ['waiting', 'running', 'ended'] as const;

export async function renderMetrics(options: MetricsOptions): Promise<{ contentType: string; body: string }> {
  const { schedule } = options;
  const facts = await readNightFacts(schedule.root);
  const queueDate = facts.current?.state.date ?? nightDate(options.now ?? new Date(), schedule.timezone);
  const queue = schedule.queue ? await readQueueFigures(schedule, queueDate, options.env) : undefined;

  const registry = new Registry();
  registry.setDefaultLabels({ schedule: schedule.name, machine: options.machine });
  addNightMetrics(registry, facts);
  addUploadMetrics(registry, facts);
  if (queue) addQueueMetrics(registry, queue);
  return { contentType: registry.contentType, body: await registry.metrics() };
}

function addNightMetrics(registry: Registry, facts: NightFacts): void {
  const current = facts.current?.state;
  // Builds by hand (`nightshift build`) are outside the nightly, as in its upload and report.
  const builds = current?.builds.filter((build) => !build.manual) ?? [];

  gauge(registry, {
    name: 'nightshift_night_info',
    help: 'The current night (the newest night folder with a night.json) as the label date (YYYY_MM_DD); absent before the first night',
    samples: current ? [[{ date: current.date }, 1]] : [],
  });
  gauge(registry, {
    name: 'nightshift_builds',
    help: "Builds of the current night by status (every status, 0 included), hand builds left out; as in the night's night.json",
    samples: BUILD_STATUSES.map((status) => [{ status }, builds.filter((build) => build.status === status).length]),
  });

  // A histogram, not a gauge per build: a gauge per build id would add series for every cell of the
  // matrix, renamed with it, for figures the live page and `nightshift status` already show per build.
  // The histogram keeps a fixed set of series for the question metrics answer: how long builds take.
  // It is rebuilt from the current night at each scrape, so it starts again from zero with each night.
  const ended = builds.filter((build) => build.duration_s !== undefined && FINISHED_STATUSES.includes(build.status));
  if (ended.length) {
    const durations = new Histogram({
      name: 'nightshift_build_duration_seconds',
      help: "How long the current night's ended builds ran, by how they ended (hand builds left out)",
      labelNames: ['status'],
      buckets: BUILD_DURATION_BUCKETS,
      registers: [registry],
    });
    for (const build of ended) durations.observe({ status: build.status }, build.duration_s!);
  }

  gauge(registry, {
    name: 'nightshift_night_running',
    help: 'Whether a run drives the current night now (1) or not (0)',
    samples: [[{}, facts.current?.running ? 1 : 0]],
  });
  gauge(registry, {
    name: 'nightshift_night_started_timestamp_seconds',
    help: 'When the current night started (Unix time); absent before it starts',
    samples: current?.started_at === undefined ? [] : [[{}, seconds(current.started_at)]],
  });
  gauge(registry, {
    name: 'nightshift_last_night_finished_timestamp_seconds',
    help: 'When the newest night that finished ended (Unix time); a night still running does not count; 0 when no night has finished',
    samples: [[{}, facts.lastFinishedAt === undefined ? 0 : seconds(facts.lastFinishedAt)]],
  });
  gauge(registry, {
    name: 'nightshift_night_state_unreadable',
    help: 'Newest nights whose night.json could not be read and were passed over (nightshift status names the problem)',
    samples: [[{}, facts.unreadable]],
  });
}

/** The newest upload (the current night's once it has ended; the night before while it runs); absent before the first. */
function addUploadMetrics(registry: Registry, facts: NightFacts): void {
  const upload = facts.lastUpload?.record;
  if (upload === undefined) return;
  gauge(registry, {
    name: 'nightshift_upload_objects',
    help: 'Objects of the newest upload by result: uploaded, skipped (already at the destination), failed (nightshift upload tries them again)',
    samples: [
      [{ result: 'uploaded' }, upload.uploaded],
      [{ result: 'skipped' }, upload.skipped],
      [{ result: 'failed' }, upload.failed.length],
    ],
  });
  gauge(registry, {
    name: 'nightshift_upload_bytes',
    help: 'Bytes the newest upload wrote to the destination: artifacts, logs, manifest, pointers, pip pages, history',
    // Uploads recorded before night.json kept their bytes have none to tell.
    samples: upload.bytes === undefined ? [] : [[{}, upload.bytes]],
  });
  gauge(registry, {
    name: 'nightshift_upload_finished_timestamp_seconds',
    help: 'When the newest upload ended (Unix time)',
    samples: [[{}, seconds(upload.finished_at)]],
  });
}

function addQueueMetrics(registry: Registry, queue: QueueFigures): void {
  gauge(registry, {
    name: 'nightshift_queue_up',
    help: "Whether the shared queue's Redis answered this scrape (1) or not (0)",
    samples: [[{}, queue.up ? 1 : 0]],
  });
  gauge(registry, {
    name: 'nightshift_queue_builds',
    help: "The current night's builds in the shared queue, fleet-wide: waiting, running (on any machine), ended; absent while Redis does not answer",
    samples: queue.up ? QUEUE_STATES.map((state) => [{ state }, queue[state]]) : [],
  });
}

type Sample = [labels: Record<string, string>, value: number];

/**
 * A gauge with exactly these samples, or nothing at all when there are none: prom-client shows an
 * unlabelled gauge that was never set as 0, which would claim a figure nightshift does not have.
 */
function gauge(registry: Registry, spec: { name: string; help: string; samples: readonly Sample[] }): void {
  if (spec.samples.length === 0) return;
  const labelNames = [...new Set(spec.samples.flatMap(([labels]) => Object.keys(labels)))];
  const metric = new Gauge({ name: spec.name, help: spec.help, labelNames, registers: [registry] });
  for (const [labels, value] of spec.samples) metric.set(labels, value);
}

const seconds = (iso: string) => Date.parse(iso) / 1000;
