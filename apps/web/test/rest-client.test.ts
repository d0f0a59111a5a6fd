import fc from 'fast-check';
import { ENDPOINTS } from '@stock-tracker/protocol';
import { ApiError, buildPath, parseEndpoint, RestClient, type EndpointName } from '@stock-tracker/client';

interface Seen {
  url: string;
  method: string;
  headers: Record<string, string>;
  body?: string;
}
function fakeFetch(respond: (req: Seen) => Response | Promise<Response>) {
  const seen: Seen[] = [];
  const f = (async (url: string, init: RequestInit = {}) => {
    const req = { url, method: init.method ?? 'GET', headers: init.headers as Record<string, string>, body: init.body as string | undefined };
    seen.push(req);
    return respond(req);
  }) as unknown as typeof fetch;
  return { f, seen };
}
const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });

describe('REST client', () => {
  it('derives method and path of every endpoint from ENDPOINTS', () => {
    for (const name of Object.keys(ENDPOINTS) as EndpointName[]) {
      const { method, path } = parseEndpoint(name);
      expect(`${method} ${path}`).toBe(ENDPOINTS[name]);
      expect(['GET', 'POST', 'PATCH', 'DELETE']).toContain(method);
    }
  });

  it('fills and encodes path parameters and skips empty query values', () => {
    expect(buildPath('/bars/:symbol', { symbol: 'VNM' }, { interval: '5m', limit: 50, from: undefined, to: '' })).toBe('/bars/VNM?interval=5m&limit=50');
    expect(buildPath('/alerts/rules/:id', { id: 'a/b c' })).toBe('/alerts/rules/a%2Fb%20c');
    expect(() => buildPath('/quotes/:symbol', {})).toThrow(/symbol/);
  });

  it('never lets a parameter escape its path segment', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 30 }), (id) => {
        const p = buildPath('/watchlists/:id', { id });
        expect(p.split('/').length).toBe(3);
        expect(decodeURIComponent(p.slice('/watchlists/'.length))).toBe(id);
      }),
    );
  });

  it('calls the endpoints with method, JSON body, auth header and base URL', async () => {
    const { f, seen } = fakeFetch((req) =>
      req.method === 'DELETE' ? new Response(null, { status: 204 }) : json(req.method === 'POST' ? 201 : 200, { id: 'r1', items: [] }),
    );
    const api = new RestClient({ baseUrl: 'http://h/api/', fetch: f, token: async () => 'tok' });
    await api.bars('VNM', { interval: '1h', limit: 10 });
    await api.createAlertRule({ symbol: 'VNM', kind: 'price_above', threshold: 65_300 });
    const del = await api.deleteWatchlist('w1');
    await api.quotes({ symbols: 'VNM,FPT' }, { requestId: 'abc' });
    expect(seen.map((s) => `${s.method} ${s.url}`)).toEqual([
      'GET http://h/api/bars/VNM?interval=1h&limit=10',
      'POST http://h/api/alerts/rules',
      'DELETE http://h/api/watchlists/w1',
      'GET http://h/api/quotes?symbols=VNM%2CFPT',
    ]);
    expect(JSON.parse(seen[1]!.body!)).toEqual({ symbol: 'VNM', kind: 'price_above', threshold: 65_300 });
    expect(seen[1]!.headers['content-type']).toBe('application/json');
    expect(seen[0]!.headers['content-type']).toBeUndefined();
    expect(seen.every((s) => s.headers.authorization === 'Bearer tok')).toBe(true);
    expect(seen[3]!.headers['x-request-id']).toBe('abc');
    expect(del).toBeUndefined();
  });

  it('turns the error contract into an ApiError with code, request id and details', async () => {
    const { f } = fakeFetch(() =>
      json(400, { code: 'VALIDATION_FAILED', message: 'bad limit', request_id: 'r-9', details: [{ path: '/limit', issue: 'must be <= 1000' }] }),
    );
    const err = await new RestClient({ fetch: f }).trades('VNM', { limit: 5000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 400, code: 'VALIDATION_FAILED', message: 'bad limit', requestId: 'r-9', details: [{ path: '/limit', issue: 'must be <= 1000' }] });
  });

  it('maps a non-JSON error page (proxy) to the catalogue code of its status and keeps the header request id', async () => {
    const { f } = fakeFetch(() => new Response('<html>Bad Gateway</html>', { status: 502, headers: { 'x-request-id': 'edge-1' } }));
    const err = (await new RestClient({ fetch: f }).indices().catch((e: unknown) => e)) as ApiError;
    expect(err.code).toBe('BAD_GATEWAY');
    expect(err.requestId).toBe('edge-1');
  });

  it('reports network failures as status 0 and passes aborts through', async () => {
    const down = new RestClient({ fetch: (async () => { throw new TypeError('fetch failed'); }) as unknown as typeof fetch });
    await expect(down.indices()).rejects.toMatchObject({ status: 0, code: 'NETWORK_ERROR' });
    const abort = new RestClient({ fetch: (async () => { throw new DOMException('aborted', 'AbortError'); }) as unknown as typeof fetch });
    await expect(abort.indices()).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('rejects a 200 whose body is not JSON instead of returning garbage', async () => {
    const { f } = fakeFetch(() => new Response('<html>', { status: 200 }));
    await expect(new RestClient({ fetch: f }).indices()).rejects.toMatchObject({ code: 'MALFORMED_JSON' });
  });
});
