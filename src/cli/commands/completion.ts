/** `slipway completion bash`: a bash completion script generated from the command tree itself. */
import type { Command } from 'commander';
import { UsageError } from '../service-ref.ts';

function walk(cmd: Command, prefix: string, out: Map<string, string[]>, globals: string[]): void {
  const subs = cmd.commands.filter((c) => c.name() !== 'help');
  const words = [...subs.flatMap((c) => [c.name(), ...c.aliases()]), ...cmd.options.flatMap((o) => [o.long, o.short].filter((x): x is string => Boolean(x))), ...globals];
  out.set(prefix, [...new Set(words)]);
  for (const c of subs) for (const name of [c.name(), ...c.aliases()]) walk(c, prefix ? `${prefix} ${name}` : name, out, globals);
}

export function bashCompletion(program: Command): string {
  const globals = [...program.options.filter((o) => o.long !== '--version').map((o) => o.long).filter((x): x is string => Boolean(x)), '--help'];
  const tree = new Map<string, string[]>();
  walk(program, '', tree, []);
  for (const [k, v] of tree) tree.set(k, [...new Set([...v.filter((w) => k === '' || !globals.includes(w)), ...globals])]);
  const cases = [...tree].map(([k, v]) => `    '${k}') echo '${v.join(' ')}' ;;`).join('\n');
  return `# bash completion for slipway; load with: source <(slipway completion bash)
_slipway_words() {
  case "$1" in
${cases}
    *) return 1 ;;
  esac
}
_slipway() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" key="" w i
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    [[ "$w" == -* ]] && continue
    if _slipway_words "\${key:+$key }$w" >/dev/null; then key="\${key:+$key }$w"; fi
  done
  if [[ "$key" == deploy && "$cur" != -* ]]; then
    COMPREPLY=( $(compgen -d -- "$cur") )
    return
  fi
  if [[ "$key" == "context use" && "$cur" != -* ]]; then
    COMPREPLY=( $(compgen -W "$(slipway context list 2>/dev/null | awk 'NR > 1 { print $2 }')" -- "$cur") )
    return
  fi
  COMPREPLY=( $(compgen -W "$(_slipway_words "$key")" -- "$cur") )
}
complete -F _slipway slipway
`;
}

export function registerCompletion(program: Command): void {
  program
    .command('completion <shell>')
    .description('print a shell completion script (bash)')
    .action((shell: string) => {
      if (shell !== 'bash') throw new UsageError(`no completion for '${shell}': only bash for now`);
      process.stdout.write(bashCompletion(program));
    });
}
