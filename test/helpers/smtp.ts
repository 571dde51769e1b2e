// A real SMTP server (smtp-server) on 127.0.0.1:0 that parses each message it accepts with mailparser and
// keeps it with its envelope, whether the session was encrypted, and who logged in. TLS uses a certificate
// the test makes (tls.ts): smtp-server's built-in one has expired, so STARTTLS with it fails.
import type { AddressInfo } from 'node:net';
import { type ParsedMail, simpleParser } from 'mailparser';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';

export interface ReceivedMail {
  envelope: { from: string; to: string[] };
  /** True when the session ran over TLS (implicit or after STARTTLS). */
  secure: boolean;
  /** The user that logged in, if any. */
  user?: string;
  parsed: ParsedMail;
}

/** How the server answers a message: accept it, or refuse it with an SMTP reply code. */
export type SmtpReply = 'accept' | { code: number; message: string };

export interface SmtpOptions {
  /** 'implicit': TLS from the first byte (client `secure: true`); 'starttls': plain, offering STARTTLS; default: plain, no STARTTLS. */
  tls?: 'implicit' | 'starttls';
  /** Key and certificate for either TLS mode. */
  cert?: { key: string; cert: string };
  /** Require this login. */
  auth?: { user: string; password: string };
  /** Refuse a login with a message that repeats the password it was given, as a careless server might. */
  echoPasswordOnAuthFailure?: boolean;
  /** Reply to every message with this, when nothing is queued; 'accept' by default. */
  default?: SmtpReply;
}

export interface SmtpTestServer {
  port: number;
  messages: ReceivedMail[];
  /** How many messages were offered (accepted or refused). */
  offered(): number;
  /** Replies for the next messages, one each, in order. */
  enqueue(...replies: SmtpReply[]): void;
  close(): Promise<void>;
}

export async function startSmtpServer(t: { after(fn: () => Promise<void>): void } | undefined, options: SmtpOptions = {}): Promise<SmtpTestServer> {
  const messages: ReceivedMail[] = [];
  const queue: SmtpReply[] = [];
  let offered = 0;
  const { tls, cert, auth } = options;
  if (tls !== undefined && cert === undefined) throw new Error('a TLS SMTP server needs a cert (createSelfSignedCert())');

  const serverOptions: SMTPServerOptions = {
    logger: false,
    secure: tls === 'implicit',
    ...(cert === undefined ? {} : { key: cert.key, cert: cert.cert }),
    disabledCommands: tls === undefined ? ['STARTTLS'] : [],
    authOptional: auth === undefined,
    // Tests log in over plain connections too; a real server would insist on TLS first.
    allowInsecureAuth: true,
    closeTimeout: 200,
    onAuth(credentials, _session, callback) {
      if (auth !== undefined && credentials.username === auth.user && credentials.password === auth.password) return callback(null, { user: credentials.username });
      const message = options.echoPasswordOnAuthFailure ? `Invalid username or password (got "${credentials.password ?? ''}")` : 'Invalid username or password';
      const error = Object.assign(new Error(message), { responseCode: 535 });
      return callback(error);
    },
    onData(stream, session, callback) {
      offered++;
      const reply = queue.shift() ?? options.default ?? 'accept';
      simpleParser(stream)
        .then((parsed) => {
          if (reply !== 'accept') return callback(Object.assign(new Error(reply.message), { responseCode: reply.code }));
          messages.push({
            envelope: {
              from: session.envelope.mailFrom === false ? '' : session.envelope.mailFrom.address,
              to: session.envelope.rcptTo.map((r) => r.address),
            },
            secure: session.secure,
            ...(typeof session.user === 'string' ? { user: session.user } : {}),
            parsed,
          });
          callback();
        })
        .catch((error: Error) => callback(error));
    },
  };
  const server = new SMTPServer(serverOptions);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.server.address() as AddressInfo;
  let closed = false;
  const smtp: SmtpTestServer = {
    port,
    messages,
    offered: () => offered,
    enqueue: (...replies) => queue.push(...replies),
    close: () => {
      if (closed) return Promise.resolve();
      closed = true;
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
  t?.after(() => smtp.close());
  return smtp;
}
