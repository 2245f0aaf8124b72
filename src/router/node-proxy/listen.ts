import type net from 'node:net';

/** Resolves once `server` listens on `port`, rejects with the bind error (EADDRINUSE, …) otherwise. */
export function listen(server: net.Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
