/** Each command and the options it takes (completion offers them; `--json`, `--url`, … go everywhere). */
export const COMMAND_OPTIONS: Readonly<Record<string, readonly string[]>> = {
  status: [],
  get: ['--watch', '--interval'],
  rollouts: ['--model', '--active'],
  history: ['--limit'],
  diff: [],
  events: ['--detail'],
  create: ['--file', '--start', '--reason'],
  start: [],
  promote: ['--full', '--reason', '--yes'],
  pause: ['--reason'],
  resume: [],
  abort: ['--reason', '--yes'],
  rollback: ['--reason', '--yes'],
  retry: ['--reason'],
  revert: ['--reason', '--yes'],
  keys: ['--models', '--rpm', '--tokens-per-day', '--may-force-version'],
  tokens: [],
  completion: [],
};
const COMMON = ['--json', '--utc', '--url', '--token', '--help'];

/**
 * bash completion: commands, options, and model names (asked from Aviary with the same URL and
 * token as any command, quietly nothing when it cannot be reached). zsh uses it through
 * bashcompinit.
 */
function bash(): string {
  const cases = Object.entries(COMMAND_OPTIONS)
    .map(([cmd, opts]) => `    ${cmd}) opts="${[...opts, ...COMMON].join(' ')}" ;;`)
    .join('\n');
  return `# aviary completion for bash: source <(aviary completion bash), or save it to
# /etc/bash_completion.d/aviary (or ~/.local/share/bash-completion/completions/aviary).
_aviary() {
  local cur prev cmd opts
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  cmd="\${COMP_WORDS[1]}"
  if [[ \${COMP_CWORD} -eq 1 ]]; then
    COMPREPLY=( $(compgen -W "${Object.keys(COMMAND_OPTIONS).join(' ')} --help --version" -- "\${cur}") )
    return 0
  fi
  case "\${cmd}" in
${cases}
    *) opts="${COMMON.join(' ')}" ;;
  esac
  case "\${prev}" in
    -f|--file) COMPREPLY=( $(compgen -f -- "\${cur}") ); return 0 ;;
    --url|--token|--reason|--interval|--limit) return 0 ;;
    --model) COMPREPLY=( $(compgen -W "$(\${COMP_WORDS[0]} __complete models 2>/dev/null)" -- "\${cur}") ); return 0 ;;
  esac
  if [[ "\${cur}" == -* ]]; then
    COMPREPLY=( $(compgen -W "\${opts}" -- "\${cur}") )
    return 0
  fi
  case "\${cmd}" in
    completion) COMPREPLY=( $(compgen -W "bash zsh" -- "\${cur}") ); return 0 ;;
    get) if [[ \${COMP_CWORD} -eq 2 ]]; then COMPREPLY=( $(compgen -W "rollout rollouts" -- "\${cur}") ); return 0; fi ;;
    create|rollouts) return 0 ;;
  esac
  COMPREPLY=( $(compgen -W "$(\${COMP_WORDS[0]} __complete models 2>/dev/null)" -- "\${cur}") )
}
complete -F _aviary aviary
`;
}

function zsh(): string {
  return `# aviary completion for zsh: source <(aviary completion zsh), e.g. in ~/.zshrc.
autoload -U +X compinit && compinit
autoload -U +X bashcompinit && bashcompinit
${bash()}`;
}

export function completionScript(shell: string): string | null {
  return shell === 'bash' ? bash() : shell === 'zsh' ? zsh() : null;
}
