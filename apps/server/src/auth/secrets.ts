/**
 * Checks that keep weak secrets out of production. A JWT signing key must
 * carry at least 256 bits, the size of the HS256 key: 32 random bytes, i.e.
 * at least 43 characters of base64 (`openssl rand -base64 48` gives 64). The
 * variety checks refuse long but guessable values (`aaaa…`, `abcabc…`,
 * `abcdefgh…`, a phrase repeated).
 */
export const MIN_SECRET_CHARS = 43;
/** Estimated bits (length × per-character Shannon entropy) a secret must reach; random 43-char base64 scores ≥ 180. */
export const MIN_SECRET_BITS = 160;

/** Secrets that ship in examples or tutorials. */
export const KNOWN_DEFAULT_SECRETS: ReadonlySet<string> = new Set([
  'changeme',
  'change-me',
  'secret',
  'jwt-secret',
  'development-only-secret',
  'replace-me-with-a-long-random-string',
  'dev-insecure-jwt-secret-do-not-use-in-production',
  'replace-me-with-openssl-rand-base64-48',
]);

/** Database passwords of images, tutorials and compose files. */
export const DEFAULT_DB_PASSWORDS: ReadonlySet<string> = new Set([
  'postgres',
  'password',
  'passw0rd',
  'changeme',
  'change-me',
  'secret',
  'admin',
  'root',
  'example',
  'test',
  'st',
  'stock',
  'stocktracker',
  'stock-tracker',
  'stock_tracker',
  '123456',
  '12345678',
  'pass',
  'pg',
]);

function shannonBitsPerChar(s: string): number {
  const counts = new Map<string, number>();
  for (const ch of s) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  const n = [...s].length;
  let h = 0;
  for (const c of counts.values()) h -= (c / n) * Math.log2(c / n);
  return h;
}

/** Share of neighbouring characters that are equal or consecutive (`aa`, `ab`, `ba`). */
function sequentialShare(s: string): number {
  let seq = 0;
  for (let i = 1; i < s.length; i++) if (Math.abs(s.charCodeAt(i) - s.charCodeAt(i - 1)) <= 1) seq++;
  return s.length > 1 ? seq / (s.length - 1) : 1;
}

/** Share of distinct 3-character windows: a repeated word or pattern scores low, random text near 1. */
function distinctTrigramShare(s: string): number {
  const n = s.length - 2;
  if (n <= 0) return 0;
  const seen = new Set<string>();
  for (let i = 0; i < n; i++) seen.add(s.slice(i, i + 3));
  return seen.size / n;
}

/** Why `secret` is not acceptable as a production signing key, or null. The message never repeats the secret. */
export function secretProblem(secret: string | undefined): string | null {
  if (!secret) return 'is required in production (32 random bytes, e.g. `openssl rand -base64 48`)';
  if (KNOWN_DEFAULT_SECRETS.has(secret.toLowerCase())) return 'is a published default value; generate a random secret (`openssl rand -base64 48`)';
  if (secret.length < MIN_SECRET_CHARS) return `is too short (${secret.length} characters; at least ${MIN_SECRET_CHARS}, i.e. 32 random bytes as base64: \`openssl rand -base64 48\`)`;
  const bits = Math.round(shannonBitsPerChar(secret) * [...secret].length);
  if (new Set(secret).size < 12 || bits < MIN_SECRET_BITS || sequentialShare(secret) > 0.5 || distinctTrigramShare(secret) < 0.75) {
    return `is too weak (too little variety, about ${bits} bits; at least ${MIN_SECRET_BITS} needed); generate a random secret with \`openssl rand -base64 48\``;
  }
  return null;
}

/** Why the password inside a database/redis URL is a known default, or null. */
export function urlPasswordProblem(url: string | undefined): string | null {
  if (!url) return null;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return null; // reported by the URL check
  }
  const password = decodeURIComponent(u.password);
  if (!password) return null; // peer/certificate auth or a password file: nothing to judge
  if (DEFAULT_DB_PASSWORDS.has(password.toLowerCase()) || password.toLowerCase() === decodeURIComponent(u.username).toLowerCase()) {
    return 'uses a well-known default password; set a strong one (e.g. `openssl rand -base64 24`)';
  }
  return null;
}

/**
 * `text` with the password of any URL in it masked, using the WHATWG URL parser
 * (which splits credentials at the last `@`, keeps an empty user name as in
 * `redis://:pw@host`, and knows percent-encoded `/`). Text that does not parse
 * but still looks like `scheme://…@` loses everything between `//` and its last
 * `@`: logging a mangled URL is fine, logging a password is not.
 */
export function redactUrlPassword(text: string): string {
  if (!text.includes('://')) return text;
  try {
    const u = new URL(text);
    if (!u.password) return text;
    u.password = '***';
    return u.toString();
  } catch {
    return text.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^?#]*@/i, (_m, scheme: string) => `${scheme}***@`);
  }
}
