/** Exit codes, as the README lists them. */
export const ExitCode = {
  ok: 0,
  buildsFailed: 1,
  usage: 2,
  nothingSelected: 3,
  serviceUnavailable: 4,
  /** The night (or the builds waited for) was canceled: a signal or `nightshift cancel` stopped it. */
  canceled: 5,
  /** `wait --timeout` ran out with builds still going. */
  waitTimedOut: 6,
  bug: 70,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/**
 * The one error type nightshift throws on purpose. Its message is for the user (what failed, why,
 * what to do); cli.ts prints it without a stack trace and exits with `exitCode`.
 */
export class NightshiftError extends Error {
  readonly exitCode: ExitCodeValue;
  /** Print the message as it is, without the `nightshift: ` prefix (lists of `file:line:col` problems). */
  readonly plain: boolean;
  constructor(message: string, exitCode: ExitCodeValue = ExitCode.usage, options?: { cause?: unknown; plain?: boolean }) {
    super(message, { cause: options?.cause });
    this.name = 'NightshiftError';
    this.exitCode = exitCode;
    this.plain = options?.plain ?? false;
  }
}

/** The message of anything caught: an Error's message, else the thing itself as text. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The system error code of anything caught (`ENOENT`, `ENOTDIR`...), or undefined when it has none. */
export function errnoCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}
