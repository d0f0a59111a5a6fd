/**
 * Static checks of the nginx configs: each variant renders and passes
 * `nginx -t`; the JSON error bodies match the error catalogue; every block
 * that adds headers carries the whole security header set (add_header
 * inheritance); template variables line up with what compose provides.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { codeForStatus, ERRORS, type ErrorCode } from '@stock-tracker/protocol';
import {
  NGINX_DIR,
  REPO_ROOT,
  createNginxPrefix,
  edgeFiles,
  edgeRealIpConfig,
  expandIncludes,
  nginxConfigTest,
  parseNginx,
  snippetFiles,
  templateVariables,
  walkBlocks,
  webFiles,
  type NginxDirective,
} from '../helpers/nginx.ts';

const EDGE_VARS = {
  EDGE_LISTEN_PORT: '18080',
  API_SERVERS: 'server 127.0.0.1:18081; server 127.0.0.1:18082;',
  WEB_SERVER: '127.0.0.1:18090',
  EDGE_RESOLVER: '127.0.0.1',
  EDGE_API_RATE: '20r/s',
  EDGE_API_BURST: '40',
  EDGE_CONN_PER_IP: '100',
  EDGE_MAX_BODY_SIZE: '1m',
  EDGE_API_TIMEOUT: '30s',
  EDGE_WS_TIMEOUT: '75s',
  EDGE_EXPOSE_INTERNAL: '0',
  EDGE_REAL_IP_CONFIG: edgeRealIpConfig({}),
};
const WEB_VARS = { WEB_LISTEN_PORT: '18090', WEB_ROOT: '/srv/www' };
const SECURITY_HEADERS = [
  'X-Request-ID',
  'Content-Security-Policy',
  'X-Content-Type-Options',
  'X-Frame-Options',
  'Referrer-Policy',
  'Permissions-Policy',
  'Cross-Origin-Opener-Policy',
  'Strict-Transport-Security',
];


const read = (rel: string) => readFileSync(path.join(REPO_ROOT, rel), 'utf8');
const compose = (rel: string) => parse(read(rel), { merge: true }) as { services: Record<string, Record<string, any>> };

let certDir: string;
let tlsVars: Record<string, string>;

beforeAll(() => {
  certDir = mkdtempSync(path.join(tmpdir(), 'st-tls-'));
  chmodSync(certDir, 0o755);
  const cert = path.join(certDir, 'fullchain.pem');
  const key = path.join(certDir, 'privkey.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-keyout', key, '-out', cert], { stdio: 'ignore' });
  chmodSync(key, 0o644);
  tlsVars = { ...EDGE_VARS, EDGE_TLS_PORT: '18443', TLS_CERT: cert, TLS_KEY: key };
});
afterAll(() => rmSync(certDir, { recursive: true, force: true }));

/** The fully expanded config of a variant, as nginx sees it (main file's http block contents). */
function expanded(files: Record<string, string>, root: string): NginxDirective[] {
  return expandIncludes(parseNginx(files[root]!), { ...files, ...snippetFiles() });
}
const edgeTree = (variant: 'edge' | 'edge-tls' = 'edge') => {
  const files = edgeFiles(variant === 'edge' ? EDGE_VARS : tlsVars, variant);
  return expanded(files, 'conf.d/edge.conf');
};
const webTree = () => expanded(webFiles(WEB_VARS), 'conf.d/web.conf');

describe('nginx -t', () => {
  it.each([
    ['edge', () => edgeFiles(EDGE_VARS, 'edge')],
    ['edge-tls (self-signed certificate)', () => edgeFiles(tlsVars, 'edge-tls')],
    ['web', () => webFiles(WEB_VARS)],
  ])('accepts the rendered %s config', (_name, files) => {
    const prefix = createNginxPrefix(files());
    try {
      const r = nginxConfigTest(prefix);
      expect(r.ok, r.output).toBe(true);
      // nginx ≥ 1.25 flags `listen … http2` as deprecated; the TLS template keeps it so it also runs on older nginx.
      const warnings = r.output.split('\n').filter((l) => l.includes('[warn]') && !/"listen \.\.\. http2" directive is deprecated/.test(l));
      expect(warnings).toEqual([]);
    } finally {
      rmSync(prefix, { recursive: true, force: true });
    }
  });

  it('rejects a broken render (the check has teeth)', () => {
    const prefix = createNginxPrefix(edgeFiles({ ...EDGE_VARS, EDGE_API_RATE: 'fast' }, 'edge'));
    try {
      expect(nginxConfigTest(prefix).ok).toBe(false);
    } finally {
      rmSync(prefix, { recursive: true, force: true });
    }
  });
});

describe('trusted proxies in front of the edge (real_ip)', () => {
  const realIp = (env: Parameters<typeof edgeRealIpConfig>[0]) => {
    const tree = expanded(edgeFiles({ ...EDGE_VARS, EDGE_REAL_IP_CONFIG: edgeRealIpConfig(env) }, 'edge'), 'conf.d/edge.conf');
    return tree.filter((d) => d.name.startsWith('set_real_ip_from') || d.name.startsWith('real_ip_'));
  };
  const check = (env: Parameters<typeof edgeRealIpConfig>[0]) => {
    const prefix = createNginxPrefix(edgeFiles({ ...EDGE_VARS, EDGE_REAL_IP_CONFIG: edgeRealIpConfig(env) }, 'edge'));
    try {
      return nginxConfigTest(prefix);
    } finally {
      rmSync(prefix, { recursive: true, force: true });
    }
  };

  it('none by default: no header is believed', () => {
    expect(realIp({})).toEqual([]);
    expect(realIp({ EDGE_TRUSTED_PROXIES: ' , ' })).toEqual([]);
  });

  it('each listed address or CIDR becomes set_real_ip_from, with the header and recursive lookup; nginx -t accepts it', () => {
    const d = realIp({ EDGE_TRUSTED_PROXIES: '10.0.0.0/8, 192.168.1.5 2001:db8::/32', EDGE_REAL_IP_HEADER: 'X-Real-IP' });
    expect(d.map((x) => [x.name, ...x.args])).toEqual([
      ['set_real_ip_from', '10.0.0.0/8'],
      ['set_real_ip_from', '192.168.1.5'],
      ['set_real_ip_from', '2001:db8::/32'],
      ['real_ip_header', 'X-Real-IP'],
      ['real_ip_recursive', 'on'],
    ]);
    const r = check({ EDGE_TRUSTED_PROXIES: '10.0.0.0/8,192.168.1.5' });
    expect(r.ok, r.output).toBe(true);
  });

  it('a malformed entry or header stops nginx at start, naming the variable', () => {
    for (const env of [{ EDGE_TRUSTED_PROXIES: '10.0.0.0/8,*' }, { EDGE_TRUSTED_PROXIES: '10.0.0.0/8;allow all' }, { EDGE_TRUSTED_PROXIES: '10.0.0.1', EDGE_REAL_IP_HEADER: 'X-Forwarded-For; include /etc/passwd' }]) {
      const r = check(env);
      expect(r.ok, JSON.stringify(env)).toBe(false);
      expect(r.output).toMatch(/EDGE_(TRUSTED_PROXIES|REAL_IP_HEADER)/);
    }
  });
});

describe('JSON error pages', () => {
  const tree = parseNginx(snippetFiles()['snippets/json-errors.conf']!);
  const pages = new Map(tree.filter((d) => d.name === 'error_page').map((d) => [Number(d.args[0]), d.args[1]!]));
  const named = new Map(tree.filter((d) => d.name === 'location').map((d) => [d.args[0]!, d.block!]));

  it('covers every status nginx itself produces for the edge', () => {
    expect([...pages.keys()].sort()).toEqual([400, 403, 404, 405, 413, 429, 500, 502, 503, 504]);
  });

  it('answers with catalogue codes and messages (packages/protocol/src/errors.ts) and the request id', () => {
    for (const [status, target] of pages) {
      const block = named.get(target);
      expect(block, target).toBeDefined();
      const returns = [...block!.filter((d) => d.name === 'return'), ...block!.filter((d) => d.name === 'if').flatMap((d) => d.block!.filter((r) => r.name === 'return'))];
      expect(returns.length).toBeGreaterThan(0);
      for (const r of returns) {
        expect(Number(r.args[0])).toBe(status);
        const body = JSON.parse(r.args[1]!.replaceAll('$req_id', 'rid-1')) as Record<string, string>;
        expect(Object.keys(body)).toEqual(['code', 'message', 'request_id']);
        const code = body.code as ErrorCode;
        expect(ERRORS[code], code).toBeDefined();
        expect(ERRORS[code].status).toBe(status);
        expect(body.message).toBe(ERRORS[code].message);
        expect(body.request_id).toBe('rid-1');
      }
      // The unconditional answer is the catalogue's code for that status.
      const last = block!.filter((d) => d.name === 'return').at(-1)!;
      expect(JSON.parse(last.args[1]!.replaceAll('$req_id', 'x')).code).toBe(codeForStatus(status));
      expect(block!.find((d) => d.name === 'default_type')?.args).toEqual(['application/json']);
    }
  });
});

describe('headers survive add_header inheritance', () => {
  it.each([
    ['edge', () => edgeTree('edge')],
    ['edge-tls', () => edgeTree('edge-tls')],
    ['web', () => webTree()],
  ])('%s: every block that adds headers sends the whole security set, always', (_name, tree) => {
    let checked = 0;
    for (const { d, path: where } of walkBlocks(tree())) {
      const adds = d.block!.filter((x) => x.name === 'add_header');
      if (adds.length === 0) continue;
      checked++;
      for (const header of SECURITY_HEADERS) {
        const add = adds.find((a) => a.args[0]?.toLowerCase() === header.toLowerCase());
        expect(add, `${header} in ${where.join(' > ')}`).toBeDefined();
        expect(add!.args.at(-1), `${header} in ${where.join(' > ')}`).toBe('always');
      }
    }
    expect(checked).toBeGreaterThan(5);
  });

  it.each([
    ['edge', () => edgeTree('edge')],
    ['edge-tls', () => edgeTree('edge-tls')],
    ['web', () => webTree()],
  ])('%s: every server block has the security headers; the app servers have the JSON error pages', (_name, tree) => {
    const servers = [...walkBlocks(tree())].filter(({ d }) => d.name === 'server');
    expect(servers.length).toBeGreaterThan(0);
    for (const { d } of servers) {
      expect(d.block!.some((x) => x.name === 'add_header' && x.args[0] === 'Content-Security-Policy')).toBe(true);
      const isRedirectOnly = d.block!.some((x) => x.name === 'location' && x.block!.some((y) => y.name === 'return' && y.args[0] === '308'));
      if (!isRedirectOnly) expect(d.block!.filter((x) => x.name === 'error_page').map((x) => x.args[0])).toEqual(expect.arrayContaining(['404', '413', '429', '502', '504']));
    }
  });

  it('sends HSTS only where TLS terminates ($hsts is empty unless $https is on)', () => {
    const map = [...walkBlocks(edgeTree())].find(({ d }) => d.name === 'map' && d.args[1] === '$hsts')!.d;
    expect(map.args[0]).toBe('$https');
    expect(map.block!.find((x) => x.name === 'default')!.args).toEqual(['']);
    expect(map.block!.find((x) => x.name === 'on')!.args[0]).toMatch(/^max-age=\d{7,}/);
    expect(edgeTree().some((d) => d.name === 'server_tokens' && d.args[0] === 'off')).toBe(true);
  });
});

describe('WebSocket proxying', () => {
  it('upgrades and keeps idle sockets well past the server ping interval', () => {
    const ws = [...walkBlocks(edgeTree())].find(({ d }) => d.name === 'location' && d.args[0] === '/ws')!.d.block!;
    const header = (name: string) => ws.find((d) => d.name === 'proxy_set_header' && d.args[0] === name)?.args[1];
    expect(header('Upgrade')).toBe('$http_upgrade');
    expect(header('Connection')).toBe('$connection_upgrade');
    expect(ws.find((d) => d.name === 'proxy_http_version')?.args).toEqual(['1.1']);
    // Compose's default edge timeout vs the server's default ping interval (docs/configuration.md: 25000 ms).
    for (const file of ['docker-compose.yml', 'docker-compose.prod.yml']) {
      const edgeTimeout = String(compose(file).services.edge!.environment.EDGE_WS_TIMEOUT).match(/:-(\d+)s\}$/)![1]!;
      const ping = String(compose(file).services.api!.environment.WS_PING_INTERVAL_MS).match(/:-(\d+)\}$/)![1]!;
      expect(Number(edgeTimeout) * 1000).toBeGreaterThanOrEqual(2 * Number(ping));
    }
  });
});

describe('template variables', () => {
  const edgeTemplates = ['edge.conf.template', 'edge-tls.conf.template', 'edge.d/http.conf.template', 'edge.d/server.conf.template'];
  const used = new Set(edgeTemplates.flatMap((t) => templateVariables(readFileSync(path.join(NGINX_DIR, t), 'utf8'))));

  it('are exactly what the compose edge service sets (plain and TLS override)', () => {
    for (const file of ['docker-compose.yml', 'docker-compose.prod.yml']) {
      const env = { ...compose(file).services.edge!.environment, ...compose('deploy/compose.tls.yml').services.edge!.environment };
      // EDGE_REAL_IP_CONFIG is computed at start from EDGE_TRUSTED_PROXIES / EDGE_REAL_IP_HEADER by the mounted envsh script.
      const scriptInputs = ['EDGE_TRUSTED_PROXIES', 'EDGE_REAL_IP_HEADER'];
      const provided = [...Object.keys(env).filter((k) => k !== 'NGINX_ENVSUBST_FILTER' && !scriptInputs.includes(k)), 'EDGE_REAL_IP_CONFIG'];
      expect(new Set(provided), file).toEqual(used);
      for (const k of scriptInputs) expect(Object.keys(env), file).toContain(k);
      expect(compose(file).services.edge!.volumes).toContain('./deploy/nginx/edge-real-ip.envsh:/docker-entrypoint.d/15-edge-real-ip.envsh:ro');
    }
  });

  it("pass the image's envsubst filter, which leaves every other environment variable alone", () => {
    const filter = String(compose('docker-compose.prod.yml').services.edge!.environment.NGINX_ENVSUBST_FILTER).replace('$$', '$');
    const re = new RegExp(filter);
    for (const v of used) expect(re.test(v), v).toBe(true);
    for (const other of ['PATH', 'HOME', 'HOSTNAME', 'NGINX_VERSION', 'PKG_RELEASE', 'NJS_VERSION', 'NGINX_ENVSUBST_FILTER', 'request_id', 'host']) expect(re.test(other), other).toBe(false);
  });

  it('match what the web image renders at build time', () => {
    const webVars = templateVariables(readFileSync(path.join(NGINX_DIR, 'web.conf.template'), 'utf8'));
    expect(new Set(webVars)).toEqual(new Set(Object.keys(WEB_VARS)));
    const dockerfile = read('deploy/docker/web.Dockerfile');
    const list = dockerfile.match(/envsubst '([^']+)'/)![1]!;
    expect(new Set(list.split(/\s+/).map((v) => v.replace(/^\$\{|\}$/g, '')))).toEqual(new Set(webVars));
    for (const v of webVars) expect(dockerfile).toMatch(new RegExp(`${v}=\\S+`));
  });

  it('are the only dollar-brace references, so nginx variables never collide with envsubst', () => {
    for (const t of [...edgeTemplates, 'web.conf.template']) {
      const text = readFileSync(path.join(NGINX_DIR, t), 'utf8');
      for (const m of text.matchAll(/\$\{([^}]*)\}/g)) expect(m[1], t).toMatch(/^[A-Z][A-Z0-9_]*$/);
    }
    for (const [name, text] of Object.entries(snippetFiles())) expect(text, name).not.toMatch(/\$\{/);
  });
});
