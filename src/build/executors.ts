/** The executors a real night uses. */
import { DockerExecutor } from './docker-executor.js';
import type { Executors } from './executor.js';
import { HostExecutor } from './host-executor.js';

export function defaultExecutors(): Executors {
  return { docker: new DockerExecutor(), host: new HostExecutor() };
}
