/** `npm start` (scripts/start.mjs): when it rebuilds the web app, and that it runs the server and forwards signals. */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { webBuildPlan } from '../../../scripts/lib/web-build.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

describe('web build plan', () => {
  let dir: string;
  const touch = (rel: string, mtimeSec: number, body = 'x') => {
    const p = path.join(dir, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, body);
    fs.utimesSync(p, mtimeSec, mtimeSec);
  };
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'st-webplan-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('skips when there is no web app', () => {
    expect(webBuildPlan(dir).action).toBe('skip');
    touch('package.json', 1_000);
    expect(webBuildPlan(dir).action).toBe('skip'); // no index.html yet
  });

  it('builds when dist is missing or older than any source, not otherwise', () => {
    touch('package.json', 1_000);
    touch('index.html', 1_000);
    touch('src/main.tsx', 1_000);
    expect(webBuildPlan(dir)).toEqual({ action: 'build', reason: 'no build yet' });
    touch('dist/index.html', 2_000);
    expect(webBuildPlan(dir).action).toBe('fresh');
    touch('src/board/Row.tsx', 3_000);
    expect(webBuildPlan(dir).action).toBe('build');
    touch('dist/index.html', 4_000);
    touch('public/favicon.svg', 5_000);
    expect(webBuildPlan(dir).action).toBe('build');
    touch('dist/index.html', 6_000);
    touch('node_modules/dep/index.js', 9_000); // dependencies are not sources
    touch('vite.config.ts', 5_500);
    expect(webBuildPlan(dir).action).toBe('fresh');
    touch('vite.config.ts', 7_000);
    expect(webBuildPlan(dir).action).toBe('build');
  });
});

describe('npm start', () => {
  it('runs `stock-tracker all` with the environment and forwards SIGTERM (exit 0)', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'st-start-'));
    try {
      const child = spawn(process.execPath, [path.join(ROOT, 'scripts/start.mjs')], {
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? '', HOME: os.tmpdir(), SKIP_WEB_BUILD: '1', DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'warn', WEB_DIST: path.join(dataDir, 'none') },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const url = await new Promise<string>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no URL; stdout:\n${out}\nstderr:\n${err}`)), 60_000);
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          const m = out.match(/listening on (http:\/\/\S+)/);
          if (m) {
            clearTimeout(t);
            resolve(m[1]!);
          }
        });
      });
      expect(err).toContain('SKIP_WEB_BUILD=1');
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
      child.kill('SIGTERM');
      expect(await exit).toBe(0);
      // The server really stopped: its port no longer answers.
      await expect(fetch(`${url}/healthz`)).rejects.toThrow();
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  }, 90_000);
});
