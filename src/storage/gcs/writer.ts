// One object upload to GCS as a StorageWriter: a resumable upload sent chunk by chunk as bytes arrive
// (memory: about one chunk), whose last chunk is held back until commit(), because sending it is what makes
// the object visible. So nothing appears under the name before commit(), as the storage contract asks.
import type { File } from '@google-cloud/storage';
import { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { StorageError } from '../../errors.js';
import type { StorageWriter } from '../types.js';

export interface GcsWriterOptions {
  file: File;
  /** Bytes per resumable-upload request; a multiple of 256 KiB. */
  chunkSize: number;
  /** Maps a client error to the StorageError callers see. */
  fail: (error: unknown) => StorageError;
  /** Cancels an upload session; says which object generation it finalized, if it got that far. */
  cancelSession: (sessionUri: string) => Promise<{ finalizedGeneration?: string | undefined }>;
}

export function gcsWriter(options: GcsWriterOptions): StorageWriter {
  const { file, fail } = options;
  let upload: Writable | undefined;
  let uploaded: Promise<void> | undefined;
  let sessionUri: string | undefined;
  let failure: StorageError | undefined;
  let committing = false;
  let committed = false;
  let aborted = false;

  // The client starts its session on the first byte; an empty object never starts one (see commit()).
  const startUpload = (): Writable => {
    const client = file.createWriteStream({ resumable: true, validation: 'crc32c', chunkSize: options.chunkSize });
    client.on('uri', (uri: string) => {
      sessionUri = uri;
    });
    uploaded = new Promise<void>((resolve, reject) => {
      client.once('finish', resolve);
      client.once('error', (error: Error) => {
        failure ??= fail(error);
        // Fail the producer's pipeline at once, not at its next write.
        if (!stream.writableFinished) stream.destroy(failure);
        reject(failure);
      });
    });
    uploaded.catch(() => {});
    return client;
  };

  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      if (aborted) return callback(fail(new Error('the upload was aborted')));
      // An empty write must not start a session: an upload of zero bytes goes another way (commit()).
      if (chunk.length === 0) return callback();
      upload ??= startUpload();
      if (upload.write(chunk)) return callback();
      const client = upload;
      const onDrain = () => {
        client.off('error', onError);
        callback();
      };
      const onError = (error: Error) => {
        client.off('drain', onDrain);
        callback(failure ?? fail(error));
      };
      client.once('drain', onDrain);
      client.once('error', onError);
    },
    final(callback) {
      // The client keeps the last (partial) chunk until its stream ends: that happens in commit().
      callback();
    },
  });

  return {
    stream,

    async commit() {
      if (committed) return;
      if (aborted) throw fail(new Error('the upload was aborted'));
      try {
        await finished(stream);
      } catch (error) {
        throw failure ?? fail(error);
      }
      if (failure) throw failure;
      committing = true;
      try {
        if (upload) {
          upload.end();
          await uploaded;
        } else {
          // Nothing was written: one simple upload of the empty object.
          await file.save(Buffer.alloc(0), { resumable: false, validation: 'crc32c' });
        }
      } catch (error) {
        failure ??= fail(error);
        throw failure;
      }
      committed = true;
    },

    async abort() {
      if (committed || aborted) return;
      aborted = true;
      stream.destroy();
      // With an error, so that a commit() waiting on the upload settles (rejects) too.
      upload?.destroy(new Error('the upload was aborted'));
      if (!sessionUri) return;
      // A failed commit may still have finalized the object (the last response was lost): the session says
      // so, and then exactly that generation is deleted, never an older or newer one.
      const { finalizedGeneration } = await options.cancelSession(sessionUri).catch(() => ({ finalizedGeneration: undefined }));
      if (committing && finalizedGeneration !== undefined) {
        await file.delete({ ignoreNotFound: true, ifGenerationMatch: finalizedGeneration }).catch(() => {});
      }
    },
  };
}
