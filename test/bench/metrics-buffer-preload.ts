// Preloaded into a `pgwarden serve` under benchmark (`node --import`) to try a fix without editing src/: express
// turns a string body of 1,000 characters or more into a new Buffer on every res.send(), so serving the cached
// /metrics text (~140 KB) allocates ~140 KB of external memory per scrape, and V8 answers that external-memory
// churn with a full mark-compact every few dozen scrapes. Here a large string sent again (the cached render
// is the same string until the next render) reuses the Buffer made the first time.
import express from 'express';

const send = express.response.send;
let lastText: string | undefined;
let lastBody: Buffer | undefined;

express.response.send = function sendReusingBuffer(this: express.Response, body?: unknown) {
  if (typeof body === 'string' && body.length >= 1000) {
    if (body !== lastText || lastBody === undefined) {
      lastText = body;
      lastBody = Buffer.from(body, 'utf8');
    }
    return send.call(this, lastBody);
  }
  return send.call(this, body);
};
