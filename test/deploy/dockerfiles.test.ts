/**
 * The Dockerfiles: dockerfile-utils validation (what the Docker builder would
 * reject) plus our image policies, and the .dockerignore they rely on.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { validate } from 'dockerfile-utils';
import { REPO_ROOT } from '../helpers/nginx.ts';

interface Instruction {
  keyword: string;
  args: string;
}
interface Stage {
  name: string | undefined;
  base: string;
  instructions: Instruction[];
}

const DOCKERFILES = ['deploy/docker/server.Dockerfile', 'deploy/docker/web.Dockerfile'];
const read = (rel: string) => readFileSync(path.join(REPO_ROOT, rel), 'utf8');
/** name:tag with a numeric version (1.28.0, 22.14.0-alpine3.21, 3.21.3), never a floating tag. */
const PINNED = /^[a-z0-9][a-z0-9._/-]*:\d+(\.\d+)+[a-z0-9._-]*(@sha256:[0-9a-f]{64})?$/;

/** Instructions of a Dockerfile: continuation lines joined, comments and blank lines dropped. */
function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let current = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#') || (line === '' && current === '')) continue;
    if (line.endsWith('\\')) {
      current += `${line.slice(0, -1)} `;
      continue;
    }
    current += line;
    const m = current.match(/^(\S+)\s*(.*)$/s)!;
    out.push({ keyword: m[1]!.toUpperCase(), args: m[2]!.trim() });
    current = '';
  }
  return out;
}

function stagesOf(instructions: Instruction[]): Stage[] {
  const stages: Stage[] = [];
  for (const ins of instructions) {
    if (ins.keyword === 'FROM') {
      const m = ins.args.match(/^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i)!;
      stages.push({ base: m[1]!, name: m[2], instructions: [] });
    } else {
      expect(stages.length, `${ins.keyword} before FROM`).toBeGreaterThan(0);
      stages.at(-1)!.instructions.push(ins);
    }
  }
  return stages;
}

/** The last value of an instruction in a stage, following `FROM <earlier stage>` chains. */
function effective(stages: Stage[], stage: Stage, keyword: string): string | undefined {
  const own = stage.instructions.filter((i) => i.keyword === keyword).at(-1);
  if (own) return own.args;
  const parent = stages.find((s) => s.name === stage.base);
  return parent ? effective(stages, parent, keyword) : undefined;
}

/** The workspace package.json files (root package.json `workspaces` globs of the form dir/*). */
function workspaceManifests(): string[] {
  const globs = (JSON.parse(read('package.json')) as { workspaces: string[] }).workspaces;
  return globs.flatMap((g) => {
    const dir = g.replace(/\/\*$/, '');
    return readdirSync(path.join(REPO_ROOT, dir))
      .filter((d) => existsSync(path.join(REPO_ROOT, dir, d, 'package.json')))
      .map((d) => `${dir}/${d}/package.json`);
  });
}

describe.each(DOCKERFILES)('%s', (file) => {
  const text = read(file);
  const instructions = parseDockerfile(text);
  const stages = stagesOf(instructions);
  const final = stages.at(-1)!;
  const stageNames = new Set(stages.map((s) => s.name).filter(Boolean));

  it('passes dockerfile-utils validation without any diagnostic', () => {
    expect(validate(text)).toEqual([]);
  });

  it('is multi-stage with pinned base images (FROM and COPY --from)', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(stageNames.size).toBe(stages.filter((s) => s.name).length);
    for (const s of stages) {
      if (!stageNames.has(s.base)) expect(s.base, `FROM ${s.base}`).toMatch(PINNED);
      expect(s.base).not.toMatch(/\$|:latest/);
    }
    for (const ins of instructions.filter((i) => i.keyword === 'COPY')) {
      const from = ins.args.match(/--from=(\S+)/)?.[1];
      if (from && !stageNames.has(from)) expect(from, ins.args).toMatch(PINNED);
    }
  });

  it('runs as a non-root user with a HEALTHCHECK, and uses no ADD', () => {
    const user = effective(stages, final, 'USER');
    expect(user).toBeDefined();
    expect(user!.split(':')[0]).not.toMatch(/^(root|0)$/);
    for (const s of stages.filter((x) => stageNames.has(x.base) || x === final)) {
      // Every runtime stage ends non-root, even if it switches to root to install something.
      const u = effective(stages, s, 'USER');
      expect(u?.split(':')[0], `stage ${s.name}`).not.toMatch(/^(root|0)$/);
    }
    const health = effective(stages, final, 'HEALTHCHECK');
    expect(health).toMatch(/--start-period=\d+s/);
    expect(health).toMatch(/CMD \[/);
    expect(instructions.filter((i) => i.keyword === 'ADD')).toEqual([]);
  });

  it('bakes in no secret (ENV/ARG) and no .env file', () => {
    for (const ins of instructions.filter((i) => i.keyword === 'ENV' || i.keyword === 'ARG')) {
      expect(ins.args, `${ins.keyword} ${ins.args}`).not.toMatch(/SECRET|PASSWORD|PASSWD|TOKEN|API_?KEY|PRIVATE|CREDENTIAL/i);
    }
    expect(text).not.toMatch(/COPY[^\n]*\.env/);
  });

  it('copies from the build context only files that exist and .dockerignore keeps', () => {
    const patterns = dockerignore();
    const sources = instructions
      .filter((i) => i.keyword === 'COPY' && !/--from=/.test(i.args))
      .flatMap((i) => i.args.split(/\s+/).filter((a) => !a.startsWith('--')).slice(0, -1));
    expect(sources.length).toBeGreaterThan(3);
    for (const src of sources) {
      expect(existsSync(path.join(REPO_ROOT, src)), `${src} exists`).toBe(true);
      expect(ignored(patterns, src), `${src} is not ignored`).toBe(false);
    }
  });

  it('copies every workspace manifest before npm ci, so the lock file resolves', () => {
    for (const s of stages.filter((x) => x.instructions.some((i) => i.keyword === 'RUN' && /npm ci/.test(i.args)))) {
      const ciAt = s.instructions.findIndex((i) => i.keyword === 'RUN' && /npm ci/.test(i.args));
      const copied = s.instructions.slice(0, ciAt).filter((i) => i.keyword === 'COPY').map((i) => i.args);
      expect(copied.some((c) => /package\.json package-lock\.json/.test(c)), `stage ${s.name}`).toBe(true);
      for (const manifest of workspaceManifests()) expect(copied.some((c) => c.startsWith(`${manifest} `)), `${manifest} in stage ${s.name}`).toBe(true);
    }
  });
});

describe('server image', () => {
  const stages = stagesOf(parseDockerfile(read('deploy/docker/server.Dockerfile')));
  const byName = (n: string) => stages.find((s) => s.name === n)!;
  const runs = (s: Stage) => s.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args).join('\n');

  it('builds with dev dependencies and ships production dependencies only', () => {
    expect(runs(byName('build'))).toMatch(/npm ci /);
    expect(runs(byName('build'))).not.toMatch(/--omit=dev/);
    expect(runs(byName('prod-deps'))).toMatch(/npm ci --omit=dev .*-w apps\/server/);
    const runtimeCopies = byName('runtime').instructions.filter((i) => i.keyword === 'COPY').map((i) => i.args);
    expect(runtimeCopies).toContain('--from=prod-deps /src/node_modules ./node_modules');
    expect(runtimeCopies.filter((c) => /node_modules/.test(c))).toHaveLength(1);
  });

  it('runs the install scripts only where the runtime dependencies are installed, with the files they need', () => {
    const ci = (s: Stage) => s.instructions.find((i) => i.keyword === 'RUN' && /npm ci/.test(i.args))?.args ?? '';
    expect(ci(byName('build'))).toMatch(/--ignore-scripts/);
    expect(ci(byName('prod-deps'))).not.toMatch(/--ignore-scripts/);
    // Files the root install lifecycle scripts run (e.g. postinstall: node scripts/pglite-seed.mjs).
    const scripts = (JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts?: Record<string, string> }).scripts ?? {};
    const lifecycle = ['preinstall', 'install', 'postinstall', 'prepare'].map((k) => scripts[k] ?? '').join(' ');
    const files = [...lifecycle.matchAll(/\b(scripts\/[\w./-]+)/g)].map((m) => m[1]!);
    const stage = byName('prod-deps').instructions;
    const ciAt = stage.findIndex((i) => i.keyword === 'RUN' && /npm ci/.test(i.args));
    const copied = stage.slice(0, ciAt).filter((i) => i.keyword === 'COPY').map((i) => i.args.split(/\s+/)[0]);
    for (const f of files) expect(copied, f).toContain(f);
  });

  it('starts the CLI under tini, defaults to the `all` role, and the default target is the server', () => {
    expect(effective(stages, byName('runtime'), 'ENTRYPOINT')).toBe('["/sbin/tini", "--", "node", "apps/server/bin/stock-tracker.js"]');
    expect(stages.at(-1)!.name).toBe('server');
    expect(effective(stages, stages.at(-1)!, 'CMD')).toBe('["all"]');
    expect(effective(stages, byName('backup'), 'CMD')).toBe('["backup"]');
    expect(runs(byName('backup'))).toMatch(/postgresql16-client/); // pg_dump/pg_restore for the PostgreSQL 16 server
    // The health check needs nothing but node (no curl or wget in the runtime).
    expect(effective(stages, stages.at(-1)!, 'HEALTHCHECK')).toMatch(/CMD \["node", "-e", .*\/healthz/);
  });

  it('takes the node binary from the same release and Alpine version as the build stages', () => {
    const node = byName('build').base;
    const copy = byName('runtime').instructions.find((i) => i.keyword === 'COPY' && i.args.includes('/usr/local/bin/node'))!;
    expect(copy.args).toContain(`--from=${node} `);
    const alpine = node.match(/alpine(\d+\.\d+)$/)![1]!;
    expect(byName('runtime').base).toMatch(new RegExp(`^alpine:${alpine.replace('.', '\\.')}\\.\\d+$`));
  });
});

describe('web image', () => {
  const stages = stagesOf(parseDockerfile(read('deploy/docker/web.Dockerfile')));
  it('serves the build with unprivileged nginx and checks health with busybox wget', () => {
    expect(stages.at(-1)!.base).toMatch(/^nginxinc\/nginx-unprivileged:/);
    expect(effective(stages, stages.at(-1)!, 'HEALTHCHECK')).toMatch(/"wget".*\/healthz/);
    const copies = stages.at(-1)!.instructions.filter((i) => i.keyword === 'COPY').map((i) => i.args);
    expect(copies).toContain('--from=build /src/apps/web/dist /usr/share/nginx/html');
  });
});

// ------------------------------------------------------------ .dockerignore ---

/** Docker's .dockerignore semantics: patterns relative to the context, `**`, `!` exceptions, last match wins. */
function ignored(patterns: string[], file: string): boolean {
  let result = false;
  for (const raw of patterns) {
    const negate = raw.startsWith('!');
    const pat = (negate ? raw.slice(1) : raw).replace(/^\/+/, '');
    const re = pat
      .split('/')
      .map((seg) => (seg === '**' ? '.*' : seg.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')))
      .join('/')
      .replace(/\.\*\//g, '(?:.*/)?');
    // A pattern matching a directory excludes everything below it.
    if (new RegExp(`^${re}(?:/.*)?$`).test(file)) result = !negate;
  }
  return result;
}

function dockerignore(): string[] {
  return read('.dockerignore')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
}

describe('.dockerignore', () => {
  const patterns = dockerignore();

  it('lists the required entries', () => {
    expect(patterns).toEqual(expect.arrayContaining(['.env*', '.git', 'node_modules', '**/node_modules', 'test', '**/test', 'data']));
  });

  it('keeps secrets, VCS, dependencies, tests and data out of the build context', () => {
    for (const f of [
      '.env',
      '.env.production',
      'apps/server/.env.local',
      '.git/config',
      'node_modules/fastify/package.json',
      'apps/web/node_modules/react/index.js',
      'apps/web/dist/index.html',
      'packages/engine/test/engine.test.ts',
      'apps/server/test/http.test.ts',
      'test/deploy/edge.test.ts',
      'data/pglite/PG_VERSION',
      'deploy/tls/privkey.pem',
      'backups/stock-tracker.dump',
    ]) {
      expect(ignored(patterns, f), f).toBe(true);
    }
  });

  it('keeps everything the Dockerfiles copy', () => {
    const needed = [
      'package.json',
      'package-lock.json',
      'tsconfig.base.json',
      'tsconfig.json',
      'apps/server/bin/stock-tracker.js',
      'apps/server/src/index.ts',
      'packages/protocol/src/errors.ts',
      'apps/web/index.html',
      'apps/web/vite.config.ts',
      'deploy/docker/tsconfig.server.json',
      'deploy/nginx/web.conf.template',
      'deploy/nginx/snippets/common-http.conf',
      'scripts/pglite-seed.mjs',
      ...workspaceManifests(),
    ];
    for (const f of needed) {
      expect(existsSync(path.join(REPO_ROOT, f)), `${f} exists`).toBe(true);
      expect(ignored(patterns, f), f).toBe(false);
    }
    for (const f of readdirSync(path.join(REPO_ROOT, 'apps/server/src/storage/migrations'))) expect(ignored(patterns, `apps/server/src/storage/migrations/${f}`)).toBe(false);
  });
});
