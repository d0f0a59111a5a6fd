/**
 * The compose files: dclint (YAML validity, the compose-spec JSON schema and
 * its best-practice rules, all at their defaults) and our deployment policies
 * on the parsed files (anchors merged, as compose does).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DCLinter } from 'dclint';
import { parse } from 'yaml';
import { REPO_ROOT } from '../helpers/nginx.ts';

type Service = Record<string, any>;
interface ComposeFile {
  name?: string;
  services: Record<string, Service>;
  networks?: Record<string, { internal?: boolean } | null>;
  volumes?: Record<string, unknown>;
}

const FILES = ['docker-compose.yml', 'docker-compose.prod.yml'] as const;
const SERVICES = ['api', 'backup', 'collector', 'db', 'edge', 'migrate', 'redis', 'web'];
const JOBS = new Set(['migrate', 'backup']);
const REQUIRED_SECRETS = ['POSTGRES_PASSWORD', 'REDIS_PASSWORD', 'JWT_SECRET'];

const text = (rel: string) => readFileSync(path.join(REPO_ROOT, rel), 'utf8');
const load = (rel: string) => parse(text(rel), { merge: true }) as ComposeFile;

/** Seconds of a compose duration such as 30s, 1m30s or 500ms. */
function seconds(d: string): number {
  let total = 0;
  for (const [, n, unit] of d.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) total += Number(n) * { ms: 0.001, s: 1, m: 60, h: 3600 }[unit as 'ms' | 's' | 'm' | 'h'];
  return total;
}

describe('dclint', () => {
  it.each([...FILES, 'deploy/compose.tls.yml'])('%s: valid compose (schema) with no error or warning', async (file) => {
    const linter = new DCLinter({ rules: {}, quiet: false, debug: false, exclude: [] });
    const results = linter.lintFiles([path.join(REPO_ROOT, file)], false);
    expect(results).toHaveLength(1);
    const report = await linter.formatResults(results, 'stylish');
    expect(results[0]!.errorCount, report).toBe(0);
    expect(results[0]!.warningCount, report).toBe(0);
  });

  it('catches a broken file (the check has teeth)', async () => {
    const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(path.join(tmpdir(), 'st-compose-'));
    try {
      const bad = path.join(dir, 'docker-compose.yml');
      writeFileSync(bad, 'name: x\nservices:\n  a:\n    image: nginx:latest\n    restart: sometimes-maybe\n    ports:\n      - 80:80\n');
      const [r] = new DCLinter({ rules: {}, quiet: true, debug: false, exclude: [] }).lintFiles([bad], false);
      expect(r!.errorCount).toBeGreaterThan(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe.each(FILES)('%s policies', (file) => {
  const doc = load(file);
  const services = doc.services;
  const longRunning = Object.keys(services).filter((s) => !JOBS.has(s));

  it('has the planned services', () => {
    expect(Object.keys(services).sort()).toEqual(SERVICES);
  });

  it('publishes ports on the edge only', () => {
    for (const [name, s] of Object.entries(services)) {
      if (name === 'edge') expect(s.ports?.length).toBeGreaterThan(0);
      else expect(s.ports, name).toBeUndefined();
      expect(s.network_mode, name).toBeUndefined();
      expect(s.privileged, name).toBeUndefined();
      expect(JSON.stringify(s.volumes ?? []), name).not.toMatch(/docker\.sock/);
    }
  });

  it('gives every long-running service a healthcheck with start_period, a restart policy and resource limits', () => {
    for (const name of longRunning) {
      const s = services[name]!;
      expect(s.healthcheck?.disable, name).toBeUndefined();
      expect(s.healthcheck?.test?.length, name).toBeGreaterThan(0);
      for (const key of ['interval', 'timeout', 'retries', 'start_period']) expect(s.healthcheck[key], `${name}.healthcheck.${key}`).toBeDefined();
      expect(seconds(s.healthcheck.start_period), name).toBeGreaterThan(0);
      expect(['always', 'unless-stopped'], name).toContain(s.restart);
    }
    for (const [name, s] of Object.entries(services)) {
      const limits = s.deploy?.resources?.limits;
      expect(limits?.memory, name).toMatch(/^\d+[MG]$/);
      expect(Number(limits?.cpus), name).toBeGreaterThan(0);
      expect(limits?.pids, name).toBeGreaterThan(0);
    }
  });

  it('runs every service without capabilities, without privilege escalation, on a read-only root with tmpfs', () => {
    for (const [name, s] of Object.entries(services)) {
      expect(s.cap_drop, name).toEqual(['ALL']);
      expect(s.cap_add, name).toBeUndefined();
      expect(s.security_opt, name).toContain('no-new-privileges:true');
      expect(s.read_only, name).toBe(true);
      expect((s.tmpfs as string[]).some((t) => t.startsWith('/tmp:')), name).toBe(true);
    }
  });

  it('runs the one-off jobs once: migrate gates api and collector, backup is on demand', () => {
    for (const name of JOBS) {
      expect(services[name]!.restart, name).toBe('no');
      expect(services[name]!.healthcheck, name).toEqual({ disable: true });
    }
    for (const name of ['api', 'collector']) {
      expect(services[name]!.depends_on).toEqual({
        db: { condition: 'service_healthy' },
        migrate: { condition: 'service_completed_successfully' },
        redis: { condition: 'service_healthy' },
      });
    }
    expect(services.migrate!.depends_on).toEqual({ db: { condition: 'service_healthy' } });
    expect(services.edge!.depends_on).toEqual({ api: { condition: 'service_healthy' }, web: { condition: 'service_healthy' } });
    expect(services.backup!.profiles).toEqual(['backup']);
    expect(services.migrate!.profiles).toBeUndefined();
  });

  it('runs each server role with the same image and its own command', () => {
    const roles = { api: 'api', collector: 'collector', migrate: 'migrate', backup: 'backup' };
    for (const [name, role] of Object.entries(roles)) expect(services[name]!.command, name).toEqual([role]);
    expect(services.collector!.image).toBe(services.api!.image);
    expect(services.migrate!.image).toBe(services.api!.image);
    expect(services.backup!.build.target).toBe('backup');
    expect(services.api!.build.target).toBe('server');
    expect(String(services.api!.deploy.replicas)).toMatch(/^\$\{API_REPLICAS:-[1-9]\d*\}$/);
    expect(services.collector!.deploy.replicas).toBe(1);
  });

  it('keeps data in named volumes and health-checks db and redis for real', () => {
    const volumes = Object.keys(doc.volumes ?? {});
    expect(services.db!.image).toMatch(/^timescale\/timescaledb:\d+\.\d+\.\d+-pg16$/);
    expect(services.db!.volumes).toEqual(['db-data:/var/lib/postgresql/data']);
    expect(services.redis!.volumes).toEqual(['redis-data:/data']);
    expect(volumes).toEqual(expect.arrayContaining(['db-data', 'redis-data']));
    expect(services.db!.healthcheck.test.join(' ')).toMatch(/pg_isready/);
    expect(services.redis!.healthcheck.test.join(' ')).toMatch(/redis-cli ping/);
    expect(services.redis!.command.join(' ')).toMatch(/--requirepass "\$\$REDISCLI_AUTH"/);
    expect(services.redis!.environment.REDISCLI_AUTH).toMatch(/^\$\{REDIS_PASSWORD:\?/);
  });

  it('pins every image: third-party ones by version, ours by release or as local builds', () => {
    for (const [name, s] of Object.entries(services)) {
      const image = String(s.image);
      const tag = image.slice(image.lastIndexOf(':') + 1);
      expect(image, name).not.toMatch(/:latest$|@latest/);
      if (s.build) {
        // Ours: the release tag is required in production; development always builds locally.
        if (file === 'docker-compose.prod.yml') expect(image, name).toMatch(/:\$\{STOCK_TRACKER_VERSION:\?[^}]+\}$/);
        else expect([image, s.pull_policy], name).toEqual([expect.stringMatching(/:local$/), 'build']);
      } else {
        expect(tag, name).toMatch(/^\d+\.\d+\.\d+(-[a-z0-9.-]+)?$/);
      }
    }
  });

  it('requires the secrets (${VAR:?message}) everywhere they are used, and holds no literal secret', () => {
    const raw = text(file);
    for (const secret of REQUIRED_SECRETS) {
      const uses = [...raw.matchAll(new RegExp(`\\$\\{${secret}(?![A-Z0-9_])([^}]*)\\}`, 'g'))];
      expect(uses.length, secret).toBeGreaterThan(0);
      for (const [, rest] of uses) expect(rest, secret).toMatch(/^:\?.+/);
    }
    for (const [name, s] of Object.entries(services)) {
      for (const [key, value] of Object.entries((s.environment ?? {}) as Record<string, unknown>)) {
        // Required (`${X:?why}`), or optional with an empty default (vendor credentials used by one FEED only).
        if (/PASSWORD|SECRET|TOKEN|AUTH|_KEY$|_URL$/.test(key)) expect(String(value), `${name}.${key}`).toMatch(/\$\{[A-Z_]+:\?[^}]+\}|^\$\{[A-Z_]+:-\}$/);
      }
    }
  });

  it('keeps everything on one internal network; only the edge is public, only the collector has egress', () => {
    expect(doc.networks?.backend?.internal).toBe(true);
    expect(doc.networks?.public?.internal).toBeFalsy();
    for (const [name, s] of Object.entries(services)) {
      expect(s.networks, name).toContain('backend');
      const others = (s.networks as string[]).filter((n) => n !== 'backend');
      expect(others, name).toEqual(name === 'edge' ? ['public'] : name === 'collector' ? ['egress'] : []);
    }
  });

  it('mounts the shipped edge templates where the nginx image renders them', () => {
    const mounts = services.edge!.volumes as string[];
    expect(mounts).toEqual(
      expect.arrayContaining([
        './deploy/nginx/edge.conf.template:/etc/nginx/templates/edge.conf.template:ro',
        './deploy/nginx/edge.d:/etc/nginx/templates/edge.d:ro',
        './deploy/nginx/snippets:/etc/nginx/snippets:ro',
      ]),
    );
    // The image writes the rendered files to conf.d: writable, although the root is read-only.
    expect((services.edge!.tmpfs as string[]).some((t) => t.startsWith('/etc/nginx/conf.d:'))).toBe(true);
    expect(services.edge!.environment.API_SERVERS).toMatch(/^server api:8080\b.*;$/);
  });
});

describe('configuration coverage', () => {
  // Settings the images or compose fix themselves, or that only the embedded mode uses.
  const NOT_PASSED = new Set(['ROLE', 'DATA_DIR', 'LOG_PRETTY', 'WEB_DIST', 'POSTGRES_PASSWORD']);

  it('passes every server setting (apps/server/src/config.ts) to the server roles', () => {
    const config = text('apps/server/src/config.ts');
    const read = new Set([...config.matchAll(/\br\.(?:raw|str|int|bool|oneOf|url)\('([A-Z][A-Z0-9_]+)'/g)].map((m) => m[1]!));
    expect(read.size).toBeGreaterThan(20);
    for (const file of FILES) {
      // Each setting reaches the role that uses it: the union of the api and collector environments.
      const s = load(file).services;
      const env = [...Object.keys(s.api!.environment), ...Object.keys(s.collector!.environment)];
      for (const name of read) if (!NOT_PASSED.has(name)) expect(env, `${name} in ${file}`).toContain(name);
    }
  });

  it('gives each role only the secrets it needs (least privilege)', () => {
    const SECRETS = ['DATABASE_URL', 'REDIS_URL', 'JWT_SECRET', 'JWT_SECRET_PREVIOUS', 'SSI_CONSUMER_ID', 'SSI_CONSUMER_SECRET', 'ALPACA_KEY_ID', 'ALPACA_SECRET_KEY', 'ALPACA_TRADING_KEY_ID', 'ALPACA_TRADING_SECRET_KEY'];
    const NEEDS: Record<string, string[]> = {
      api: ['DATABASE_URL', 'REDIS_URL', 'JWT_SECRET', 'JWT_SECRET_PREVIOUS'],
      collector: ['DATABASE_URL', 'REDIS_URL', 'SSI_CONSUMER_ID', 'SSI_CONSUMER_SECRET', 'ALPACA_KEY_ID', 'ALPACA_SECRET_KEY', 'ALPACA_TRADING_KEY_ID', 'ALPACA_TRADING_SECRET_KEY'],
      migrate: ['DATABASE_URL'],
      backup: ['DATABASE_URL'],
    };
    for (const file of FILES) {
      const s = load(file).services;
      for (const [role, needs] of Object.entries(NEEDS)) {
        const held = Object.keys(s[role]!.environment).filter((k) => SECRETS.includes(k));
        expect(held.sort(), `${role} in ${file}`).toEqual([...needs].sort());
      }
      // The web, edge, db and redis containers hold no server secret either.
      for (const other of ['web', 'edge']) expect(Object.keys(s[other]!.environment ?? {}).filter((k) => SECRETS.includes(k)), other).toEqual([]);
    }
  });

  it('lists every compose variable in deploy/compose.env.example', () => {
    const example = text('deploy/compose.env.example');
    const vars = new Set([...FILES, 'deploy/compose.tls.yml'].flatMap((f) => [...text(f).matchAll(/\$\{([A-Z][A-Z0-9_]*)/g)].map((m) => m[1]!)));
    for (const v of vars) expect(example, v).toMatch(new RegExp(`^#? ?${v}=`, 'm'));
  });
});

describe('production vs development', () => {
  const prod = load('docker-compose.prod.yml').services;
  const dev = load('docker-compose.yml').services;

  it('differ only where intended', () => {
    expect(prod.api!.environment.APP_ENV).toBe('production');
    expect(dev.api!.environment.APP_ENV).toBe('development');
    expect(prod.api!.deploy.replicas).toMatch(/:-([2-9]|\d{2,})\}$/); // several replicas by default
    expect(prod.edge!.ports).toEqual(["0.0.0.0:${EDGE_HTTP_PORT:-80}:8080"]);
    expect(dev.edge!.ports).toEqual(["127.0.0.1:${EDGE_HTTP_PORT:-8080}:8080"]);
    expect(prod.edge!.environment.EDGE_EXPOSE_INTERNAL).toBe('${EDGE_EXPOSE_INTERNAL:-0}');
    // Everything hardening-related is the same in both.
    for (const name of SERVICES) {
      for (const key of ['cap_drop', 'security_opt', 'read_only', 'tmpfs', 'networks', 'depends_on', 'restart', 'healthcheck', 'user']) {
        expect(dev[name]![key], `${name}.${key}`).toEqual(prod[name]![key]);
      }
    }
  });

  it('the TLS override swaps the edge template, adds the HTTPS port and requires the certificates', () => {
    const tls = load('deploy/compose.tls.yml').services.edge!;
    expect(tls.volumes).toContain('./deploy/nginx/edge-tls.conf.template:/etc/nginx/templates/edge.conf.template:ro');
    expect(tls.volumes.join('\n')).toMatch(/^\$\{TLS_CERT_DIR:\?[^}]+\}:\/etc\/nginx\/tls:ro$/m);
    expect(tls.ports).toEqual(["0.0.0.0:${EDGE_HTTPS_PORT:-443}:8443"]);
  });
});
