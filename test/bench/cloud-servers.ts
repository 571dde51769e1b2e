// The cloud side of the multi-target benchmark, in a process of its own so that pgwarden's measured memory and
// CPU are pgwarden's: s3rver (a real S3 API) and the GCS fake, on loopback, storing under DIR. Prints one JSON
// line `{ "s3Port": N, "gcsUrl": "http://127.0.0.1:M" }` when both listen, and runs until SIGTERM.
// Usage: node dist/test/bench/cloud-servers.js DIR
import { startFakeGcs } from '../helpers/fake-gcs.js';
import { startS3Server } from '../helpers/s3.js';

const closers: (() => Promise<void>)[] = [];
const hooks = { after: (fn: () => Promise<void>) => closers.push(fn) };
const s3 = await startS3Server(hooks, { buckets: ['bench'] });
const gcs = await startFakeGcs(hooks, { buckets: ['bench'] });
// The request log keeps every request's headers: a benchmark sends thousands, which would only grow memory.
setInterval(() => {
  s3.requests.length = 0;
  gcs.requests.length = 0;
}, 1000).unref();
process.stdout.write(`${JSON.stringify({ s3Port: s3.port, gcsUrl: gcs.url })}\n`);

const stop = async () => {
  for (const close of closers.reverse()) await close().catch(() => {});
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
