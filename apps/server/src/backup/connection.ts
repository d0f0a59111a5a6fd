/**
 * How the PostgreSQL client tools are pointed at a database without the
 * password ever appearing on a command line (visible to every user in `ps`):
 * the URL goes to `--dbname` with its password removed, and the password
 * travels in the child's environment as PGPASSWORD, which libpq reads.
 */
import { redactUrl } from '../storage/db.ts';

export interface LibpqTarget {
  /** Value for `--dbname`: the connection URL without any password. */
  dbname: string;
  /** Extra environment for the tool (PGPASSWORD when the URL carries one). */
  env: Record<string, string>;
  /** The URL with its password masked, for messages. */
  display: string;
}

function parse(url: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`not a valid PostgreSQL URL: ${redactUrl(url)}`);
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') throw new Error(`not a PostgreSQL URL (scheme ${u.protocol}): ${redactUrl(url)}`);
  return u;
}

/** The database a URL names; libpq's default (the user name) when the path is empty. */
export function databaseNameOf(url: string): string {
  const u = parse(url);
  const path = decodeURIComponent(u.pathname.replace(/^\//, ''));
  return path || decodeURIComponent(u.username) || process.env.PGDATABASE || process.env.PGUSER || 'postgres';
}

/** The same server and credentials, another database. */
export function withDatabase(url: string, database: string): string {
  const u = parse(url);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

// The query string is handled by hand: URLSearchParams would re-encode the other
// parameters (a space as '+'), which libpq does not decode back.
const queryParts = (u: URL) => (u.search ? u.search.slice(1).split('&') : []);
const isPasswordPart = (part: string) => safeDecode(part.split('=')[0]!) === 'password';
function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** The password of a URL, from the userinfo or, libpq-style, from ?password=. */
function passwordOf(u: URL): string | null {
  if (u.password) return safeDecode(u.password);
  const part = queryParts(u).find(isPasswordPart);
  return part === undefined ? null : safeDecode(part.slice(part.indexOf('=') + 1));
}

export function libpqTarget(url: string): LibpqTarget {
  const u = parse(url);
  const password = passwordOf(u);
  u.password = '';
  const parts = queryParts(u);
  if (parts.some(isPasswordPart)) {
    const rest = parts.filter((p) => !isPasswordPart(p));
    u.search = rest.length ? `?${rest.join('&')}` : '';
  }
  return { dbname: u.toString(), env: password ? { PGPASSWORD: password } : {}, display: redactUrl(url) };
}

/** Removes a password from text a tool printed, in case it echoed a connection string. */
export function scrubSecret(text: string, url: string): string {
  let password: string | null = null;
  try {
    password = passwordOf(new URL(url));
  } catch {
    // nothing to scrub
  }
  return password ? text.split(password).join('***') : text;
}

/** A quoted SQL identifier (for database names in CREATE/DROP DATABASE). */
export const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;
