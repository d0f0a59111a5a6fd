/**
 * `stock-tracker backfill`: imports vendor history (daily or 1-minute bars)
 * into storage. Resumable (a checkpoint per symbol, saved with every page),
 * idempotent (a second run stores nothing twice), polite (retries with
 * backoff, honouring Retry-After on 429). Ctrl-C stops after the request in
 * flight; running the same command again resumes.
 *
 * Exit codes: 0 done; 1 the vendor refused or failed; 2 usage or missing
 * credentials; 3 the database is unreachable; 130 interrupted (resumable).
 */
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import {
  AlpacaHistorySource,
  BackfillProgressPrinter,
  BACKFILL_INTERVALS,
  HttpError,
  isDate,
  runBackfill,
  SsiApiError,
  SsiCredentialsError,
  SsiHistorySource,
  SsiRestClient,
  SsiTokenProvider,
  SSI_DEFAULT_REST_URL,
  SSI_PAGE_SIZES,
  type BackfillInterval,
  type HistorySource,
  type RequestOptions,
} from '@stock-tracker/feeds';
import { DatabaseUnreachableError, openDatabase, redactUrl, type Db } from '../storage/db.ts';
import { migrate, migrationStatus } from '../storage/migrate.ts';
import { createBackfillStore } from '../storage/bars-import.ts';
import { readStorageEnv } from '../config.ts';

const USAGE = `usage: stock-tracker backfill --feed ssi|alpaca --from YYYY-MM-DD --to YYYY-MM-DD [options]

Imports historical bars from the vendor into storage (bars_1d for daily,
bars_1m for 1-minute bars). Interrupted runs resume; re-runs store nothing twice.

options:
  --feed ssi|alpaca     vendor
  --from DATE --to DATE inclusive range of trading dates (exchange local time)
  --symbols A,B         symbols (default: the market's symbols already in storage;
                        SSI: else every HOSE/HNX/UPCOM security; Alpaca: else ALPACA_SYMBOLS)
  --interval 1d|1m      bar interval (default 1d)
  --page-size N         rows per request (SSI: 10, 20, 50, 100, 1000; Alpaca: up to 10000)
  --fresh               ignore checkpoints of an earlier run of the same range

environment:
  SSI_CONSUMER_ID, SSI_CONSUMER_SECRET, SSI_REST_URL (default ${SSI_DEFAULT_REST_URL})
  ALPACA_KEY_ID, ALPACA_SECRET_KEY, ALPACA_DATA_URL (default https://data.alpaca.markets),
  ALPACA_FEED (iex|sip: the history feed; default: what the plan allows)
  DATABASE_URL, or DATA_DIR for embedded PGlite (default ./data)
`;

class UsageError extends Error {}

interface Plan {
  feed: 'ssi' | 'alpaca';
  from: string;
  to: string;
  symbols: string[] | null;
  interval: BackfillInterval;
  pageSize: number | undefined;
  fresh: boolean;
}

function plan(argv: string[]): Plan {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        feed: { type: 'string' },
        from: { type: 'string' },
        to: { type: 'string' },
        symbols: { type: 'string' },
        interval: { type: 'string' },
        'page-size': { type: 'string' },
        fresh: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const v = parsed.values;
  if (v.help) throw new UsageError('');
  if (v.feed !== 'ssi' && v.feed !== 'alpaca') throw new UsageError(v.feed === undefined ? 'missing --feed ssi|alpaca' : `invalid --feed '${v.feed}' (ssi or alpaca)`);
  for (const k of ['from', 'to'] as const) {
    if (v[k] === undefined) throw new UsageError(`missing --${k} YYYY-MM-DD`);
    if (!isDate(v[k])) throw new UsageError(`invalid --${k} '${v[k]}' (YYYY-MM-DD)`);
  }
  if (v.from! > v.to!) throw new UsageError(`--from ${v.from} is after --to ${v.to}`);
  const interval = (v.interval ?? '1d') as BackfillInterval;
  if (!BACKFILL_INTERVALS.includes(interval)) throw new UsageError(`invalid --interval '${v.interval}' (1d or 1m)`);
  let pageSize: number | undefined;
  if (v['page-size'] !== undefined) {
    pageSize = Number(v['page-size']);
    const ok = v.feed === 'ssi' ? (SSI_PAGE_SIZES as readonly number[]).includes(pageSize) : Number.isInteger(pageSize) && pageSize >= 1 && pageSize <= 10_000;
    if (!ok) throw new UsageError(`invalid --page-size '${v['page-size']}' (${v.feed === 'ssi' ? SSI_PAGE_SIZES.join(', ') : '1..10000'})`);
  }
  const symbols = v.symbols?.split(',').map((s) => s.trim().toUpperCase()).filter(Boolean) ?? null;
  if (symbols && (symbols.length === 0 || symbols.some((s) => !/^[A-Z0-9._-]{1,20}$/.test(s)))) throw new UsageError(`invalid --symbols '${v.symbols}'`);
  return { feed: v.feed, from: v.from!, to: v.to!, symbols, interval, pageSize, fresh: v.fresh === true };
}

export interface BackfillDeps {
  env?: Record<string, string | undefined>;
  stdout?: { write(s: string): unknown; isTTY?: boolean };
  stderr?: { write(s: string): unknown; isTTY?: boolean };
  /** Aborts the run as Ctrl-C would (tests); SIGINT/SIGTERM are wired when absent. */
  signal?: AbortSignal;
  /** REST retry policy override (tests shorten backoff). */
  request?: RequestOptions;
}

const need = (env: Record<string, string | undefined>, names: string[]) => names.filter((n) => !env[n]?.trim());

export async function run(argv: string[], deps: BackfillDeps = {}): Promise<number> {
  const env = deps.env ?? process.env;
  const stdout = deps.stdout ?? process.stdout;
  const stderr = deps.stderr ?? process.stderr;
  const err = (s: string) => stderr.write(`stock-tracker backfill: ${s}\n`);
  let p: Plan;
  try {
    p = plan(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    if (e.message) err(e.message);
    stderr.write(USAGE);
    return e.message ? 2 : 0;
  }
  const missing = need(env, p.feed === 'ssi' ? ['SSI_CONSUMER_ID', 'SSI_CONSUMER_SECRET'] : ['ALPACA_KEY_ID', 'ALPACA_SECRET_KEY']);
  if (missing.length) {
    err(`${missing.join(' and ')} must be set for --feed ${p.feed}`);
    return 2;
  }

  const { databaseUrl, dataDir } = readStorageEnv(env);
  const target = databaseUrl ? `PostgreSQL ${redactUrl(databaseUrl)}` : `PGlite ${resolve(dataDir, 'pglite')}`;
  let db: Db;
  try {
    db = await openDatabase({ databaseUrl, dataDir, poolSize: 2 });
  } catch (e) {
    err(`cannot open the database (${target}): ${e instanceof DatabaseUnreachableError ? e.reason : (e as Error).message}`);
    return 3;
  }

  const printer = new BackfillProgressPrinter(stderr);
  const controller = new AbortController();
  const onSignal = () => {
    printer.note('backfill: stopping after the current request (run the same command again to resume)…');
    controller.abort(new Error('interrupted'));
  };
  if (deps.signal) deps.signal.addEventListener('abort', onSignal, { once: true });
  else {
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  }
  try {
    const st = await migrationStatus(db);
    if (st.current < st.expected) {
      const r = await migrate(db);
      printer.note(`backfill: applied ${r.applied.length} migration(s) to ${target}`);
    }
    const request: RequestOptions = {
      onRetry: (i) => printer.note(`backfill: ${i.reason}; retry ${i.attempt} in ${(i.delayMs / 1000).toFixed(1)} s`),
      ...deps.request,
    };
    let source: HistorySource;
    let symbols = p.symbols;
    const market = p.feed === 'ssi' ? 'VN' : 'US';
    if (p.feed === 'ssi') {
      const restUrl = env['SSI_REST_URL']?.trim() || SSI_DEFAULT_REST_URL;
      const tokens = new SsiTokenProvider({ restUrl, consumerId: env['SSI_CONSUMER_ID']!.trim(), consumerSecret: env['SSI_CONSUMER_SECRET']!.trim(), request });
      const rest = new SsiRestClient({ restUrl, tokens, request });
      source = new SsiHistorySource(rest, p.pageSize ? { pageSize: p.pageSize } : {});
      symbols ??= await storedSymbols(db, market);
      if (symbols.length === 0) symbols = await ssiListedSymbols(rest, controller.signal);
    } else {
      const feed = env['ALPACA_FEED']?.trim().toLowerCase();
      source = new AlpacaHistorySource({
        keyId: env['ALPACA_KEY_ID']!.trim(),
        secretKey: env['ALPACA_SECRET_KEY']!.trim(),
        ...(env['ALPACA_DATA_URL']?.trim() ? { restUrl: env['ALPACA_DATA_URL'].trim() } : {}),
        ...(feed === 'iex' || feed === 'sip' ? { feed } : {}),
        ...(p.pageSize ? { limit: p.pageSize } : {}),
        request,
      });
      symbols ??= env['ALPACA_SYMBOLS']?.split(',').map((s) => s.trim().toUpperCase()).filter(Boolean) ?? [];
      if (symbols.length === 0) symbols = await storedSymbols(db, market);
    }
    if (symbols.length === 0) {
      err(`no symbols to backfill: pass --symbols${p.feed === 'alpaca' ? ' or set ALPACA_SYMBOLS' : ''}`);
      return 2;
    }
    printer.note(`backfill: ${p.feed} ${p.interval} bars ${p.from}..${p.to} for ${symbols.length} symbol(s) into ${target}`);
    const result = await runBackfill({
      source,
      store: createBackfillStore(db, { market }),
      symbols,
      interval: p.interval,
      range: { from: p.from, to: p.to },
      fresh: p.fresh,
      signal: controller.signal,
      onProgress: (pr) => printer.update(pr),
      onMalformed: (symbol, count, problem) => printer.note(`backfill: ${symbol}: ${count} malformed row(s) skipped${problem ? ` (${problem})` : ''}`),
    });
    printer.finish(result);
    stdout.write(`${JSON.stringify({ feed: p.feed, interval: p.interval, from: p.from, to: p.to, ...result })}\n`);
    return result.interrupted ? 130 : 0;
  } catch (e) {
    if (controller.signal.aborted) {
      err('interrupted; run the same command again to resume');
      return 130;
    }
    if (e instanceof SsiCredentialsError || e instanceof SsiApiError || e instanceof HttpError) {
      const hint = e instanceof HttpError && (e.status === 401 || e.status === 403) ? ' (check the credentials)' : '';
      err(`${e.message}${hint}`);
      return 1;
    }
    err((e as Error).message);
    return 1;
  } finally {
    if (!deps.signal) {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    await db.close();
  }
}

async function storedSymbols(db: Db, market: 'VN' | 'US'): Promise<string[]> {
  const { rows } = await db.query<{ symbol: string }>('SELECT symbol FROM symbols WHERE market = $1 ORDER BY symbol', [market]);
  return rows.map((r) => r.symbol);
}

/** Every security SSI lists on the three exchanges (`Securities`, paged). */
async function ssiListedSymbols(rest: SsiRestClient, signal: AbortSignal): Promise<string[]> {
  const out = new Set<string>();
  for (const market of ['HOSE', 'HNX', 'UPCOM']) {
    for await (const page of rest.pages('Securities', { market }, 1000, 1, signal)) {
      for (const row of page.rows) {
        const sym = Object.entries(row).find(([k]) => k.toLowerCase() === 'symbol')?.[1];
        if (typeof sym === 'string' && /^[A-Za-z0-9._-]{1,20}$/.test(sym.trim())) out.add(sym.trim().toUpperCase());
      }
    }
  }
  return [...out].sort();
}
