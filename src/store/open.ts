/** Opens the destination a URL names, or the one a schedule publishes to. */
import type { Schedule } from '../config/model.js';
import { DestinationError, type Destination, type DestinationSpec } from './destination.js';
import { publishedLayout } from './published-layout.js';
import type { S3DestinationOptions } from './s3.js';

export interface OpenDestinationOptions {
  /** Retries of transient failures (S3 only: a local disk's errors do not pass by waiting). */
  retry?: S3DestinationOptions['retry'];
}

export async function openDestination(spec: DestinationSpec, options: OpenDestinationOptions = {}): Promise<Destination> {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(spec.url)?.[1]?.toLowerCase();
  switch (scheme) {
    case 's3': {
      // Loaded on demand: the AWS SDK takes a noticeable part of a second to load, which commands
      // that never upload (validate, plan, status, log) should not pay.
      // On Node 20 the SDK warns once per process that future releases need Node 22: noise in every
      // night's cron mail that no user can act on, so it is silenced unless asked for.
      process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
      const { S3Destination } = await import('./s3.js');
      return new S3Destination(spec, options);
    }
    case 'file': {
      const { FileDestination } = await import('./file.js');
      return new FileDestination(spec);
    }
    default:
      throw new DestinationError(`${spec.url}: unsupported destination; use s3://bucket/prefix/ or file:///absolute/path/`, false);
  }
}

/** The destination root of a schedule's `upload` (the part of `to` before its first template). */
export function openScheduleDestination(schedule: Schedule, date: string): Promise<Destination> {
  const { upload } = schedule;
  const { rootUrl } = publishedLayout(upload, { root: schedule.root, date, machine: '' });
  return openDestination(
    { url: rootUrl, region: upload.region, endpoint: upload.endpoint, pathStyle: upload.pathStyle },
    { retry: { attempts: upload.attempts, baseDelayMs: 500 } },
  );
}
