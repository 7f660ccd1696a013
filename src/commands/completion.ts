/**
 * Shell completion: `nightshift completion bash|zsh` prints a script to source; the script asks the hidden
 * `nightshift __complete ids|machines|schedules` for the words that depend on the configuration and the night.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { loadSchedule, type GlobalOptions } from '../context.js';
import { ExitCode, NightshiftError } from '../errors.js';
import { readNightState } from '../night/state.js';
import { nightLayout } from '../night/layout.js';
import { nightToRead } from '../night/read-night.js';
import type { Io } from '../output/io.js';

/** What the script completes: each command with its options and what its arguments are. */
export interface CompletedCommand {
  name: string;
  options: string[];
  /** Words for the command's arguments: build ids of the night, or a fixed list. */
  argumentWords: 'ids' | readonly string[];
}

export const SHELLS = ['bash', 'zsh'] as const;
export const DYNAMIC_KINDS = ['ids', 'machines', 'schedules'] as const;

/** The options whose value the script completes, and how. */
const VALUE_COMPLETIONS = `--machine) COMPREPLY=($(compgen -W "$(nightshift __complete machines "\${pass[@]}" 2>/dev/null)" -- "$cur")); return 0 ;;
      --schedule) COMPREPLY=($(compgen -W "$(nightshift __complete schedules "\${pass[@]}" 2>/dev/null)" -- "$cur")); return 0 ;;`;

export function completionScript(shell: string, commands: readonly CompletedCommand[]): string {
  if (shell === 'bash') return bashScript(commands);
  if (shell === 'zsh') return zshScript(commands);
  throw new NightshiftError(`completion for "${shell}" is not available: use nightshift completion bash or nightshift completion zsh`, ExitCode.usage);
}

/** The options that pick the configuration and the night, passed on to __complete from the line typed so far. */
const PASSED_ON = '--config|--schedule|--root|--date';
/** Options that take a value: the word after them is not the command. */
const valueOptions = (commands: readonly CompletedCommand[]) =>
  [...new Set(commands.flatMap((c) => c.options.filter((o) => o.endsWith('=')).map((o) => o.slice(0, -1))))].join('|') || '--config';

function caseOfOptions(commands: readonly CompletedCommand[]): string {
  return commands.map((c) => `      ${c.name}) words="${c.options.map((o) => o.replace(/=$/, '')).join(' ')}" ;;`).join('\n');
}

function caseOfArguments(commands: readonly CompletedCommand[]): string {
  return commands
    .filter((c) => c.argumentWords === 'ids' || c.argumentWords.length > 0)
    .map((c) =>
      c.argumentWords === 'ids' ? `      ${c.name}) words="$(nightshift __complete ids "\${pass[@]}" 2>/dev/null)" ;;` : `      ${c.name}) words="${c.argumentWords.join(' ')}" ;;`,
    )
    .join('\n');
}

/** The shell function's body, valid in bash and, with bashcompinit, in zsh. */
function completionFunction(commands: readonly CompletedCommand[]): string {
  return `_nightshift() {
  local cur prev cmd="" words="" i
  local -a pass=()
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "\${COMP_WORDS[i]}" in
      ${PASSED_ON}) pass+=("\${COMP_WORDS[i]}" "\${COMP_WORDS[i+1]}"); i=$((i + 1)) ;;
      ${valueOptions(commands)}) i=$((i + 1)) ;;
      -*) ;;
      *) [[ -z "$cmd" ]] && cmd="\${COMP_WORDS[i]}" ;;
    esac
  done
  COMPREPLY=()
  case "$prev" in
      ${VALUE_COMPLETIONS}
      --config|--root|--dir) COMPREPLY=($(compgen -d -- "$cur")); return 0 ;;
      ${valueOptions(commands)}) return 0 ;;
  esac
  if [[ -z "$cmd" ]]; then
    COMPREPLY=($(compgen -W "${commands.map((c) => c.name).join(' ')} --help --version" -- "$cur")); return 0
  fi
  if [[ "$cur" == -* ]]; then
    case "$cmd" in
${caseOfOptions(commands)}
    esac
  else
    case "$cmd" in
${caseOfArguments(commands)}
    esac
  fi
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}`;
}

function bashScript(commands: readonly CompletedCommand[]): string {
  return `# nightshift completion for bash: source <(nightshift completion bash)
${completionFunction(commands)}
complete -F _nightshift nightshift
`;
}

function zshScript(commands: readonly CompletedCommand[]): string {
  return `# nightshift completion for zsh: source <(nightshift completion zsh) after compinit
autoload -U +X bashcompinit && bashcompinit
${completionFunction(commands)}
complete -F _nightshift nightshift
`;
}

/**
 * The words of `nightshift __complete KIND`: one a line. Any failure prints nothing and exits 0, so a
 * half-typed configuration never writes into the user's prompt.
 */
export async function completeWords(options: GlobalOptions, kind: string, io: Io): Promise<number> {
  const words = await dynamicWords(options, kind).catch(() => []);
  if (words.length) io.out(words.join('\n'));
  return ExitCode.ok;
}

async function dynamicWords(options: GlobalOptions, kind: string): Promise<string[]> {
  if (kind === 'schedules') {
    const names = await readdir(path.join(options.config, 'schedules'));
    return names.filter((name) => /\.ya?ml$/.test(name)).map((name) => name.replace(/\.ya?ml$/, ''));
  }
  const { schedule } = await loadSchedule(options);
  if (kind === 'machines') return schedule.machines.map((m) => m.name);
  if (kind === 'ids') {
    const date = await nightToRead(schedule.root, schedule.timezone, options.date);
    const state = await readNightState(nightLayout(schedule.root, date).state);
    return state?.builds.map((build) => build.id) ?? [];
  }
  return [];
}
