// What a failed KMS call means for the person on call: one EncryptionError per kind of failure, naming the
// KMS key, the operation and what to do. AWS's own message is kept (it names the principal and the policy).
import { EncryptionError, type ErrorOptions } from '../errors.js';

export type KmsFailureReason =
  | 'access-denied'
  | 'not-found'
  | 'disabled'
  | 'invalid-ciphertext'
  | 'wrong-key'
  | 'credentials'
  | 'unavailable'
  | 'unreachable'
  | 'failed';

/** A KMS call failed; `reason` says how, the message names the key. */
export class KmsError extends EncryptionError {
  readonly reason: KmsFailureReason;
  readonly operation: 'GenerateDataKey' | 'Decrypt';

  constructor(reason: KmsFailureReason, operation: KmsError['operation'], message: string, options: ErrorOptions = {}) {
    super(message, options);
    this.reason = reason;
    this.operation = operation;
  }
}

export interface KmsCallContext {
  operation: 'GenerateDataKey' | 'Decrypt';
  /** The key the call named: the configured key for GenerateDataKey, the recorded ARN for Decrypt. */
  kmsKeyId: string;
  region: string;
  endpoint: string;
  timeoutMs: number;
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'ECONNABORTED']);
const UNAVAILABLE = new Set(['ThrottlingException', 'KMSInternalException', 'DependencyTimeoutException', 'KeyUnavailableException', 'ServiceUnavailableException', 'InternalFailure']);
const BAD_CREDENTIALS = new Set(['UnrecognizedClientException', 'InvalidSignatureException', 'ExpiredTokenException', 'InvalidClientTokenId', 'MissingAuthenticationTokenException', 'CredentialsProviderError', 'IncompleteSignatureException']);

export function kmsFailure(error: unknown, ctx: KmsCallContext): KmsError {
  const err = error as { name?: string; code?: string; message?: string; $metadata?: { httpStatusCode?: number }; cause?: { code?: string } };
  const name = err.name ?? '';
  const code = err.code ?? err.cause?.code ?? '';
  const aws = (err.message ?? '').trim();
  const { operation, kmsKeyId: key } = ctx;
  const what = operation === 'GenerateDataKey' ? 'a new data key' : 'a data key';
  const verb = operation === 'GenerateDataKey' ? 'make' : 'unwrap';
  const lost =
    operation === 'GenerateDataKey'
      ? 'until then no new backup or WAL file can be encrypted: backups fail'
      : 'until then nothing encrypted under this key can be verified or restored';
  const make = (reason: KmsFailureReason, message: string, hints: string[]) => new KmsError(reason, operation, message, { hints, cause: error });
  const detail = aws ? `: ${aws}` : '';

  switch (name) {
    case 'AccessDeniedException':
      return make('access-denied', `KMS denied ${operation} with key ${key}${detail}`, [
        `allow kms:${operation} on ${key} for the AWS credentials pgwarden runs with (encryption.kms.accessKeyId, or the default credential chain); ${lost}`,
      ]);
    case 'NotFoundException':
    case 'InvalidArnException':
      return make('not-found', `KMS key ${key} does not exist in region ${ctx.region}${detail}`, [
        'check encryption.kms.keyId and encryption.kms.region (an alias is written alias/<name>)',
      ]);
    case 'DisabledException':
      return make('disabled', `KMS key ${key} is disabled, so KMS cannot ${verb} ${what}${detail}`, [`enable the key in KMS (EnableKey); ${lost}`]);
    case 'KMSInvalidStateException':
      return make('disabled', `KMS key ${key} cannot be used now (pending deletion, or another state that forbids ${operation})${detail}`, [
        'if it is pending deletion, cancel it (CancelKeyDeletion) before the waiting period ends: once the key is deleted, every backup under it is lost for good',
        lost,
      ]);
    case 'InvalidCiphertextException':
      return make('invalid-ciphertext', `KMS cannot unwrap the data key with key ${key}: the wrapped key was not made by this KMS key, or it was altered${detail}`, [
        "the wrapped key is stored in the backup's manifest (or in front of each WAL object): restore that from another storage target",
      ]);
    case 'IncorrectKeyException':
      return make('wrong-key', `the data key was wrapped by another KMS key than ${key}${detail}`, [
        'the recorded KMS key does not match the wrapped key: the manifest or WAL object was altered, or copied from another backup',
      ]);
  }
  if (BAD_CREDENTIALS.has(name)) {
    return make('credentials', `KMS did not accept pgwarden's AWS credentials for ${operation} with key ${key}${detail}`, [
      'check encryption.kms.accessKeyId and secretAccessKey (or the credentials of the default chain: environment, profile, instance role)',
    ]);
  }
  const status = err.$metadata?.httpStatusCode;
  if (UNAVAILABLE.has(name) || (status !== undefined && status >= 500)) {
    return make('unavailable', `KMS could not ${verb} ${what} with key ${key} (${name || `HTTP ${status}`})${detail}`, [
      `KMS is throttling or unavailable: retry later; ${lost}`,
    ]);
  }
  if (name === 'AbortError' || name === 'TimeoutError' || NETWORK_CODES.has(code) || code === 'ABORT_ERR') {
    const why = NETWORK_CODES.has(code) ? code : `no answer within ${ctx.timeoutMs / 1000} s`;
    return make('unreachable', `KMS endpoint ${ctx.endpoint} is unreachable (${why}): cannot ${verb} ${what} with key ${key}`, [
      `check the network path to KMS in ${ctx.region} (or encryption.kms.endpoint) and encryption.kms.timeoutSeconds; ${lost}`,
    ]);
  }
  return make('failed', `KMS ${operation} with key ${key} failed${name ? ` (${name})` : ''}${detail}`, [lost]);
}
