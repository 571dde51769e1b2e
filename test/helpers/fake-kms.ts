// A local AWS KMS for tests: a loopback HTTP server speaking the KMS JSON 1.1 protocol (POST /,
// X-Amz-Target: TrentService.<Operation>, application/x-amz-json-1.1, blobs in base64) for GenerateDataKey
// and Decrypt, with real cryptography: each KMS key has its own random master key, and a ciphertext blob is
// AES-256-GCM under it, bound to the key's id, so a blob from another key or an altered one fails with
// InvalidCiphertextException, as in AWS. Faults on demand: down() / up(), hang(), deny(key), disable(key).
import { createCipheriv, createDecipheriv, randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { TestContext } from 'node:test';

export const FAKE_KMS_REGION = 'us-east-1';
export const FAKE_KMS_ACCOUNT = '111122223333';
/** Credentials for the config: the fake reads the access key id from the signature and refuses others. */
export const FAKE_KMS_CREDENTIALS = { accessKeyId: 'AKIAFAKEKMS', secretAccessKey: 'fake-kms-secret' };

export type KmsOperation = 'GenerateDataKey' | 'Decrypt';

interface FakeKey {
  id: string;
  arn: string;
  master: Buffer;
  enabled: boolean;
  denied: boolean;
}

export interface FakeKms {
  /** http://127.0.0.1:PORT */
  readonly endpoint: string;
  readonly region: string;
  /** Calls received per operation, answered or not (reset with resetCalls). */
  readonly calls: Record<KmsOperation, number>;
  /** Every plaintext data key handed out, so a test can check none of them leaked anywhere. */
  readonly issued: readonly Buffer[];
  resetCalls(): void;
  /** Adds a key (optionally with an alias such as `alias/backups`); returns its ARN. */
  createKey(alias?: string): string;
  /** The ARN of a key named by id, ARN, alias or alias ARN. */
  arn(name: string): string;
  /** Answers the key's calls with AccessDeniedException; allow() undoes it. */
  deny(name: string): void;
  allow(name: string): void;
  disable(name: string): void;
  enable(name: string): void;
  /** Stops listening and drops open connections: clients get ECONNREFUSED. */
  down(): Promise<void>;
  /** Listens again on the same port. */
  up(): Promise<void>;
  /** Accepts requests and never answers them (an endpoint that hangs); up() ends it. */
  hang(): void;
  /** The config lines for `encryption.kms` pointing at this server. */
  configYaml(keyId: string, extra?: string): string;
  close(): Promise<void>;
}

/** Starts a fake KMS with one key under `alias/backups`; closed after the test. */
export async function startFakeKms(t?: Pick<TestContext, 'after'>): Promise<FakeKms> {
  const keys = new Map<string, FakeKey>();
  const aliases = new Map<string, string>();
  const calls: Record<KmsOperation, number> = { GenerateDataKey: 0, Decrypt: 0 };
  const issued: Buffer[] = [];
  const sockets = new Set<Socket>();
  let hanging = false;
  let port = 0;

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (hanging) return;
      handle(req, Buffer.concat(chunks).toString('utf8'), res);
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  function find(name: string): FakeKey | undefined {
    const aliasName = name.startsWith('arn:') && name.includes(':alias/') ? name.slice(name.indexOf(':alias/') + 1) : name;
    const id = aliases.get(aliasName) ?? (name.startsWith('arn:') ? name.slice(name.lastIndexOf('/') + 1) : name);
    return keys.get(id);
  }

  function mustFind(name: string): FakeKey {
    const key = find(name);
    if (!key) throw new Error(`fake KMS: no key ${name}`);
    return key;
  }

  function fail(res: ServerResponse, type: string, message: string, status = 400): void {
    res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': randomUUID() });
    res.end(JSON.stringify({ __type: type, message }));
  }

  function ok(res: ServerResponse, body: unknown): void {
    res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': randomUUID() });
    res.end(JSON.stringify(body));
  }

  /** Checks the key named in a request: exists, usable, and allowed. */
  function usable(res: ServerResponse, operation: KmsOperation, name: unknown): FakeKey | undefined {
    if (typeof name !== 'string' || name === '') {
      fail(res, 'ValidationException', 'KeyId is required');
      return undefined;
    }
    const key = find(name);
    if (!key) {
      fail(res, 'NotFoundException', `Key '${name}' does not exist`);
      return undefined;
    }
    if (key.denied) {
      fail(res, 'AccessDeniedException', `User: arn:aws:iam::${FAKE_KMS_ACCOUNT}:user/pgwarden is not authorized to perform: kms:${operation} on resource: ${key.arn} because no identity-based policy allows the kms:${operation} action`);
      return undefined;
    }
    if (!key.enabled) {
      fail(res, 'DisabledException', `${key.arn} is disabled.`);
      return undefined;
    }
    return key;
  }

  function handle(req: IncomingMessage, text: string, res: ServerResponse): void {
    const target = String(req.headers['x-amz-target'] ?? '');
    const operation = target.replace(/^TrentService\./, '');
    if (req.method !== 'POST' || req.url !== '/' || !target.startsWith('TrentService.')) {
      fail(res, 'UnknownOperationException', `not a KMS request: ${req.method} ${req.url} ${target}`);
      return;
    }
    if (!String(req.headers['content-type'] ?? '').startsWith('application/x-amz-json-1.1')) {
      fail(res, 'SerializationException', 'expected application/x-amz-json-1.1');
      return;
    }
    const credential = /Credential=([^/]+)\//.exec(String(req.headers.authorization ?? ''))?.[1];
    if (operation === 'GenerateDataKey' || operation === 'Decrypt') calls[operation]++;
    if (credential !== FAKE_KMS_CREDENTIALS.accessKeyId) {
      fail(res, 'UnrecognizedClientException', 'The security token included in the request is invalid.');
      return;
    }
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      fail(res, 'SerializationException', 'body is not JSON');
      return;
    }
    if (operation === 'GenerateDataKey') {
      const key = usable(res, operation, body.KeyId);
      if (!key) return;
      const bytes = body.KeySpec === 'AES_128' ? 16 : body.KeySpec === 'AES_256' ? 32 : Number(body.NumberOfBytes);
      if (!(bytes >= 1 && bytes <= 1024)) {
        fail(res, 'ValidationException', 'KeySpec or NumberOfBytes is required');
        return;
      }
      const plaintext = randomBytes(bytes);
      issued.push(plaintext);
      ok(res, { KeyId: key.arn, Plaintext: plaintext.toString('base64'), CiphertextBlob: wrap(key, plaintext).toString('base64') });
      return;
    }
    if (operation === 'Decrypt') {
      const blob = typeof body.CiphertextBlob === 'string' ? Buffer.from(body.CiphertextBlob, 'base64') : Buffer.alloc(0);
      const owner = keys.get(blob.subarray(1, 37).toString('latin1'));
      if (body.KeyId !== undefined) {
        const named = usable(res, operation, body.KeyId);
        if (!named) return;
        if (owner && owner !== named) {
          fail(res, 'IncorrectKeyException', 'The key ID in the request does not identify a KMS key that can perform this operation.');
          return;
        }
      }
      const plaintext = owner ? unwrap(owner, blob) : undefined;
      if (!owner || plaintext === undefined) {
        fail(res, 'InvalidCiphertextException', '');
        return;
      }
      if (body.KeyId === undefined && !usable(res, operation, owner.arn)) return;
      ok(res, { KeyId: owner.arn, Plaintext: plaintext.toString('base64'), EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' });
      return;
    }
    fail(res, 'UnknownOperationException', `the fake KMS does not implement ${operation}`);
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as { port: number }).port;

  const closeServer = () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      if (!server.listening) {
        resolve();
        return;
      }
      server.close(() => resolve());
    });

  const kms: FakeKms = {
    endpoint: `http://127.0.0.1:${port}`,
    region: FAKE_KMS_REGION,
    calls,
    issued,
    resetCalls() {
      calls.GenerateDataKey = 0;
      calls.Decrypt = 0;
    },
    createKey(alias) {
      const id = randomUUID();
      const arn = `arn:aws:kms:${FAKE_KMS_REGION}:${FAKE_KMS_ACCOUNT}:key/${id}`;
      keys.set(id, { id, arn, master: randomBytes(32), enabled: true, denied: false });
      if (alias) aliases.set(alias, id);
      return arn;
    },
    arn: (name) => mustFind(name).arn,
    deny(name) {
      mustFind(name).denied = true;
    },
    allow(name) {
      mustFind(name).denied = false;
    },
    disable(name) {
      mustFind(name).enabled = false;
    },
    enable(name) {
      mustFind(name).enabled = true;
    },
    down: closeServer,
    async up() {
      hanging = false;
      if (server.listening) return;
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, '127.0.0.1', () => {
          server.off('error', reject);
          resolve();
        });
      });
    },
    hang() {
      hanging = true;
    },
    configYaml(keyId, extra = '') {
      const { accessKeyId, secretAccessKey } = FAKE_KMS_CREDENTIALS;
      return `  kms: { keyId: "${keyId}", region: ${FAKE_KMS_REGION}, endpoint: "${kms.endpoint}", accessKeyId: ${accessKeyId}, secretAccessKey: ${secretAccessKey}${extra ? `, ${extra}` : ''} }`;
    },
    close: closeServer,
  };
  kms.createKey('alias/backups');
  t?.after(() => kms.close());
  return kms;
}

// Blob: version 0x01 ‖ key id (36 ASCII bytes, a UUID) ‖ nonce (12) ‖ AES-256-GCM ciphertext ‖ tag (16),
// the key id as AAD. Real KMS blobs also name their key inside, which is how Decrypt works without KeyId.
function wrap(key: FakeKey, plaintext: Buffer): Buffer {
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key.master, nonce);
  cipher.setAAD(Buffer.from(key.id, 'latin1'));
  const sealed = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([Buffer.from([1]), Buffer.from(key.id, 'latin1'), nonce, sealed, cipher.getAuthTag()]);
}

function unwrap(key: FakeKey, blob: Buffer): Buffer | undefined {
  if (blob.length < 1 + 36 + 12 + 16 || blob[0] !== 1) return undefined;
  const decipher = createDecipheriv('aes-256-gcm', key.master, blob.subarray(37, 49));
  decipher.setAAD(Buffer.from(key.id, 'latin1'));
  decipher.setAuthTag(blob.subarray(blob.length - 16));
  try {
    return Buffer.concat([decipher.update(blob.subarray(49, blob.length - 16)), decipher.final()]);
  } catch {
    return undefined;
  }
}
