// Decides whether `npm start` must (re)build the web app: its dist is missing,
// or a source file is newer than the built index.html. Plain Node (no tsx), so
// `npm start` works before anything is compiled.
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

/** Inputs of the Vite build besides src/ and public/. */
const ROOT_INPUTS = ['index.html', 'vite.config.ts', 'vite.config.js', 'package.json', 'tsconfig.json'];

function newestMtime(p) {
  let st;
  try {
    st = statSync(p);
  } catch {
    return 0;
  }
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = 0;
  for (const entry of readdirSync(p)) {
    if (entry === 'node_modules' || entry === 'dist' || entry.startsWith('.')) continue;
    newest = Math.max(newest, newestMtime(path.join(p, entry)));
  }
  return newest;
}

/**
 * @param {string} webDir the web app's directory (apps/web)
 * @param {string} [distDir] its build output (default webDir/dist)
 * @returns {{ action: 'skip' | 'build' | 'fresh', reason: string }}
 */
export function webBuildPlan(webDir, distDir = path.join(webDir, 'dist')) {
  if (!existsSync(path.join(webDir, 'package.json')) || !existsSync(path.join(webDir, 'index.html'))) {
    return { action: 'skip', reason: `no web app at ${webDir} (package.json and index.html expected)` };
  }
  const builtIndex = path.join(distDir, 'index.html');
  if (!existsSync(builtIndex)) return { action: 'build', reason: 'no build yet' };
  const built = statSync(builtIndex).mtimeMs;
  const sources = Math.max(
    newestMtime(path.join(webDir, 'src')),
    newestMtime(path.join(webDir, 'public')),
    ...ROOT_INPUTS.map((f) => newestMtime(path.join(webDir, f))),
  );
  return sources > built ? { action: 'build', reason: 'sources changed since the last build' } : { action: 'fresh', reason: 'build is up to date' };
}
