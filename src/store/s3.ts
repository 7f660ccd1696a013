/**
 * The S3 destination: AWS S3 or any S3-compatible store, through the AWS SDK v3. Credentials come
 * only from the SDK's default chain (environment, profile, SSO, instance or task role): nightshift
 * never reads them from its own files and never puts them in a message.
 */
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  paginateListObjectsV2,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { checkKey, DestinationError, type Destination, type DestinationSpec, type ObjectInfo, type PutFileOptions, type PutOptions } from './destination.js';
import { withRetry, type RetryOptions } from './retry.js';
import { describeS3Error, errorName, errorStatus, isNotFound } from './s3-errors.js';
import { ContentChangedError, openFile, sha256Of, UnsafeFileError, verifiedStream, type LocalFile } from './local-file.js';

export interface S3DestinationOptions {
  /** How whole operations are retried on transient errors (see withRetry for the defaults). */
  retry?: Pick<RetryOptions, 'attempts' | 'baseDelayMs' | 'maxDelayMs' | 'onRetry'>;
}

const MiB = 1024 * 1024;
/** Parts of a multipart upload: queueSize × partSize bounds the memory an upload holds (64 MiB). */
const PART_SIZE = 16 * MiB;
const QUEUE_SIZE = 4;
/** S3 allows at most 10,000 parts; files above 156 GiB get bigger parts rather than failing. */
const MAX_PARTS = 10_000;

export class S3Destination implements Destination {
  readonly url: string;
  readonly bucket: string;
  /** Key prefix of the root inside the bucket: "" or ending in "/". */
  readonly prefix: string;
  private readonly endpoint: string | undefined;
  private readonly retry: S3DestinationOptions['retry'];
  /** For single requests: withRetry is the one retry layer, so `attempts` means what it says. */
  private readonly client: S3Client;
  /** For multipart uploads: the SDK also resends a failed part, so one 503 does not restart 5 GB. */
  private readonly uploadClient: S3Client;
  /** Why lib-storage could not abort a failed multipart upload, by upload id (see putFile). */
  private readonly abortFailures = new Map<string, unknown>();
  /** Set once the bucket is known to exist, so a 404 on HEAD can only mean "no such key". */
  private bucketSeen = false;

  constructor(spec: DestinationSpec, options: S3DestinationOptions = {}) {
    const match = /^s3:\/\/([^/]+)\/?(.*)$/.exec(spec.url);
    if (!match?.[1]) throw new DestinationError(`${spec.url}: not an S3 URL; expected s3://bucket/prefix/`, false);
    this.bucket = match[1];
    const rest = (match[2] ?? '').replace(/^\/+/, '');
    this.prefix = rest === '' || rest.endsWith('/') ? rest : `${rest}/`;
    this.url = `s3://${this.bucket}/${this.prefix}`;
    this.endpoint = spec.endpoint === undefined ? undefined : withoutUserInfo(spec.endpoint);
    this.retry = options.retry;

    const config: S3ClientConfig = {
      region: spec.region ?? (process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION || 'us-east-1'),
      ...(spec.endpoint === undefined ? {} : { endpoint: spec.endpoint }),
      // A custom endpoint (MinIO, s3rver, Ceph) rarely has wildcard DNS for bucket host names.
      forcePathStyle: spec.pathStyle ?? spec.endpoint !== undefined,
      // The SDK's default (WHEN_SUPPORTED) adds CRC32 trailers to streamed bodies with aws-chunked
      // encoding; S3-compatible servers that do not understand it store the chunk framing as content.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      // Without timeouts a half-open connection hangs a night's upload forever; the socket timeout
      // is for inactivity, so a slow but moving multi-GB part is fine.
      requestHandler: { connectionTimeout: 10_000, socketTimeout: 120_000 },
    };
    this.client = new S3Client({ ...config, maxAttempts: 1 });
    this.uploadClient = new S3Client({ ...config, maxAttempts: 3 });
    // lib-storage aborts a failed multipart upload (no parts left behind), but if the abort fails too
    // (the network is down, or the store does not implement it: s3rver answers 405) its error replaces
    // the one that explains the failure. Keep the real error; remember the abort's to report it.
    this.uploadClient.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName !== 'AbortMultipartUploadCommand') return next(args);
        const uploadId = String((args.input as { UploadId?: unknown }).UploadId);
        try {
          return await next(args);
        } catch (error) {
          this.abortFailures.set(uploadId, error);
          return { output: { $metadata: {} }, response: {} };
        }
      },
      { step: 'initialize', name: 'nightshiftKeepUploadError' },
    );
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    checkKey(this.url, key);
    const found = await this.run(key, async () => {
      try {
        const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }));
        return { size: out.ContentLength ?? 0, sha256: out.Metadata?.sha256 };
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw error;
      }
    });
    // A HEAD answer has no body, so S3 cannot say whether the key or the whole bucket is missing.
    // Ask once, so that a mistyped bucket fails loudly instead of looking like an empty one.
    if (found === undefined && !this.bucketSeen) await this.checkBucket(key);
    this.bucketSeen = true;
    return found === undefined ? undefined : found.sha256 === undefined ? { size: found.size } : found;
  }

  async putFile(key: string, file: string | LocalFile, options: PutFileOptions): Promise<void> {
    checkKey(this.url, key);
    const cannotRead = (error: NodeJS.ErrnoException) => {
      // A pipe or a device has no size to announce, and S3 needs one up front for the parts.
      const why = error instanceof UnsafeFileError ? 'not a regular file' : (error.code ?? error.message);
      throw new DestinationError(`${this.url}${key}: cannot read ${typeof file === 'string' ? file : file.path}: ${why}`, false, { cause: error });
    };
    const source = typeof file === 'string' ? await openFile(file).catch(cannotRead) : file;
    try {
      // Stored with the object, so a later upload can skip it; the bytes sent are checked against it.
      const sha256 = options.sha256 ?? (await sha256Of(source).catch(cannotRead));
      await this.sendFile(key, source, sha256, options);
    } finally {
      if (typeof file === 'string') await source.handle.close();
    }
    this.bucketSeen = true;
  }

  private async sendFile(key: string, source: LocalFile, sha256: string, options: PutFileOptions): Promise<void> {
    const file = source.path;
    const size = source.info.size;
    await this.run(
      key,
      async () => {
        // A fresh stream and Upload per try: a failed upload cannot be resumed from a consumed stream.
        // Read from the one open file and hashed as it goes: bytes that no longer hash to `sha256`
        // fail the stream before its end, so the object is never completed.
        const body = verifiedStream(source, sha256);
        const abortController = new AbortController();
        const onAbort = () => abortController.abort(options.signal?.reason);
        options.signal?.addEventListener('abort', onAbort, { once: true });
        const upload = new Upload({
          client: this.uploadClient,
          params: {
            Bucket: this.bucket,
            Key: this.prefix + key,
            Body: body,
            ContentLength: size,
            ContentType: options.contentType,
            Metadata: { sha256 },
          },
          partSize: Math.max(PART_SIZE, Math.ceil(size / MAX_PARTS / MiB) * MiB),
          queueSize: QUEUE_SIZE,
          leavePartsOnError: false, // abort a failed multipart upload: no invisible parts billed forever
          abortController,
        });
        try {
          await upload.done();
        } catch (caught) {
          let error = caught;
          // lib-storage counts the parts the size announced; a file rewritten during the upload breaks that.
          if (error instanceof Error && /^Expected \d+ part\(s\) but uploaded/.test(error.message)) {
            error = Object.assign(new Error(`${file} changed while it was being uploaded (it had ${size} bytes at the start)`, { cause: error }), { name: 'FileChanged' });
          }
          const abortError = upload.uploadId === undefined ? undefined : this.abortFailures.get(upload.uploadId);
          if (abortError !== undefined) {
            this.abortFailures.delete(upload.uploadId!);
            // eslint-disable-next-line @typescript-eslint/only-throw-error -- what the upload threw, passed on with the abort's failure attached
            throw Object.assign(error as object, { abortFailure: abortError, uploadId: upload.uploadId });
          }
          throw error;
        } finally {
          options.signal?.removeEventListener('abort', onAbort);
          body.destroy();
        }
      },
      options.signal,
    );
  }

  async putBytes(key: string, body: string | Uint8Array, options: PutOptions): Promise<void> {
    checkKey(this.url, key);
    await this.run(
      key,
      () =>
        this.client.send(
          new PutObjectCommand({
            Bucket: this.bucket,
            Key: this.prefix + key,
            Body: body,
            ContentType: options.contentType,
            Metadata: { sha256: options.sha256 },
          }),
          { abortSignal: options.signal },
        ),
      options.signal,
    );
    this.bucketSeen = true;
  }

  async getBytes(key: string, options: { lastBytes?: number } = {}): Promise<Buffer | undefined> {
    checkKey(this.url, key);
    // An explicit range from the size, not a suffix range (`bytes=-N`), which some S3-compatible
    // servers (s3rver among them) read as the first N bytes.
    let range: string | undefined;
    if (options.lastBytes !== undefined) {
      const info = await this.head(key);
      if (info === undefined) return undefined;
      if (info.size === 0) return Buffer.alloc(0);
      range = `bytes=${Math.max(0, info.size - options.lastBytes)}-${info.size - 1}`;
    }
    const bytes = await this.run(key, async () => {
      try {
        const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.prefix + key, Range: range }));
        return out.Body ? Buffer.from(await out.Body.transformToByteArray()) : Buffer.alloc(0);
      } catch (error) {
        if (isNotFound(error) && errorName(error) !== 'NoSuchBucket') return undefined;
        throw error;
      }
    });
    this.bucketSeen = true;
    return bytes;
  }

  async list(prefix: string): Promise<string[]> {
    checkKey(this.url, prefix, 'prefix');
    const keys: string[] = [];
    let token: string | undefined;
    await this.run(prefix, async () => {
      // A retry resumes after the last page read whole, rather than listing 100,000 keys again.
      const pages = paginateListObjectsV2({ client: this.client, pageSize: 1000, startingToken: token }, { Bucket: this.bucket, Prefix: this.prefix + prefix });
      for await (const page of pages) {
        for (const object of page.Contents ?? []) if (object.Key !== undefined) keys.push(object.Key.slice(this.prefix.length));
        token = page.NextContinuationToken;
      }
    });
    this.bucketSeen = true;
    return keys.sort();
  }

  async delete(key: string): Promise<void> {
    checkKey(this.url, key);
    // S3 answers 204 for a key that is not there, so deleting twice is fine; a missing bucket still fails.
    await this.run(key, async () => {
      try {
        await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }));
      } catch (error) {
        if (isNotFound(error) && errorName(error) !== 'NoSuchBucket') return;
        throw error;
      }
    });
    this.bucketSeen = true;
  }

  private async checkBucket(key: string): Promise<void> {
    await this.run(key, async () => {
      try {
        await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
      } catch (error) {
        if (isNotFound(error)) throw Object.assign(new Error('The specified bucket does not exist'), { name: 'NoSuchBucket', $metadata: { httpStatusCode: 404 } });
        // Credentials allowed to write objects need not be allowed ListBucket (403 here): the bucket
        // exists then, and whether they may read the key is for the object requests to say.
        if (errorStatus(error) === 403) return;
        throw error;
      }
    });
  }

  /** Runs one operation with retries, turning whatever it finally throws into a DestinationError. */
  private async run<T>(key: string, operation: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    let tries = 0;
    try {
      return await withRetry(
        () => {
          tries++;
          return operation();
        },
        { ...this.retry, signal },
      );
    } catch (error) {
      // A cancel is the caller's own doing: hand it back as it is.
      if (signal?.aborted) throw signal.reason ?? error;
      // The file changed under the upload: the caller says so in its own words.
      if (error instanceof ContentChangedError) throw error;
      throw describeS3Error(error, { where: `${this.url}${key}`, bucket: this.bucket, endpoint: this.endpoint, tries });
    }
  }
}

function withoutUserInfo(endpoint: string): string {
  try {
    const url = new URL(endpoint);
    url.username = '';
    url.password = '';
    return url.toString().replace(/\/$/, '');
  } catch {
    return endpoint;
  }
}
