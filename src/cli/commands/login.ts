/** `slipway login` and `slipway context list|use`: the contexts kept in the user's config file. */
import type { Command } from 'commander';
import { ApiClient } from '../api-client.ts';
import { configPath, readContexts, saveContext, useContext } from '../contexts.ts';
import { sessionOf } from '../session.ts';
import { UsageError } from '../service-ref.ts';

export function registerLogin(program: Command): void {
  program
    .command('login')
    .description('check a host and token against the API and save them as a context (made current)')
    .option('--name <context>', 'context name (default: the host)')
    .option('--router-port <port>', "the router's HTTP port, for `open` (default 8080)")
    .action(async (opts: { name?: string; routerPort?: string }, cmd: Command) => {
      const s = sessionOf(cmd);
      const host = s.flags.host ?? process.env.SLIPWAY_HOST;
      const token = s.flags.token ?? process.env.SLIPWAY_TOKEN;
      if (!host || !token) throw new UsageError('login needs --host <url> and --token <token> (or SLIPWAY_HOST / SLIPWAY_TOKEN)');
      let url: URL;
      try {
        url = new URL(host);
      } catch {
        throw new UsageError(`--host '${host}' is not a URL (e.g. http://127.0.0.1:7070)`);
      }
      const routerPort = opts.routerPort !== undefined ? Number(opts.routerPort) : undefined;
      if (routerPort !== undefined && !(Number.isInteger(routerPort) && routerPort > 0 && routerPort < 65536)) throw new UsageError('--router-port must be a port number');
      const name = opts.name ?? url.host;
      const client = new ApiClient({ host: host.replace(/\/+$/, ''), token, routerPort: routerPort ?? 8080 });
      // Any authenticated read proves the pair; a bad token gets the API's own 401 message.
      const projects = await client.get('/v1/projects', { per_page: 1 });
      saveContext({ name, host: host.replace(/\/+$/, ''), token, ...(routerPort ? { routerPort } : {}) });
      if (s.json) return s.out.json({ context: name, host, config: configPath(), projects });
      s.out.line(`Logged in to ${host}; context '${name}' saved in ${configPath()} and made current.`);
    });

  const context = program.command('context').description('list and switch saved contexts');
  context
    .command('list')
    .alias('ls')
    .description('list saved contexts (* marks the current one)')
    .action((_opts: unknown, cmd: Command) => {
      const s = sessionOf(cmd);
      const data = readContexts();
      if (s.json) return s.out.json({ current: data.current ?? null, contexts: data.contexts.map(({ token: _t, ...rest }) => rest) });
      s.out.table(
        ['', 'name', 'host', 'router port'],
        data.contexts.map((c) => [c.name === data.current ? '*' : '', c.name, c.host, c.routerPort ?? 8080]),
      );
    });
  context
    .command('use <name>')
    .description('make a saved context the current one')
    .action((name: string, _opts: unknown, cmd: Command) => {
      const s = sessionOf(cmd);
      const ctx = useContext(name);
      if (s.json) return s.out.json({ current: ctx.name, host: ctx.host });
      s.out.line(`Now using context '${ctx.name}' (${ctx.host}).`);
    });
}
