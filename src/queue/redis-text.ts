/** What the queue's Redis clients share: a message never holds the URL's password, and no wait is endless. */

/** `message` with the URL's password, as written and decoded, replaced by `***`. */
export function withoutPassword(message: string, url: string): string {
  const password = URL.canParse(url) ? new URL(url).password : '';
  if (!password) return message;
  return message.replaceAll(password, '***').replaceAll(decodeURIComponent(password), '***');
}

/** The promise's value, or an error "no answer within N s". */
export async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms / 1000} s`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
