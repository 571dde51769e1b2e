// AWS KMS for envelope encryption: one data key per artifact from GenerateDataKey, unwrapped with Decrypt.
// The real @aws-sdk/client-kms, loaded only when a KMS call is made (wal-push runs once per segment and must
// start fast), with short timeouts and one retry, so an outage fails a backup in seconds, not minutes.
import { EncryptionError } from '../errors.js';
import { KEY_BYTES } from './format.js';
import { kmsFailure } from './kms-errors.js';
import type { DataKey, KmsKeys, WrappedKey } from './types.js';

export { KmsError, type KmsFailureReason } from './kms-errors.js';

export interface KmsOptions {
  /** The KMS key new data keys are made under: key id, key ARN, alias (`alias/backups`) or alias ARN. */
  keyId: string;
  region: string;
  /** Another endpoint than the region's (VPC endpoint, FIPS endpoint, a local test server). */
  endpoint?: string | undefined;
  /** Static credentials; without them the SDK's default chain (environment, profile, instance role). */
  accessKeyId?: string | undefined;
  secretAccessKey?: string | undefined;
  /** Each KMS call gives up after this long, retry included. Default 10. */
  timeoutSeconds?: number | undefined;
}

export const DEFAULT_KMS_TIMEOUT_SECONDS = 10;
/** One retry: a dropped connection or a throttled call gets a second chance, an outage fails fast. */
const MAX_ATTEMPTS = 2;
/** Longest wrapped data key accepted: KMS ciphertext blobs are at most 6144 bytes. */
export const MAX_WRAPPED_KEY_BYTES = 6144;

type Sdk = typeof import('@aws-sdk/client-kms');
type Client = InstanceType<Sdk['KMSClient']>;

export function createKms(options: KmsOptions): KmsKeys {
  const timeoutMs = Math.round((options.timeoutSeconds ?? DEFAULT_KMS_TIMEOUT_SECONDS) * 1000);
  const where = { keyId: options.keyId, region: options.region, endpoint: options.endpoint ?? `https://kms.${options.region}.amazonaws.com`, timeoutMs };
  let loaded: Promise<{ sdk: Sdk; client: Client }> | undefined;

  const load = () => {
    loaded ??= import('@aws-sdk/client-kms').then((sdk) => ({
      sdk,
      client: new sdk.KMSClient({
        region: options.region,
        ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
        ...(options.accessKeyId !== undefined && options.secretAccessKey !== undefined
          ? { credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey } }
          : {}),
        maxAttempts: MAX_ATTEMPTS,
        // Per attempt; the abort signal in send() bounds the whole call.
        requestHandler: { connectionTimeout: Math.min(3000, timeoutMs), requestTimeout: timeoutMs },
      }),
    }));
    return loaded;
  };

  /** Runs one KMS call; any failure becomes a KmsError naming the key and what to do. */
  async function call<T>(operation: 'GenerateDataKey' | 'Decrypt', kmsKeyId: string, send: (sdk: Sdk, client: Client, signal: AbortSignal) => Promise<T>): Promise<T> {
    const { sdk, client } = await load();
    try {
      return await send(sdk, client, AbortSignal.timeout(timeoutMs));
    } catch (error) {
      throw kmsFailure(error, { ...where, operation, kmsKeyId });
    }
  }

  return {
    keyId: options.keyId,

    async generateDataKey(): Promise<DataKey> {
      const out = await call('GenerateDataKey', options.keyId, (sdk, client, abortSignal) =>
        client.send(new sdk.GenerateDataKeyCommand({ KeyId: options.keyId, KeySpec: 'AES_256' }), { abortSignal }),
      );
      const plaintext = out.Plaintext === undefined ? undefined : Buffer.from(out.Plaintext);
      const wrapped = out.CiphertextBlob === undefined ? undefined : Buffer.from(out.CiphertextBlob);
      if (plaintext?.length !== KEY_BYTES || wrapped === undefined || wrapped.length === 0 || wrapped.length > MAX_WRAPPED_KEY_BYTES) {
        plaintext?.fill(0);
        throw new EncryptionError(`KMS GenerateDataKey with key ${options.keyId} answered without a 32-byte data key and its wrapped copy`, {
          hints: ['check that encryption.kms.endpoint is an AWS KMS endpoint'],
        });
      }
      // The key's ARN, not the alias it was asked by: an alias can later point at another key.
      return { plaintext, wrapped, kmsKeyId: out.KeyId ?? options.keyId };
    },

    async decrypt(key: WrappedKey): Promise<Buffer> {
      const out = await call('Decrypt', key.kmsKeyId, (sdk, client, abortSignal) =>
        client.send(new sdk.DecryptCommand({ CiphertextBlob: key.wrapped, KeyId: key.kmsKeyId, EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' }), { abortSignal }),
      );
      const plaintext = out.Plaintext === undefined ? undefined : Buffer.from(out.Plaintext);
      if (plaintext?.length !== KEY_BYTES) {
        plaintext?.fill(0);
        throw new EncryptionError(`KMS Decrypt with key ${key.kmsKeyId} did not give a 32-byte data key`, {
          hints: ['the wrapped key was not made by pgwarden (GenerateDataKey AES_256)'],
        });
      }
      return plaintext;
    },
  };
}
