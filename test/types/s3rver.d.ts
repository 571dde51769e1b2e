// s3rver ships no types: the parts test/helpers/s3.ts uses.
declare module 's3rver' {
  import type { AddressInfo } from 'node:net';
  import type { IncomingMessage } from 'node:http';

  export interface S3rverOptions {
    address?: string;
    port?: number;
    silent?: boolean;
    directory?: string;
    resetOnClose?: boolean;
    configureBuckets?: { name: string; configs?: (string | Buffer)[] }[];
  }

  /** The Koa context s3rver's middleware receives (the parts the helper uses). */
  export interface S3rverContext {
    method: string;
    path: string;
    query: Record<string, string | undefined>;
    querystring: string;
    headers: Record<string, string | string[] | undefined>;
    req: IncomingMessage;
    status: number;
    body: unknown;
    type: string;
    /** s3rver's filesystem store. */
    store: {
      listObjects(
        bucket: string,
        options: { prefix?: string; startAfter?: string; maxKeys?: number; delimiter?: string },
      ): Promise<{ objects: { key: string; size: number; lastModifiedDate: Date; metadata: Record<string, string> }[]; isTruncated: boolean }>;
    };
  }

  export type S3rverMiddleware = (ctx: S3rverContext, next: () => Promise<void>) => Promise<void>;

  export default class S3rver {
    constructor(options?: S3rverOptions);
    /** Koa's middleware stack, composed when the server starts listening. */
    middleware: S3rverMiddleware[];
    /** The listening server, once run() resolved. */
    httpServer?: import('node:http').Server;
    run(): Promise<AddressInfo>;
    close(): Promise<void>;
  }
}

declare module 's3rver/lib/models/error.js' {
  export default class S3Error extends Error {
    constructor(code: string, message: string, detail?: Record<string, unknown>);
  }
}
