/** The executors a real night uses. */
import { DockerExecutor } from './docker-executor.js';
import type { Executor } from './executor.js';
import { HostExecutor } from './host-executor.js';

export function defaultExecutors(): Record<'docker' | 'host', Executor> {
  return { docker: new DockerExecutor(), host: new HostExecutor() };
}
