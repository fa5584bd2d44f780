// Loopback web servers for the http and tls checks to find (the playground's services, and the
// tests' in test/support/web-site.ts):
//
// • startHttpServer: plain HTTP answering `/healthz` with 200 and `/status/NNN` with NNN.
// • startHttpsServer: the same answers over TLS, with the certificate it is given.
import { STATUS_CODES, createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type net from 'node:net';
import type { CertFiles } from './certs.js';

export interface Listening {
  host: string;
  port: number;
  close(): Promise<void>;
}

export interface ListenOptions {
  /** Any 127.0.0.0/8 address; default 127.0.0.1. */
  host?: string;
  /** 0 (the default) picks a free port. */
  port?: number;
}

/** The one handler every web server here uses; its headers are what the http check reports. */
function answer(req: IncomingMessage, res: ServerResponse): void {
  const path = (req.url ?? '/').split('?')[0] ?? '/';
  const status = path === '/healthz' ? 200 : Number(/^\/status\/([1-5]\d\d)$/.exec(path)?.[1] ?? 404);
  const headers: Record<string, string> = { server: 'kdebug-test', 'content-type': 'text/plain; charset=utf-8' };
  if (status >= 300 && status < 400) headers.location = '/login';
  res.writeHead(status, headers);
  res.end(`${status} ${STATUS_CODES[status] ?? ''}\n`);
}

/** Listen, and on close() drop open connections too, so a keep-alive client cannot hold a test up. */
export function listen(server: net.Server, { host = '127.0.0.1', port = 0 }: ListenOptions): Promise<Listening> {
  const sockets = new Set<net.Socket>();
  server.on('connection', (socket: net.Socket) => {
    // A client killed mid-test resets its connection; that is not the server's problem.
    socket.on('error', () => {});
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const address = server.address();
      const bound = typeof address === 'object' && address ? address.port : port;
      resolve({
        host,
        port: bound,
        close: () =>
          new Promise<void>((done) => {
            for (const socket of sockets) socket.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}

export function startHttpServer(options: ListenOptions = {}): Promise<Listening> {
  return listen(createServer(answer), options);
}

export function startHttpsServer(cert: CertFiles, options: ListenOptions = {}): Promise<Listening> {
  return listen(createHttpsServer({ cert: cert.cert, key: cert.key }, answer), options);
}
