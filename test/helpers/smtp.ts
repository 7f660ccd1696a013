/**
 * A real SMTP server for tests: smtp-server on 127.0.0.1 on a free port, plain text (STARTTLS not
 * offered, so no certificates), every accepted mail parsed back with mailparser. It can be told to
 * refuse, the way real servers do, so tests see nodemailer's real errors rather than imitations.
 */
import net from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';

export interface ReceivedMail {
  /** The mail as mailparser reads it: subject, text, html, from, to, headers, messageId ... */
  parsed: ParsedMail;
  /** MAIL FROM and RCPT TO, which need not match the headers. */
  envelope: { from: string; to: string[] };
  /** The user the client logged in as, if it did. */
  user: string | undefined;
}

export interface TestSmtpServerOptions {
  /**
   * Make the server refuse: 'connection' answers every connection with 421 (busy, closing);
   * 'recipients' refuses every RCPT TO with 550; `{ code, message, times }` answers the DATA
   * command's end with that reply, the first `times` mails only (default: all of them).
   */
  reject?: 'connection' | 'recipients' | { code: number; message: string; times?: number };
  /** Require (and check) this login; without it auth is optional and the server takes mail from anyone. */
  auth?: { user: string; pass: string };
}

export interface TestSmtpServer {
  /** smtp://127.0.0.1:<port> (add credentials yourself when testing auth). */
  url: string;
  port: number;
  /** The mails accepted, in order. */
  messages: ReceivedMail[];
  /** What the server saw, to count tries: connections, logins tried, mails offered (DATA). */
  counts: { connections: number; logins: number; data: number };
  /** Users that logged in successfully (passwords are checked, never kept). */
  users: string[];
  close(): Promise<void>;
}

export async function startSmtpServer(options: TestSmtpServerOptions = {}): Promise<TestSmtpServer> {
  const { reject, auth } = options;
  const messages: ReceivedMail[] = [];
  const counts = { connections: 0, logins: 0, data: 0 };
  const users: string[] = [];
  const smtpError = (code: number, message: string) => Object.assign(new Error(message), { responseCode: code });

  const config: SMTPServerOptions = {
    logger: false,
    disabledCommands: ['STARTTLS'],
    authOptional: !auth,
    // Login over plain text, since STARTTLS is off; only ever on 127.0.0.1.
    allowInsecureAuth: true,
    // A test's server should go away at once, not wait for idle clients (default 30 s).
    closeTimeout: 100,
    // A reverse DNS lookup of 127.0.0.1 tells tests nothing, and can stall where DNS is slow.
    disableReverseLookup: true,
    onConnect(_session, callback) {
      counts.connections++;
      if (reject === 'connection') {
        callback(smtpError(421, 'Too busy, try again later'));
        return;
      }
      callback();
    },
    onAuth(login, _session, callback) {
      counts.logins++;
      if (auth && login.username === auth.user && login.password === auth.pass) {
        users.push(login.username);
        callback(null, { user: login.username });
        return;
      }
      callback(smtpError(535, 'Authentication credentials invalid'));
    },
    onRcptTo(_address, _session, callback) {
      if (reject === 'recipients') {
        callback(smtpError(550, 'No such user here'));
        return;
      }
      callback();
    },
    onData(stream, session, callback) {
      counts.data++;
      if (typeof reject === 'object' && (reject.times === undefined || counts.data <= reject.times)) {
        // The whole message must be read before answering, or the connection stalls.
        stream.on('end', () => callback(smtpError(reject.code, reject.message)));
        stream.resume();
        return;
      }
      simpleParser(stream).then(
        (parsed) => {
          messages.push({
            parsed,
            envelope: {
              from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
              to: session.envelope.rcptTo.map((rcpt) => rcpt.address),
            },
            user: typeof session.user === 'string' ? session.user : undefined,
          });
          callback();
        },
        (error: unknown) => callback(error as Error),
      );
    },
  };
  const server = new SMTPServer(config);

  const port = await new Promise<number>((resolve, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      server.removeListener('error', fail);
      const address = server.server.address();
      if (address && typeof address === 'object') resolve(address.port);
      else fail(new Error('smtp-server did not report its port'));
    });
  });
  // A client dropping the connection mid-test is an 'error' event; unhandled it would crash the run.
  server.on('error', () => {});

  return {
    url: `smtp://127.0.0.1:${port}`,
    port,
    messages,
    counts,
    users,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * A port on 127.0.0.1 that nothing listens on (it was free a moment ago), for "connection refused".
 */
export async function closedPort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as net.AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}
