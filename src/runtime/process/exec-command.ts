/**
 * A Procfile line runs as `/bin/sh -c '<line>'`, as Heroku and foreman run it. When the line is one plain
 * command (words only: no operators, redirections, quotes, expansions or variable assignments), the shell is
 * told to `exec` it: the app replaces the shell instead of running as its child, so an instance is one
 * process less (and one fork less to start), and the app is the process the sandbox's init waits for and
 * signals reach first. Anything else is left exactly as written.
 */
const PLAIN_WORDS = /^[A-Za-z0-9_@%+,./:-]+( +[A-Za-z0-9_@%+,./:=-]+)*$/;
/** Words the shell runs itself (builtins and keywords): `exec` of one would look for a program instead. */
const SHELL_WORDS = new Set(['.', ':', 'alias', 'bg', 'break', 'cd', 'command', 'continue', 'do', 'done', 'elif', 'else', 'esac', 'eval', 'exec', 'exit', 'export', 'fg', 'fi', 'for', 'getopts', 'hash', 'if', 'jobs', 'local', 'read', 'readonly', 'return', 'set', 'shift', 'source', 'then', 'times', 'trap', 'type', 'ulimit', 'umask', 'unalias', 'unset', 'until', 'wait', 'while']);

export function execPlainCommand(argv: string[]): string[] {
  if (argv.length !== 3 || argv[0] !== '/bin/sh' || argv[1] !== '-c') return argv;
  const line = argv[2].trim();
  if (!PLAIN_WORDS.test(line) || SHELL_WORDS.has(line.split(' ', 1)[0])) return argv;
  return ['/bin/sh', '-c', `exec ${line}`];
}
