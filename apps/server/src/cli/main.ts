/**
 * `stock-tracker <command>`: one program, several roles and tools
 * (ARCHITECTURE §3). Each command lives in its own module, loaded on demand so
 * that a tool such as `replay` does not pull in the server.
 */
const COMMANDS: Record<string, { describe: string; load: () => Promise<{ run(argv: string[]): Promise<number> }> }> = {
  replay: { describe: 'replay a tape file through the engine (--summary prints JSON)', load: () => import('./replay.ts') },
  backtest: { describe: 'run a built-in trading strategy over a tape (--json prints fills and summary)', load: () => import('./backtest.ts') },
  record: { describe: 'record the simulator to a normalized tape file', load: () => import('./record.ts') },
  migrate: { describe: 'apply database migrations and exit', load: () => import('./migrate.ts') },
  user: { describe: 'manage accounts: create, set-password, list (password from stdin or a prompt)', load: () => import('./user.ts') },
  backup: { describe: 'back up the database (pg_dump custom format + manifest) and prune old backups', load: () => import('./backup.ts') },
  restore: { describe: 'restore a backup into a new database and verify row counts', load: () => import('./restore.ts') },
  backfill: { describe: 'import vendor history (daily or 1-minute bars) into storage; resumable', load: () => import('./backfill.ts') },
  all: { describe: 'run collector + API + WebSocket + web app in one process', load: () => import('./serve.ts').then((m) => ({ run: (argv: string[]) => m.run(argv, 'all') })) },
  collector: { describe: 'run the collector (feed → engine → Redis bus + storage; leader-elected, hot standby)', load: () => import('./serve.ts').then((m) => ({ run: (argv: string[]) => m.run(argv, 'collector') })) },
  api: { describe: 'run an API replica (REST + WebSocket over Redis; WEB_CONCURRENCY workers)', load: () => import('./serve.ts').then((m) => ({ run: (argv: string[]) => m.run(argv, 'api') })) },
  serve: { describe: 'run the server in the role given by ROLE (default all)', load: () => import('./serve.ts') },
};

function usage(): string {
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(10)} ${c.describe}`);
  return `usage: stock-tracker <command> [options]\n\ncommands:\n${lines.join('\n')}\n`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name ? 0 : 2;
  }
  const cmd = COMMANDS[name];
  if (!cmd) {
    process.stderr.write(`stock-tracker: unknown command '${name}'\n\n${usage()}`);
    return 2;
  }
  const mod = await cmd.load();
  return mod.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`stock-tracker: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
