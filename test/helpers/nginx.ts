/**
 * The real nginx for tests: renders the shipped templates (deploy/nginx) the
 * way the nginx image's envsubst step does, lays them out like the image
 * (<prefix>/nginx.conf including conf.d/*.conf, snippets/ beside it) in a temp
 * prefix, and runs `nginx -t` or a foreground nginx on free ports, with its
 * pid and temp paths inside that prefix. Installs Debian's nginx-light with
 * apt-get when /usr/sbin/nginx is missing (root only).
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, closeSync, cpSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const NGINX_BIN = '/usr/sbin/nginx';
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const NGINX_DIR = path.join(REPO_ROOT, 'deploy/nginx');

const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

/** Path of a working nginx binary; installs nginx-light when missing. */
export function ensureNginx(): string {
  if (existsSync(NGINX_BIN)) return NGINX_BIN;
  if (!isRoot()) throw new Error(`${NGINX_BIN} is missing and this is not root: apt-get install -y nginx-light`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '--no-install-recommends', 'nginx-light'], { stdio: 'inherit', env });
  if (!existsSync(NGINX_BIN)) throw new Error('nginx-light installed but /usr/sbin/nginx is still missing');
  return NGINX_BIN;
}

const VAR_RE = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** `${NAME}` references of a template, in order of first use. */
export function templateVariables(text: string): string[] {
  return [...new Set([...text.matchAll(VAR_RE)].map((m) => m[1]!))];
}

/**
 * envsubst restricted to the named variables (what the image does with
 * NGINX_ENVSUBST_FILTER): `${NAME}` is replaced, nginx's own `$name` is left
 * alone. A referenced variable without a value is an error, not an empty string.
 */
export function renderTemplate(text: string, vars: Record<string, string>): string {
  return text.replace(VAR_RE, (_m, name: string) => {
    const v = vars[name];
    if (v === undefined) throw new Error(`template variable ${name} has no value`);
    return v;
  });
}

/** A TCP port nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** nginx's compiled-in temp paths (each must be moved into the prefix, or nginx tries /var/lib/nginx). */
function tempPathDirectives(prefix: string): string[] {
  const v = spawnSync(ensureNginx(), ['-V'], { encoding: 'utf8' });
  const info = `${v.stdout}${v.stderr}`;
  const kinds: Array<[flag: string, module: string, directive: string]> = [
    ['client-body', '', 'client_body_temp_path'],
    ['proxy', 'proxy', 'proxy_temp_path'],
    ['fastcgi', 'fastcgi', 'fastcgi_temp_path'],
    ['uwsgi', 'uwsgi', 'uwsgi_temp_path'],
    ['scgi', 'scgi', 'scgi_temp_path'],
  ];
  return kinds
    .filter(([, module]) => !module || !info.includes(`--without-http_${module}_module`))
    .map(([flag, , directive]) => `    ${directive} ${path.join(prefix, 'tmp', flag)};`);
}

function mimeTypesInclude(): string {
  if (existsSync('/etc/nginx/mime.types')) return '    include /etc/nginx/mime.types;';
  return `    types {
        text/html html; text/css css; application/javascript js mjs; application/json json map;
        image/svg+xml svg; image/png png; image/x-icon ico; text/plain txt; font/woff2 woff2;
    }`;
}

/** The main nginx.conf the image provides, with pid and temp paths inside the prefix. */
function mainConfig(prefix: string): string {
  return `# test main config: what the nginx image's /etc/nginx/nginx.conf provides
worker_processes 1;
daemon off;
pid ${path.join(prefix, 'nginx.pid')};
error_log stderr warn;
events { worker_connections 512; }
http {
${mimeTypesInclude()}
    default_type application/octet-stream;
    sendfile on;
    keepalive_timeout 65;
${tempPathDirectives(prefix).join('\n')}
    include conf.d/*.conf;
}
`;
}

/**
 * A temp prefix: nginx.conf (main), the given files (paths relative to the
 * prefix, e.g. conf.d/edge.conf) and a copy of deploy/nginx/snippets.
 */
export function createNginxPrefix(files: Record<string, string>): string {
  const prefix = mkdtempSync(path.join(tmpdir(), 'st-nginx-'));
  // Workers run as `nobody` when the tests run as root: they must read the prefix.
  chmodSync(prefix, 0o755);
  mkdirSync(path.join(prefix, 'tmp'));
  cpSync(path.join(NGINX_DIR, 'snippets'), path.join(prefix, 'snippets'), { recursive: true });
  for (const [rel, content] of Object.entries(files)) {
    const file = path.join(prefix, rel);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, content);
  }
  writeFileSync(path.join(prefix, 'nginx.conf'), mainConfig(prefix));
  return prefix;
}

const template = (rel: string) => readFileSync(path.join(NGINX_DIR, rel), 'utf8');

/** The edge's rendered files: conf.d/edge.conf (plain or TLS variant) and conf.d/edge.d/*. */
/**
 * EDGE_REAL_IP_CONFIG as the nginx image's entrypoint computes it from
 * EDGE_TRUSTED_PROXIES / EDGE_REAL_IP_HEADER: the shipped envsh script, sourced by sh.
 */
export function edgeRealIpConfig(env: { EDGE_TRUSTED_PROXIES?: string; EDGE_REAL_IP_HEADER?: string } = {}): string {
  return execFileSync('sh', ['-c', '. "$1" && printf %s "$EDGE_REAL_IP_CONFIG"', 'sh', path.join(NGINX_DIR, 'edge-real-ip.envsh')], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
    encoding: 'utf8',
  });
}

export function edgeFiles(vars: Record<string, string>, variant: 'edge' | 'edge-tls' = 'edge'): Record<string, string> {
  const files: Record<string, string> = { 'conf.d/edge.conf': renderTemplate(template(`${variant}.conf.template`), vars) };
  for (const name of readdirSync(path.join(NGINX_DIR, 'edge.d'))) {
    if (name.endsWith('.template')) files[`conf.d/edge.d/${name.replace(/\.template$/, '')}`] = renderTemplate(template(`edge.d/${name}`), vars);
  }
  return files;
}

/** The web image's rendered file. */
export function webFiles(vars: Record<string, string>): Record<string, string> {
  return { 'conf.d/web.conf': renderTemplate(template('web.conf.template'), vars) };
}

/**
 * nginx's stdout: a plain file in the prefix. The configs log to /dev/stdout
 * (container logs); Node's stdio pipes are sockets, which /dev/stdout cannot
 * reopen, so the tests hand nginx a file there and read access logs from it.
 */
const stdoutFile = (prefix: string) => path.join(prefix, 'stdout.log');
function openStdout(prefix: string): number {
  return openSync(stdoutFile(prefix), 'a');
}

/** `nginx -t` on a prefix made by createNginxPrefix. */
export function nginxConfigTest(prefix: string): { ok: boolean; output: string } {
  const out = openStdout(prefix);
  try {
    const r = spawnSync(ensureNginx(), ['-t', '-e', 'stderr', '-p', prefix, '-c', path.join(prefix, 'nginx.conf')], {
      encoding: 'utf8',
      stdio: ['ignore', out, 'pipe'],
    });
    return { ok: r.status === 0, output: r.stderr };
  } finally {
    closeSync(out);
  }
}

export interface RunningNginx {
  prefix: string;
  /** stderr (error log) so far, for assertion messages. */
  log(): string;
  /** The JSON access log lines written so far (nginx's stdout). */
  accessLog(): Array<Record<string, unknown>>;
  stop(): Promise<void>;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Runs nginx in the foreground on a prefix; resolves once every port accepts connections. */
export async function startNginx(prefix: string, ports: number[], timeoutMs = 10_000): Promise<RunningNginx> {
  const out = openStdout(prefix);
  const child: ChildProcess = spawn(ensureNginx(), ['-e', 'stderr', '-p', prefix, '-c', path.join(prefix, 'nginx.conf')], {
    stdio: ['ignore', out, 'pipe'],
  });
  closeSync(out); // the child holds its own copy
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-20_000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let dead = false;
  void exited.then(() => {
    dead = true;
  });

  const stop = async () => {
    if (!dead) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(prefix, { recursive: true, force: true });
  };

  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (dead) {
      await stop();
      throw new Error(`nginx exited during start:\n${stderr}`);
    }
    const ready = await Promise.all(ports.map(canConnect));
    if (ready.every(Boolean)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`nginx did not listen on ${ports.join(', ')} within ${timeoutMs} ms:\n${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const accessLog = () =>
    readFileSync(stdoutFile(prefix), 'utf8')
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  return { prefix, log: () => stderr, accessLog, stop };
}

// ------------------------------------------------------------ config parsing ---

/** One nginx directive; `block` holds the contents of `{ … }` for block directives. */
export interface NginxDirective {
  name: string;
  args: string[];
  block?: NginxDirective[];
}

/** Splits nginx config text into tokens: words (quotes removed), `{`, `}`, `;`. Comments are dropped. */
function tokenize(text: string): string[] {
  const tokens: string[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '#') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (c === '{' || c === '}' || c === ';') {
      tokens.push(c);
      i++;
    } else if (c === '"' || c === "'") {
      let word = '';
      i++;
      while (i < text.length && text[i] !== c) {
        if (text[i] === '\\' && i + 1 < text.length) {
          const next = text[i + 1]!;
          word += next === 'n' ? '\n' : next === 't' ? '\t' : next === c || next === '\\' ? next : `\\${next}`;
          i += 2;
        } else {
          word += text[i++];
        }
      }
      if (i >= text.length) throw new Error('unterminated quoted string in nginx config');
      i++;
      tokens.push(word);
    } else {
      let word = '';
      while (i < text.length && !/[\s{};]/.test(text[i]!)) word += text[i++];
      tokens.push(word);
    }
  }
  return tokens;
}

/** Parses nginx config text (a whole file or a fragment meant for `include`). */
export function parseNginx(text: string): NginxDirective[] {
  const tokens = tokenize(text);
  let pos = 0;
  const parseBlock = (nested: boolean): NginxDirective[] => {
    const out: NginxDirective[] = [];
    while (pos < tokens.length) {
      if (tokens[pos] === '}') {
        if (!nested) throw new Error('unexpected } in nginx config');
        pos++;
        return out;
      }
      const name = tokens[pos++]!;
      const args: string[] = [];
      while (pos < tokens.length && tokens[pos] !== ';' && tokens[pos] !== '{') args.push(tokens[pos++]!);
      if (tokens[pos] === '{') {
        pos++;
        out.push({ name, args, block: parseBlock(true) });
      } else if (tokens[pos] === ';') {
        pos++;
        out.push({ name, args });
      } else {
        throw new Error(`directive ${name} is not terminated`);
      }
    }
    if (nested) throw new Error('missing } in nginx config');
    return out;
  };
  return parseBlock(false);
}

/** Replaces `include <file>` directives by the parsed contents of `files[<file>]` (recursively). */
export function expandIncludes(directives: NginxDirective[], files: Record<string, string>): NginxDirective[] {
  return directives.flatMap((d) => {
    if (d.name === 'include' && d.args[0] && d.args[0] in files) return expandIncludes(parseNginx(files[d.args[0]]!), files);
    return [d.block ? { ...d, block: expandIncludes(d.block, files) } : d];
  });
}

/** Every block directive at any depth (server, location, if, map, …), with its path of names. */
export function* walkBlocks(directives: NginxDirective[], parents: string[] = []): Generator<{ d: NginxDirective; path: string[] }> {
  for (const d of directives) {
    if (!d.block) continue;
    const here = [...parents, `${d.name} ${d.args.join(' ')}`.trim()];
    yield { d, path: here };
    yield* walkBlocks(d.block, here);
  }
}

/** The snippets as include targets (`snippets/<name>`), for expandIncludes. */
export function snippetFiles(): Record<string, string> {
  const dir = path.join(NGINX_DIR, 'snippets');
  return Object.fromEntries(readdirSync(dir).map((name) => [`snippets/${name}`, readFileSync(path.join(dir, name), 'utf8')]));
}
