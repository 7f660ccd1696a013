/** What the queue's Redis clients share: a message never holds the URL's password. */

/** `message` with the URL's password, as written and decoded, replaced by `***`. */
export function withoutPassword(message: string, url: string): string {
  const password = URL.canParse(url) ? new URL(url).password : '';
  if (!password) return message;
  return message.replaceAll(password, '***').replaceAll(decodeURIComponent(password), '***');
}
