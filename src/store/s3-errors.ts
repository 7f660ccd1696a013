/**
 * What the S3 destination says when an operation fails: the SDK's errors (named after S3's codes, or
 * only after the HTTP status for bodiless answers) turned into a DestinationError whose message says
 * what to do, without the credentials or the signature's inputs.
 */
import { DestinationError } from './destination.js';
import { isTransientError } from './retry.js';

/** Where the failed operation was, and how often it was tried. */
export interface S3Failure {
  /** The destination's URL and the key: `s3://bucket/prefix/key`. */
  where: string;
  bucket: string;
  /** A custom endpoint, without its user info. */
  endpoint: string | undefined;
  tries: number;
}

/** The DestinationError for what an operation finally threw (a DestinationError is handed back as it is). */
export function describeS3Error(error: unknown, { where, bucket, endpoint, tries }: S3Failure): DestinationError {
  if (error instanceof DestinationError) return error;
  const transient = isTransientError(error);
  let reason = reasonFor(error, bucket, endpoint);
  if (transient) reason += `; gave up after ${tries} ${tries === 1 ? 'try' : 'tries'}`;
  const abortFailure = (error as { abortFailure?: unknown }).abortFailure;
  if (abortFailure !== undefined) {
    reason += `; the incomplete multipart upload ${String((error as { uploadId?: string }).uploadId)} could not be aborted either (${shortError(abortFailure)}): a bucket lifecycle rule "AbortIncompleteMultipartUpload" removes such parts`;
  }
  return new DestinationError(`${where}: ${reason}`, transient, { cause: scrub(error) });
}

/** What went wrong, in words that say what to do; never the credentials or the signature's inputs. */
function reasonFor(error: unknown, bucket: string, endpoint: string | undefined): string {
  const name = errorName(error);
  const status = errorStatus(error);
  const code = (error as { code?: unknown }).code;
  const service = endpoint ?? 'S3';
  switch (name) {
    case 'NoSuchBucket':
      return `bucket "${bucket}" does not exist (NoSuchBucket): check upload.to${endpoint ? ` and the endpoint ${endpoint}` : ''}`;
    case 'AccessDenied':
    case 'AllAccessDisabled':
      return `access denied (${status ?? 403}): check the credentials' permissions on bucket "${bucket}"`;
    case 'InvalidAccessKeyId':
      return `the access key id is not known to ${service} (InvalidAccessKeyId, 403): check the AWS credentials (environment, profile or instance role)`;
    case 'SignatureDoesNotMatch':
      return `the request signature does not match (SignatureDoesNotMatch, 403): check the secret access key`;
    case 'ExpiredToken':
    case 'TokenRefreshRequired':
    case 'RequestExpired':
      return `the credentials have expired (${name}): renew them (e.g. aws sso login) or check the machine's clock`;
    case 'CredentialsProviderError':
      return 'no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or give the machine an instance role';
    case 'FileChanged':
      return messageOf(error);
    case 'PermanentRedirect':
    case 'AuthorizationHeaderMalformed':
    case 'IllegalLocationConstraintException':
      return `bucket "${bucket}" is in another region (${name}): set upload.region to the bucket's region`;
  }
  // HEAD answers have no body: the SDK names their errors after the status ("Forbidden") or "Unknown".
  if (status === 403) return `access denied (403${name && !/^(Forbidden|Unknown)/.test(name) ? ` ${name}` : ''}): check the credentials' permissions on bucket "${bucket}"`;
  if (typeof code === 'string' && status === undefined) return `cannot reach ${service} (${code}: ${messageOf(error)})`;
  if (name === 'TimeoutError') return `${service} did not answer in time (${messageOf(error)})`;
  return `${name ?? 'error'}${status ? ` (${status})` : ''}: ${messageOf(error)}`;
}

function shortError(error: unknown): string {
  const status = errorStatus(error);
  return `${errorName(error) ?? (error as { code?: string }).code ?? 'error'}${status ? ` ${status}` : ''}`;
}

export function errorName(error: unknown): string | undefined {
  const e = error as { name?: unknown; Code?: unknown } | null;
  const name = typeof e?.Code === 'string' ? e.Code : typeof e?.name === 'string' ? e.name : undefined;
  return name === 'Error' ? undefined : name;
}

export function errorStatus(error: unknown): number | undefined {
  const status = (error as { $metadata?: { httpStatusCode?: unknown } } | null)?.$metadata?.httpStatusCode;
  return typeof status === 'number' ? status : undefined;
}

function messageOf(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  // The SDK says "UnknownError" for bodiless answers (HEAD): the status already says more.
  return message === 'UnknownError' || message === '' ? 'no details from the service' : message;
}

export function isNotFound(error: unknown): boolean {
  const name = errorName(error);
  return name === 'NotFound' || name === 'NoSuchKey' || name === 'NoSuchBucket' || (errorStatus(error) === 404 && name !== 'NoSuchUpload');
}

/** Service errors may carry the access key id; the cause is kept for debugging, without it. */
function scrub(error: unknown): unknown {
  if (typeof error === 'object' && error !== null && 'AWSAccessKeyId' in error) delete (error as { AWSAccessKeyId?: unknown }).AWSAccessKeyId;
  return error;
}
