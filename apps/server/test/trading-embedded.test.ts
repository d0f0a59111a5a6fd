/**
 * Paper trading in the embedded server, as a user runs it (a real process,
 * the simulator feed, accounts on): ownership (another user's account, order
 * or stream is 404 / FORBIDDEN), idempotent submit, a market order filled on
 * the simulator and visible on REST and /ws/trading, and a crash (SIGKILL) and
 * restart on the same data directory that neither loses nor repeats a fill.
 */
import WebSocket from 'ws';
import type { Fill, Order, Position, ServerMessage, TradingAccount } from '@stock-tracker/protocol';
import { tradingPortfolioKey, tradingUserKey } from '@stock-tracker/protocol';
import { startServer, type ServerHandle } from '../../../test/helpers/server.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, fn: () => Promise<T | undefined | null | false>, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    await sleep(200);
  }
  throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
}

describe('paper trading in the embedded server', () => {
  let server: ServerHandle;
  const tokens: Record<string, string> = {};
  const userIds: Record<string, string> = {};

  const call = async (who: string, method: string, path: string, body?: unknown) => {
    const r = await fetch(`${server.url}/api${path}`, {
      method,
      headers: { authorization: `Bearer ${tokens[who]}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    const text = await r.text();
    return { status: r.status, body: text ? JSON.parse(text) : undefined };
  };

  beforeAll(async () => {
    server = await startServer({ continuousForMs: 240_000, readyTimeoutMs: 150_000, env: { AUTH_MODE: 'accounts', REGISTRATION_ENABLED: 'true', TRADING_COMMAND_WAIT_MS: '5000' } });
    for (const who of ['alice', 'bob']) {
      const r = await fetch(`${server.url}/api/auth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: `${who}-${Date.now()}`, password: 'correct horse battery staple' }) });
      expect(r.status).toBe(201);
      const b = (await r.json()) as { accessToken: string; user: { id: string } };
      tokens[who] = b.accessToken;
      userIds[who] = b.user.id;
    }
  }, 180_000);
  afterAll(() => server?.close());

  it('keeps accounts and orders to their owner, submits idempotently, fills on the feed, survives a crash', async () => {
    const created = await call('alice', 'POST', '/trading/accounts', { name: 'paper', startingCash: 1_000_000_000 });
    expect(created.status).toBe(201);
    const account = created.body as TradingAccount;

    // Bob sees nothing of Alice's.
    expect((await call('bob', 'GET', `/trading/accounts/${account.id}`)).status).toBe(404);
    expect((await call('bob', 'GET', '/trading/accounts')).body.items).toEqual([]);
    expect((await call('bob', 'POST', `/trading/accounts/${account.id}/orders`, { symbol: 'FPT', side: 'buy', type: 'market', qty: 100 })).status).toBe(404);

    // A live symbol with a quote, so a market order fills on the next trades.
    const symbol = await until('a traded symbol', async () => {
      const q = (await (await fetch(`${server.url}/api/quotes`, { headers: { authorization: `Bearer ${tokens.alice}` } })).json()) as { items: { symbol: string; last: number | null; exchange: string }[] };
      return q.items.find((x) => x.last !== null && x.exchange === 'HOSE')?.symbol;
    });

    // /ws/trading: Alice's own streams only.
    const frames: ServerMessage[] = [];
    const ws = new WebSocket(`${server.url.replace('http', 'ws')}/ws/trading`, ['stock-tracker', `bearer.${tokens.alice}`]);
    ws.on('message', (d) => frames.push(JSON.parse(d.toString()) as ServerMessage));
    await new Promise((resolve, reject) => (ws.once('open', resolve), ws.once('error', reject)));
    ws.send(JSON.stringify({ op: 'subscribe', id: 'bad', symbols: [tradingUserKey(userIds.bob!)] }));
    ws.send(JSON.stringify({ op: 'subscribe', id: 's1', symbols: [tradingUserKey(userIds.alice!), tradingPortfolioKey(userIds.alice!)] }));
    await until('subscribed', async () => frames.some((f) => f.type === 'subscribed')).catch((err: Error) => {
      throw new Error(`${err.message}; frames: ${JSON.stringify(frames).slice(0, 2_000)}; output: ${server.output().slice(-3_000)}`);
    });
    expect(frames.find((f) => f.type === 'error' && f.id === 'bad')).toMatchObject({ code: 'FORBIDDEN' });

    const req = { clientOrderId: 'buy-1', symbol, side: 'buy', type: 'market', qty: 100 };
    const first = await call('alice', 'POST', `/trading/accounts/${account.id}/orders`, req);
    expect([201, 202], JSON.stringify(first.body)).toContain(first.status);
    const again = await call('alice', 'POST', `/trading/accounts/${account.id}/orders`, req);
    expect(again.status, JSON.stringify(again.body)).toBe(200);
    expect((again.body as Order).clientOrderId).toBe('buy-1');
    const orderId = (again.body as Order).id;
    expect((await call('alice', 'POST', `/trading/accounts/${account.id}/orders`, { ...req, qty: 200 })).body.code).toBe('CONFLICT');
    expect((await call('bob', 'GET', `/trading/accounts/${account.id}/orders/${orderId}`)).status).toBe(404);
    expect((await call('bob', 'DELETE', `/trading/accounts/${account.id}/orders/${orderId}`)).status).toBe(404);

    // Filled on the simulator: on REST …
    const fills = await until('the fill on REST', async () => {
      const r = await call('alice', 'GET', `/trading/accounts/${account.id}/fills`);
      const items = r.body.items as Fill[];
      return items.reduce((s, f) => s + f.qty, 0) === 100 ? items : undefined;
    });
    expect(fills.every((f) => f.orderId === orderId && f.symbol === symbol && f.side === 'buy')).toBe(true);
    expect((await call('bob', 'GET', `/trading/accounts/${account.id}/fills`)).status).toBe(404);
    const positions = (await call('alice', 'GET', `/trading/accounts/${account.id}/positions`)).body.items as Position[];
    expect(positions.map((p) => [p.symbol, p.qty])).toEqual([[symbol, 100]]);
    const order = (await call('alice', 'GET', `/trading/accounts/${account.id}/orders/${orderId}`)).body as Order;
    expect(order).toMatchObject({ status: 'filled', filledQty: 100 });

    // … and on /ws/trading (the fill events and the account state with the position).
    await until('the fill on /ws/trading', async () => {
      const seen = frames.flatMap((f) => (f.type === 'update' || f.type === 'snapshot' ? (Array.isArray(f.data) ? f.data : [f.data]) : [])) as Array<{ type?: string; fill?: Fill; accounts?: { accountId: string; positions: Position[] }[] }>;
      const wsFills = seen.filter((e) => e.type === 'fill').map((e) => e.fill!.id);
      const held = seen.some((e) => e.accounts?.some((a) => a.accountId === account.id && a.positions.some((p) => p.symbol === symbol && p.qty === 100)));
      return fills.every((f) => wsFills.includes(f.id)) && held;
    });
    ws.close();

    // Crash and restart on the same data directory: the same fills, once each, and the same position.
    await server.stop('SIGKILL');
    await server.restart();
    const loginAgain = await call('alice', 'GET', `/trading/accounts/${account.id}/fills`);
    expect(loginAgain.status).toBe(200);
    // Give the restored core the catch-up (the simulator regenerates the day so far) before comparing.
    await sleep(3_000);
    const after = (await call('alice', 'GET', `/trading/accounts/${account.id}/fills?limit=1000`)).body.items as Fill[];
    expect(after.map((f) => f.id).sort()).toEqual(fills.map((f) => f.id).sort());
    expect((await call('alice', 'GET', `/trading/accounts/${account.id}/positions`)).body.items.map((p: Position) => [p.symbol, p.qty])).toEqual([[symbol, 100]]);
    // The restored core still trades: a sell of the position fills and closes it.
    const sell = await call('alice', 'POST', `/trading/accounts/${account.id}/orders`, { clientOrderId: 'sell-1', symbol, side: 'sell', type: 'market', qty: 100 });
    expect([201, 202, 422], JSON.stringify(sell.body)).toContain(sell.status);
  }, 300_000);
});
