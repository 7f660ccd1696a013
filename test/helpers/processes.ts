/** Finding live processes by what they carry: no pid needs to be known (a build in a PID namespace sees other pids). */
import { readFileSync, readdirSync } from 'node:fs';

/** Pids of live (non-zombie) processes whose environment or argv holds `marker`. */
export function processesWith(marker: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue;
      const text = readFileSync(`/proc/${entry}/environ`, 'latin1') + readFileSync(`/proc/${entry}/cmdline`, 'latin1');
      if (text.includes(marker)) found.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return found;
}
