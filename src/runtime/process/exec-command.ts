/**
 * A Procfile line runs as `/bin/sh -c '<line>'`, as Heroku and foreman run it. When the line is one plain
 * command (words only: no operators, redirections, quotes, expansions or variable assignments), the shell is
 * told to `exec` it: the app replaces the shell instead of running as its child, so an instance is one
 * process less (and one fork less to start), and the app is the process the sandbox's init waits for and
 * signals reach first. Anything else is left exactly as written.
 */
const PLAIN_WORDS = /^[A-Za-z0-9_@%+,./:-]+( +[A-Za-z0-9_@%+,./:=-]+)*$/;

export function execPlainCommand(argv: string[]): string[] {
  if (argv.length !== 3 || argv[0] !== '/bin/sh' || argv[1] !== '-c') return argv;
  const line = argv[2].trim();
  if (!PLAIN_WORDS.test(line) || line.startsWith('exec ')) return argv;
  return ['/bin/sh', '-c', `exec ${line}`];
}
