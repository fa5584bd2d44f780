// A throwaway self-signed serving certificate for 127.0.0.1, made once per process with openssl.
// HTTPS matters because kubectl (client-go) only sends a kubeconfig's bearer token over TLS
// (kubernetes/kubectl#744): against a plain-http server it goes anonymous.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export interface ServingCert {
  cert: string;
  key: string;
}

let pending: Promise<ServingCert> | undefined;

export function servingCert(): Promise<ServingCert> {
  pending ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kube-emulator-tls-'));
    try {
      await execFileAsync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'ec',
          '-pkeyopt',
          'ec_paramgen_curve:prime256v1',
          '-nodes',
          '-keyout',
          join(dir, 'key.pem'),
          '-out',
          join(dir, 'cert.pem'),
          '-days',
          '7',
          '-subj',
          '/CN=kube-emulator',
          '-addext',
          'subjectAltName=IP:127.0.0.1,DNS:localhost',
        ],
        { timeout: 30_000 },
      );
      return { cert: await readFile(join(dir, 'cert.pem'), 'utf8'), key: await readFile(join(dir, 'key.pem'), 'utf8') };
    } catch (err) {
      throw new Error(`KubeEmulator needs openssl to make its TLS certificate: ${(err as Error).message}`, { cause: err });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  })();
  pending.catch(() => {
    pending = undefined;
  });
  return pending;
}
