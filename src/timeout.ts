/** A wait that is never endless: for answers from services (Redis, the destination) that may not come. */

/** The promise's value, or an error "no answer within N s". The timer never keeps the process alive. */
export async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${Math.round(ms / 1000)} s`)), ms);
    timer.unref();
  });
  promise.catch(() => {}); // may settle after the timeout: never an unhandled rejection
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
