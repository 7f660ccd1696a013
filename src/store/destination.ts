/**
 * Where successes are published: an S3 bucket (AWS or any S3-compatible store) or a folder on disk,
 * behind one small interface. Keys are relative to the destination's root and use "/" separators.
 */
import type { LocalFile } from './local-file.js';

export interface ObjectInfo {
  size: number;
  /** The sha256 nightshift recorded when it wrote the object (S3 metadata; computed for files). */
  sha256?: string;
}

export interface PutOptions {
  /** Hex sha256 of the content, stored with the object so a later upload can skip it. For putFile the
   * bytes read must hash to it, else nothing is written and a ContentChangedError is thrown. */
  sha256: string;
  contentType?: string;
  signal?: AbortSignal;
}

export interface PutFileOptions extends Omit<PutOptions, 'sha256'> {
  /** As for putBytes; when left out, a destination that stores it (S3) computes it from the file. */
  sha256?: string;
}

export interface Destination {
  /** The root as a URL, for messages (never with credentials). */
  readonly url: string;
  /** What is at `key`, or undefined when nothing is. */
  head(key: string): Promise<ObjectInfo | undefined>;
  /** Streams a local file to `key` (multipart for large files), in bounded memory: a file opened by the
   * caller (read only through its descriptor), or a name (opened here, links followed). */
  putFile(key: string, file: string | LocalFile, options: PutFileOptions): Promise<void>;
  /** Writes a small object: a manifest, a pointer. */
  putBytes(key: string, body: string | Uint8Array, options: PutOptions): Promise<void>;
  /** A small object's content (or only its last `lastBytes`, e.g. a log's tail), or undefined when there is none. */
  getBytes(key: string, options?: { lastBytes?: number }): Promise<Buffer | undefined>;
  /** Every key under `prefix`, across all pages, sorted. */
  list(prefix: string): Promise<string[]>;
  /** Removes the object at `key`; nothing there is not an error (a delete tried again finds it gone). */
  delete(key: string): Promise<void>;
}

/** How to reach a destination: its root URL and, for S3, the client settings. */
export interface DestinationSpec {
  /** `s3://bucket/prefix/` or `file:///path/`. */
  url: string;
  region?: string;
  endpoint?: string;
  pathStyle?: boolean;
}

/** A failure talking to a destination. `transient` ones (5xx, resets, timeouts) were retried already. */
export class DestinationError extends Error {
  constructor(
    message: string,
    readonly transient: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'DestinationError';
  }
}

/**
 * Throws a (not transient) DestinationError unless `key` is a plain relative key: "/"-separated
 * segments, none of them empty, "." or "..". Both destinations apply it so that a key means the same
 * in a bucket as on a disk (where ".." would escape the root); `prefix` also allows "" and a final "/".
 */
export function checkKey(url: string, key: string, kind: 'key' | 'prefix' = 'key'): void {
  const body = kind === 'prefix' && key.endsWith('/') ? key.slice(0, -1) : key;
  if (kind === 'prefix' && body === '') return;
  const bad =
    body === ''
      ? 'it is empty'
      : body.includes('\0')
        ? 'it contains a NUL character'
        : body.split('/').some((s) => s === '' || s === '.' || s === '..')
          ? 'keys are relative, with no empty, "." or ".." segments'
          : undefined;
  if (bad) throw new DestinationError(`${url}: invalid ${kind} ${JSON.stringify(key)}: ${bad}`, false);
}
