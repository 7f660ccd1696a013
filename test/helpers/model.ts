/** Small builders for model objects in pure tests. */
import type { Cell, Machine, PackageSpec, Schedule } from '../../src/config/model.js';

export function pkg(name: string, estimateS: number, extra: Partial<PackageSpec> = {}): PackageSpec {
  return {
    name,
    executor: 'docker',
    image: 'image',
    command: ['true'],
    timeoutS: 3600,
    estimateS,
    axes: [],
    resources: {},
    artifacts: 'required',
    env: {},
    ...extra,
  };
}

export function cell(id: string, estimateS: number): Cell {
  return { id, package: pkg(id.split('_')[0]!, estimateS), values: {} };
}

export function machine(name: string, slots: number, builds?: string[]): Machine {
  return { name, slots, builds };
}

/** A schedule of two machines with an upload and a report, overridden where a test says so. */
export function scheduleModel(overrides: Partial<Schedule> = {}): Schedule {
  return {
    name: 'nightly',
    file: 'schedules/nightly.yaml',
    cron: '5 0 * * *',
    timezone: 'America/Los_Angeles',
    root: '/var/lib/nightshift',
    keepDays: 5,
    machines: [
      { name: 'linux-0', slots: 4 },
      { name: 'linux-1', slots: 4 },
    ],
    upload: { to: 'file:///srv/nightlies/{date}', key: '{file}', pathStyle: false, attempts: 5 },
    report: { cron: '0 7 * * *', machine: 'linux-0', to: ['builds@example.com'], when: 'always' },
    ...overrides,
  } as Schedule;
}
