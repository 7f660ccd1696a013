/**
 * Where the SMTP URL comes from (environment, then a root-only env file) and that its password is
 * masked wherever it is shown. Real files with real modes in a temp folder.
 */
import { chmod, chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NightshiftError } from '../../src/errors.js';
import { redactUrl, resolveSmtpUrl } from '../../src/report/smtp-url.js';

const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => expect.fail('expected a failure'),
    (error: unknown) => error as NightshiftError,
  );
const isRoot = process.getuid?.() === 0;

let dir: string;
/** A path where no file is, so the real /etc/nightshift/env of the machine never leaks into a test. */
let nowhere: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'nightshift-smtp-url-'));
  nowhere = path.join(dir, 'no-such-env');
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function envFile(name: string, text: string, mode = 0o600): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, text);
  await chmod(file, mode); // explicit: writeFile's mode is filtered by the umask
  return file;
}

describe('resolveSmtpUrl', () => {
  it('takes NIGHTSHIFT_SMTP_URL from the environment before any env file', async () => {
    const file = await envFile('both', 'NIGHTSHIFT_SMTP_URL=smtp://file.example.com:25\n');
    const env = { NIGHTSHIFT_SMTP_URL: 'smtp://u:p@env.example.com:587', NIGHTSHIFT_ENV_FILE: file };
    expect(await resolveSmtpUrl({ env })).toEqual({ url: 'smtp://u:p@env.example.com:587', source: 'NIGHTSHIFT_SMTP_URL' });
  });

  it('reads a 0600 env file: comments, blank lines, export and quotes', async () => {
    const file = await envFile(
      'env',
      ['# nightshift secrets', '', 'OTHER=1', `export NIGHTSHIFT_SMTP_URL="smtp://mailer:s3cret@mail.example.com:587"`, '  # trailing comment', ''].join('\n'),
    );
    expect(await resolveSmtpUrl({ env: { NIGHTSHIFT_ENV_FILE: file } })).toEqual({
      url: 'smtp://mailer:s3cret@mail.example.com:587',
      source: `NIGHTSHIFT_SMTP_URL in ${file}`,
    });
    // The same file as the default location (what /etc/nightshift/env is in production).
    expect((await resolveSmtpUrl({ env: {}, envFile: file }))?.url).toBe('smtp://mailer:s3cret@mail.example.com:587');
  });

  it('accepts single quotes and CRLF line ends, the last assignment winning', async () => {
    const file = await envFile('crlf', "NIGHTSHIFT_SMTP_URL=smtp://old.example.com\r\nNIGHTSHIFT_SMTP_URL='smtps://new.example.com:465'\r\n");
    expect((await resolveSmtpUrl({ env: { NIGHTSHIFT_ENV_FILE: file } }))?.url).toBe('smtps://new.example.com:465');
  });

  it.each([
    ['group-readable', 0o640, 'readable by its group'],
    ['world-readable', 0o604, 'readable by others'],
    ['group-writable', 0o620, 'writable by its group'],
  ])('refuses a %s env file, saying which file and to chmod 600', async (name, mode, what) => {
    const file = await envFile(name, 'NIGHTSHIFT_SMTP_URL=smtp://u:s3cret@mail.example.com\n', mode);
    const error = await failure(resolveSmtpUrl({ env: { NIGHTSHIFT_ENV_FILE: file } }));
    expect(error).toBeInstanceOf(NightshiftError);
    expect(error.exitCode).toBe(2);
    expect(error.message).toContain(file);
    expect(error.message).toContain(what);
    expect(error.message).toContain(`chmod 600 ${file}`);
    expect(error.message).not.toContain('s3cret');
  });

  it.runIf(isRoot)('refuses, as root, an env file another user owns', async () => {
    const file = await envFile('not-roots', 'NIGHTSHIFT_SMTP_URL=smtp://mail.example.com\n');
    await chown(file, 65534, 65534);
    const error = await failure(resolveSmtpUrl({ env: { NIGHTSHIFT_ENV_FILE: file } }));
    expect(error.exitCode).toBe(2);
    expect(error.message).toContain('owned by uid 65534');
    expect(error.message).toContain(`chown root:root ${file}`);
  });

  it('is undefined when neither the variable nor the default env file exists', async () => {
    expect(await resolveSmtpUrl({ env: {}, envFile: nowhere })).toBeUndefined();
    // An empty variable counts as unset.
    expect(await resolveSmtpUrl({ env: { NIGHTSHIFT_SMTP_URL: '' }, envFile: nowhere })).toBeUndefined();
    // An env file without the URL: nothing to send with, not an error here.
    const file = await envFile('other-vars', 'NIGHTSHIFT_MACHINE=linux-0\n');
    expect(await resolveSmtpUrl({ env: {}, envFile: file })).toBeUndefined();
  });

  it('fails when the file NIGHTSHIFT_ENV_FILE names does not exist', async () => {
    const error = await failure(resolveSmtpUrl({ env: { NIGHTSHIFT_ENV_FILE: nowhere } }));
    expect(error.exitCode).toBe(2);
    expect(error.message).toContain(nowhere);
    expect(error.message).toContain('does not exist');
  });

  it('reports a malformed line by number without echoing it', async () => {
    const file = await envFile('bad', 'NIGHTSHIFT_SMTP_URL=smtp://mail.example.com\nsmtp://u:s3cret@oops\n');
    const error = await failure(resolveSmtpUrl({ env: { NIGHTSHIFT_ENV_FILE: file } }));
    expect(error.exitCode).toBe(2);
    expect(error.message).toBe(`${file}:2: expected NAME=value`);
  });

  it('rejects a URL that is not smtp:// or smtps://, masking its password', async () => {
    const error = await failure(resolveSmtpUrl({ env: { NIGHTSHIFT_SMTP_URL: 'https://u:s3cret@mail.example.com' } }));
    expect(error.exitCode).toBe(2);
    expect(error.message).toContain('NIGHTSHIFT_SMTP_URL is not an SMTP URL: https://u:***@mail.example.com');
    expect(error.message).not.toContain('s3cret');
  });
});

describe('redactUrl', () => {
  it.each([
    ['smtp://user:s3cret@mail.example.com:587', 'smtp://user:***@mail.example.com:587'],
    ['smtps://user:p%40ss%3Aword@mail.example.com', 'smtps://user:***@mail.example.com'],
    // An unencoded '@' in the password: still all of it masked.
    ['smtp://user:p@ss@mail.example.com:25', 'smtp://user:***@mail.example.com:25'],
    ['smtp://user@mail.example.com:25', 'smtp://user@mail.example.com:25'],
    ['smtp://mail.example.com', 'smtp://mail.example.com'],
    // Not a valid URL (bad port): masked all the same.
    ['smtp://user:s3cret@mail.example.com:99999', 'smtp://user:***@mail.example.com:99999'],
  ])('%s -> %s', (url, redacted) => {
    expect(redactUrl(url)).toBe(redacted);
  });
});
