/** A problem found in a configuration file, and how it is printed. */

export type IssuePath = ReadonlyArray<string | number>;

export interface ConfigIssue {
  file: string;
  line: number;
  col: number;
  path: IssuePath;
  message: string;
}

/** `exclude[0].cuda`, `packages.manywheel.timeout`, `machines.linux-0` */
export function formatPath(path: IssuePath): string {
  return path.reduce<string>((text, step) => (typeof step === 'number' ? `${text}[${step}]` : text ? `${text}.${step}` : step), '');
}

/** `matrix.yaml:12:5 packages.conda.timeout: expected a duration like 90m or 4h, got "soon"` */
export function formatIssue(issue: ConfigIssue): string {
  const where = formatPath(issue.path);
  return `${issue.file}:${issue.line}:${issue.col} ${where ? `${where}: ` : ''}${issue.message}`;
}

export function sortIssues(issues: ConfigIssue[]): ConfigIssue[] {
  return [...issues].sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.col - b.col);
}
