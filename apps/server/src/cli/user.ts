/**
 * `stock-tracker user`: accounts from the command line, e.g. the first user
 * of a server that runs with REGISTRATION_ENABLED=false.
 *
 *   stock-tracker user create --username alice        (password prompted, or read from stdin)
 *   stock-tracker user set-password --username alice  (ends every session of alice)
 *   stock-tracker user list
 *
 * The password is read from stdin when it is not a terminal (first line), so
 * it never appears in the process list or the shell history; on a terminal
 * it is prompted twice without echo. Uses DATABASE_URL, else PGlite under
 * DATA_DIR (stop an embedded server first: one process per data directory),
 * and applies pending migrations first.
 *
 * Exit codes: 0 done; 1 refused (name taken, weak password, unknown user);
 * 2 usage; 3 database unreachable.
 */
import { resolve } from 'node:path';
import { AppError } from '@stock-tracker/protocol';
import { DatabaseUnreachableError, openDatabase, redactUrl, type Db } from '../storage/db.ts';
import { migrate } from '../storage/migrate.ts';
import { createAuthRepository } from '../storage/auth-repo.ts';
import { PasswordHasher } from '../auth/passwords.ts';
import { createAccount, resetPassword } from '../auth/accounts.ts';
import { readStorageEnv } from '../config.ts';

const USAGE = `usage: stock-tracker user <create|set-password|list> [--username NAME]

  create --username NAME         create an account (password from stdin, or prompted)
  set-password --username NAME   set a new password and end every session of the user
  list                           list the accounts

  DATABASE_URL  PostgreSQL URL; when unset, embedded PGlite under DATA_DIR (default ./data)
`;

export interface UserCliIo {
  stdin: NodeJS.ReadStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

function parseArgs(argv: string[]): { cmd?: string; username?: string; bad?: string } {
  const [cmd, ...rest] = argv;
  let username: string | undefined;
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    if (a === '--username' || a === '-u') username = rest[++i];
    else if (a.startsWith('--username=')) username = a.slice('--username='.length);
    else return { cmd, bad: a };
  }
  return { cmd, username };
}

/** The first line of a piped stdin. */
async function readPipedLine(stdin: NodeJS.ReadStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stdin) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(String(c)));
  return Buffer.concat(chunks).toString('utf8').split(/\r?\n/, 1)[0] ?? '';
}

/** Reads one line from a terminal without echoing it. */
function promptHidden(io: UserCliIo, question: string): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const { stdin } = io;
    io.stderr.write(question);
    let value = '';
    const done = (err?: Error) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      io.stderr.write('\n');
      if (err) reject(err);
      else resolvePromise(value);
    };
    const onData = (buf: Buffer) => {
      for (const ch of buf.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\u0003') return done(new Error('cancelled'));
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else if (ch >= ' ') value += ch;
      }
    };
    stdin.setRawMode(true);
    stdin.resume();
    stdin.on('data', onData);
  });
}

async function readPassword(io: UserCliIo): Promise<string> {
  if (!io.stdin.isTTY) return readPipedLine(io.stdin);
  const first = await promptHidden(io, 'Password: ');
  const second = await promptHidden(io, 'Repeat the password: ');
  if (first !== second) throw new AppError('VALIDATION_FAILED', 'The two passwords differ.');
  return first;
}

export async function run(argv: string[], io: UserCliIo = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const out = (s: string) => io.stdout.write(`${s}\n`);
  const err = (s: string) => io.stderr.write(`stock-tracker user: ${s}\n`);
  if (argv.includes('--help') || argv.includes('-h') || argv.length === 0) {
    io.stdout.write(USAGE);
    return argv.length === 0 ? 2 : 0;
  }
  const args = parseArgs(argv);
  if (args.bad !== undefined || !['create', 'set-password', 'list'].includes(args.cmd ?? '')) {
    err(args.bad !== undefined ? `unknown option ${args.bad}` : `unknown command '${args.cmd}'`);
    io.stderr.write(USAGE);
    return 2;
  }
  if (args.cmd !== 'list' && !args.username) {
    err('--username is required');
    return 2;
  }

  const { databaseUrl, dataDir } = readStorageEnv();
  const target = databaseUrl ? `PostgreSQL ${redactUrl(databaseUrl)}` : `PGlite ${resolve(dataDir, 'pglite')}`;
  let db: Db;
  try {
    db = await openDatabase({ databaseUrl, dataDir, poolSize: 1 });
  } catch (e) {
    err(`cannot reach the database (${target}): ${e instanceof DatabaseUnreachableError ? e.reason : (e as Error).message}`);
    return 3;
  }
  try {
    await migrate(db);
    const repo = createAuthRepository(db);
    if (args.cmd === 'list') {
      for (const a of await repo.listAccounts()) out(`${a.username}\t${a.id}\t${new Date(a.createdAt).toISOString()}${a.passwordHash ? '' : '\t(no password: cannot log in)'}`);
      return 0;
    }
    const password = await readPassword(io);
    const hasher = new PasswordHasher();
    if (args.cmd === 'create') {
      const user = await createAccount(repo, hasher, args.username!, password, Date.now(), '');
      out(`created user ${user.username} (${user.id})`);
    } else {
      const { user, revoked } = await resetPassword(repo, hasher, args.username!, password, Date.now());
      out(`password of ${user.username} changed; ${revoked.length} session(s) ended`);
    }
    return 0;
  } catch (e) {
    if (e instanceof AppError) {
      err(`${e.message}${e.details?.length ? ` (${e.details.map((d) => `${d.path}: ${d.issue}`).join('; ')})` : ''}`);
      return 1;
    }
    err((e as Error).message);
    return 1;
  } finally {
    await db.close().catch(() => {});
  }
}
