/**
 * docs/deploy.md stays complete and in step with the compose files: every
 * variable is documented, the required sections exist, and the sizing table
 * shows the limits compose actually sets.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { NGINX_DIR, REPO_ROOT, templateVariables } from '../helpers/nginx.ts';

const read = (rel: string) => readFileSync(path.join(REPO_ROOT, rel), 'utf8');
const doc = read('docs/deploy.md');
const COMPOSE = ['docker-compose.yml', 'docker-compose.prod.yml', 'deploy/compose.tls.yml'];
const services = (rel: string) => (parse(read(rel), { merge: true }) as { services: Record<string, any> }).services;

describe('docs/deploy.md', () => {
  it('documents every variable the compose files read', () => {
    const vars = new Set(COMPOSE.flatMap((f) => [...read(f).matchAll(/\$\{([A-Z][A-Z0-9_]*)/g)].map((m) => m[1]!)));
    expect(vars.size).toBeGreaterThan(30);
    for (const v of vars) expect(doc, v).toContain(`\`${v}\``);
  });

  it('documents every variable compose sets for the edge, the server roles and the data services', () => {
    const names = new Set<string>();
    for (const f of COMPOSE) for (const s of Object.values(services(f))) for (const k of Object.keys(s.environment ?? {})) names.add(k);
    for (const t of ['edge.conf.template', 'edge-tls.conf.template', 'edge.d/http.conf.template', 'edge.d/server.conf.template']) {
      for (const v of templateVariables(readFileSync(path.join(NGINX_DIR, t), 'utf8'))) names.add(v);
    }
    for (const v of names) expect(doc, v).toContain(`\`${v}`);
  });

  it('has the sections an operator needs', () => {
    const headings = [...doc.matchAll(/^#{2,3} (.+)$/gm)].map((m) => m[1]!);
    for (const h of ['First deploy', 'Variables', 'TLS', 'Upgrade (migrations first)', 'Rollback', 'Scaling', 'Resource sizing', 'Size estimates']) {
      expect(headings, h).toContain(h);
    }
    expect(doc).toMatch(/target < 200 MB/);
    expect(doc).toMatch(/target < 50 MB/);
  });

  it('shows the memory, cpu and pids limits the production file sets', () => {
    const prod = services('docker-compose.prod.yml');
    const section = doc.slice(doc.indexOf('\n## Resource sizing'), doc.indexOf('\n## Images'));
    for (const [name, s] of Object.entries(prod)) {
      const limits = s.deploy.resources.limits;
      const row = section.split('\n').find((l) => l.startsWith(`| ${name} `));
      expect(row, name).toBeDefined();
      const [, , memory, cpus, pids] = row!.split('|').map((c) => c.trim());
      expect(memory!.split(' ')[0], `${name} memory`).toBe(limits.memory);
      expect(cpus, `${name} cpus`).toBe(limits.cpus);
      expect(Number(pids), `${name} pids`).toBe(limits.pids);
    }
  });

  it('names the image pins the Dockerfiles and compose files use', () => {
    const pins = [
      ...[...read('deploy/docker/server.Dockerfile').matchAll(/^FROM (\S+:\S+)/gm)].map((m) => m[1]!),
      ...[...read('deploy/docker/web.Dockerfile').matchAll(/^FROM (\S+:\S+)/gm)].map((m) => m[1]!),
    ];
    expect(pins.length).toBeGreaterThan(3);
    for (const pin of new Set(pins)) expect(doc, pin).toContain(pin);
  });
});
