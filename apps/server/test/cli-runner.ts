/**
 * Running the CLI in tests: in-process runs of a command module (runCli), and
 * the one spawn-a-CLI runner (spawnCli) for the real program,
 * apps/server/bin/stock-tracker.js, in a child process.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The `stock-tracker` program. */
export const CLI_BIN = fileURLToPath(new URL('../bin/stock-tracker.js', import.meta.url));

/** Runs `stock-tracker <argv>` in a child process with exactly `env`, capturing its output. */
export function spawnCli(argv: string[], env: NodeJS.ProcessEnv, opts: { cwd?: string } = {}): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_BIN, ...argv], { env, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, out, err }));
  });
}

/** Runs a CLI command module's run() in-process with the given environment, capturing stdout and stderr. */
export async function runCli(
  run: (argv: string[]) => Promise<number>,
  argv: string[],
  env: Record<string, string | undefined> = {},
): Promise<{ code: number; out: string; err: string }> {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  let out = '';
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => ((out += String(s)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => ((err += String(s)), true));
  try {
    for (const [k, v] of Object.entries(env)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    const code = await run(argv);
    return { code, out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}
