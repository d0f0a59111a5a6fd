#!/usr/bin/env node
// `npm start`: build the web app when its dist is missing or stale, then run
// the embedded server (`stock-tracker all`) with this environment, forwarding
// signals so Ctrl-C and `docker stop` shut it down gracefully.
//   SKIP_WEB_BUILD=1  never build (serve whatever dist holds, or the API only)
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { webBuildPlan } from './lib/web-build.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const webDir = path.join(root, 'apps/web');
const warn = (msg) => process.stderr.write(`start: ${msg}\n`);

if (process.env.SKIP_WEB_BUILD === '1') {
  warn('SKIP_WEB_BUILD=1: not building the web app');
} else {
  const plan = webBuildPlan(webDir);
  if (plan.action === 'skip') warn(`${plan.reason}; serving the API only`);
  else if (plan.action === 'build') {
    process.stderr.write(`start: building the web app (${plan.reason})\n`);
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    const r = spawnSync(npm, ['run', 'build', '-w', 'apps/web'], { cwd: root, stdio: 'inherit', env: process.env });
    if (r.status !== 0) warn(`web build failed (exit ${r.status ?? r.signal}); starting anyway with the previous build, if any`);
  }
}

const child = spawn(process.execPath, [path.join(root, 'apps/server/bin/stock-tracker.js'), 'all', ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
  env: process.env,
  // Own process group: a terminal's Ctrl-C reaches only this wrapper, which
  // forwards it once (a doubled SIGINT would make the server skip its graceful shutdown).
  detached: process.platform !== 'win32',
});
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    // The child decides how to stop; a second signal is forwarded too (it forces its exit).
    if (child.exitCode === null) child.kill(sig);
  });
}
child.on('exit', (code, signal) => {
  process.exit(code ?? (signal ? 128 + (signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : 1) : 1));
});
