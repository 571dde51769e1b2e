// A throwaway self-signed certificate for 127.0.0.1 and localhost, made with openssl in a temp dir, so the
// SMTP and HTTPS test servers speak real TLS that clients trust only through an explicit `ca`.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TestCertificate {
  /** PEM private key. */
  key: string;
  /** PEM certificate; also the CA a client must trust, since it signs itself. */
  cert: string;
  /** Removes the temp dir with the files. */
  remove(): Promise<void>;
}

export async function createSelfSignedCert(): Promise<TestCertificate> {
  const dir = await mkdtemp(join(tmpdir(), 'pgwarden-tls-'));
  try {
    const keyPath = join(dir, 'key.pem');
    const certPath = join(dir, 'cert.pem');
    // EC keys are made in milliseconds; RSA 2048 takes noticeably longer on a small machine.
    await run('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '2',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
      '-keyout',
      keyPath,
      '-out',
      certPath,
    ]);
    const [key, cert] = await Promise.all([readFile(keyPath, 'utf8'), readFile(certPath, 'utf8')]);
    return { key, cert, remove: () => rm(dir, { recursive: true, force: true }) };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}
