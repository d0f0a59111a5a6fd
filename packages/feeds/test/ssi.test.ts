import { createParseContext, parseLine, type ParseContext } from '@stock-tracker/feeds';
import type { MarketEvent } from '@stock-tracker/protocol';

// Sample messages written from the FastConnect v2 field lists (reference/market-data.md).
const vn = (date: string, time: string) => Date.parse(`${date}T${time}+07:00`);

const xTradeContent = (over: Record<string, unknown> = {}) => ({
  RType: 'X-TRADE',
  TradingDate: '15/01/2024',
  Time: '09:20:03',
  Isin: 'VN000000SSI1',
  Symbol: 'SSI',
  Ceiling: 36150,
  Floor: 31450,
  RefPrice: 33800,
  AvgPrice: 33850,
  PriorVal: 0,
  LastPrice: 33900,
  LastVol: 1500,
  TotalVal: 50850000,
  TotalVol: 1500,
  MarketId: 'HOSE',
  Exchange: 'HOSE',
  TradingSession: 'LO',
  TradingStatus: 'N',
  Change: 100,
  RatioChange: 0.3,
  EstMatchedPrice: 0,
  Highest: 33900,
  Lowest: 33900,
  Side: 'BU',
  ...over,
});
const envelope = (dataType: string, content: object) => JSON.stringify({ DataType: dataType, Content: JSON.stringify(content) });

function parseOk(line: string, ctx: ParseContext): MarketEvent[] {
  const r = parseLine(line, 'auto', ctx);
  expect(r.error).toBeUndefined();
  expect(r.format).toBe('ssi');
  return r.events;
}

describe('SSI X-TRADE', () => {
  it('maps a match to a reference (first sighting) and a trade', () => {
    const ctx = createParseContext();
    const evs = parseOk(envelope('X-TRADE', xTradeContent()), ctx);
    const ts = vn('2024-01-15', '09:20:03');
    expect(evs).toEqual([
      {
        type: 'reference',
        ts,
        ref: {
          symbol: 'SSI',
          exchange: 'HOSE',
          market: 'VN',
          tradingDate: '2024-01-15',
          reference: 33800,
          ceiling: 36150,
          floor: 31450,
          lotSize: 100,
          indices: [],
          sharesOutstanding: 0,
        },
      },
      { type: 'trade', ts, symbol: 'SSI', id: 'SSI:20240115:1500', price: 33900, volume: 1500, side: 'buy', phase: 'continuous' },
    ]);
  });

  it('does not repeat a trade when the vendor resends the same cumulative volume', () => {
    const ctx = createParseContext();
    const line = envelope('X-TRADE', xTradeContent());
    expect(parseOk(line, ctx)).toHaveLength(2);
    expect(parseOk(line, ctx)).toEqual([]);
    const next = parseOk(envelope('X-TRADE', xTradeContent({ Time: '09:20:05', LastPrice: 33850, LastVol: 500, TotalVol: 2000, Side: 'SD' })), ctx);
    expect(next).toEqual([
      { type: 'trade', ts: vn('2024-01-15', '09:20:05'), symbol: 'SSI', id: 'SSI:20240115:2000', price: 33850, volume: 500, side: 'sell', phase: 'continuous' },
    ]);
    // An older snapshot arriving late (TotalVol went backwards) is not a trade either.
    expect(parseOk(envelope('X-TRADE', xTradeContent({ Time: '09:20:06', TotalVol: 1800, LastVol: 300 })), ctx)).toEqual([]);
  });

  it('matches keys case-insensitively, takes Content as an object and numbers as strings', () => {
    const ctx = createParseContext();
    const line = JSON.stringify({
      Datatype: 'x-trade',
      content: {
        rtype: 'X-TRADE',
        tradingdate: '15/01/2024',
        TIME: '09:20:03',
        symbol: 'SSI',
        ceiling: '36150',
        FLOOR: '31450',
        refprice: '33800',
        lastPrice: '33900',
        LASTVOL: '1500',
        totalvol: '1500',
        exchange: 'hose',
        tradingSession: 'LO',
        side: 'BU',
      },
    });
    const reference = parseOk(envelope('X-TRADE', xTradeContent()), createParseContext());
    expect(parseOk(line, ctx)).toEqual(reference);
  });

  it('announces the reference again only when it changes (new day)', () => {
    const ctx = createParseContext();
    parseOk(envelope('X-TRADE', xTradeContent()), ctx);
    const nextDay = parseOk(
      envelope('X-TRADE', xTradeContent({ TradingDate: '16/01/2024', RefPrice: 34000, Ceiling: 36350, Floor: 31650, TotalVol: 100, LastVol: 100 })),
      ctx,
    );
    expect(nextDay.map((e) => e.type)).toEqual(['reference', 'trade']);
    expect(nextDay[0]).toMatchObject({ ref: { tradingDate: '2024-01-16', reference: 34000, ceiling: 36350, floor: 31650 } });
    // Cumulative volume restarts with the day: TotalVol 100 < yesterday's 1500 is still a new trade.
    expect(nextDay[1]).toMatchObject({ id: 'SSI:20240116:100', volume: 100 });
  });

  it('maps auction sessions to phases and leaves an unknown side out', () => {
    const ctx = createParseContext();
    const evs = parseOk(envelope('X-TRADE', xTradeContent({ Time: '09:15:00', TradingSession: 'ATO', Side: '' })), ctx);
    const trade = evs.find((e) => e.type === 'trade')!;
    expect(trade).toMatchObject({ phase: 'ato' });
    expect(trade).not.toHaveProperty('side');
    const atc = parseOk(envelope('X-TRADE', xTradeContent({ Time: '14:45:00', TradingSession: 'ATC', Side: 'XX', TotalVol: 9000 })), ctx);
    expect(atc[0]).toMatchObject({ type: 'trade', phase: 'atc' });
    expect(atc[0]).not.toHaveProperty('side');
  });

  it('yields reference data only before the first match (zero price and volume)', () => {
    const evs = parseOk(envelope('X-TRADE', xTradeContent({ LastPrice: 0, LastVol: 0, TotalVol: 0 })), createParseContext());
    expect(evs.map((e) => e.type)).toEqual(['reference']);
  });

  it('derives ceiling and floor from the exchange rules when the message omits them', () => {
    const c = xTradeContent();
    delete (c as Record<string, unknown>)['Ceiling'];
    delete (c as Record<string, unknown>)['Floor'];
    const [ref] = parseOk(envelope('X-TRADE', c), createParseContext());
    // HOSE ±7% of 33,800 = 36,166 / 31,434, pulled inside the band onto the 50 VND grid.
    expect(ref).toMatchObject({ type: 'reference', ref: { ceiling: 36150, floor: 31450 } });
  });
});

describe('SSI X-QUOTE and X', () => {
  it('maps the book, keeping only levels with a price', () => {
    const content = {
      RType: 'X-QUOTE',
      TradingDate: '15/01/2024',
      Time: '10:01:02',
      Exchange: 'HOSE',
      Symbol: 'SSI',
      TradingSession: 'LO',
      BidPrice1: 33850, BidVol1: 12000, BidPrice2: 33800, BidVol2: 5000, BidPrice3: '33750', BidVol3: '700',
      AskPrice1: 33900, AskVol1: 3000, AskPrice2: 33950, AskVol2: 1000, AskPrice3: 0, AskVol3: 0,
      BidPrice4: 0, BidVol4: 0, AskPrice4: 0, AskVol4: 0,
    };
    const evs = parseOk(envelope('X-QUOTE', content), createParseContext());
    expect(evs).toEqual([
      {
        type: 'quote',
        ts: vn('2024-01-15', '10:01:02'),
        symbol: 'SSI',
        bids: [
          { price: 33850, volume: 12000 },
          { price: 33800, volume: 5000 },
          { price: 33750, volume: 700 },
        ],
        asks: [
          { price: 33900, volume: 3000 },
          { price: 33950, volume: 1000 },
        ],
      },
    ]);
  });

  it('reads 10 levels (HNX) and skips auction market orders shown as text', () => {
    const content: Record<string, unknown> = { RType: 'X-QUOTE', TradingDate: '15/01/2024', Time: '14:31:00', Exchange: 'HNX', Symbol: 'SHS' };
    for (let i = 1; i <= 10; i++) {
      content[`BidPrice${i}`] = 20000 - i * 100;
      content[`BidVol${i}`] = i * 100;
      content[`AskPrice${i}`] = 20000 + i * 100;
      content[`AskVol${i}`] = i * 200;
    }
    content['BidPrice1'] = 'ATC';
    const [q] = parseOk(envelope('X-QUOTE', content), createParseContext());
    if (q?.type !== 'quote') throw new Error('expected a quote');
    expect(q.bids).toHaveLength(9);
    expect(q.bids[0]).toEqual({ price: 19800, volume: 200 });
    expect(q.asks).toHaveLength(10);
    expect(q.asks[9]).toEqual({ price: 21000, volume: 2000 });
  });

  it('turns an X snapshot into reference + quote but never a trade', () => {
    const ctx = createParseContext();
    const content = {
      ...xTradeContent({ RType: 'X' }),
      Open: 33700, High: 34000, Low: 33600, Close: 33900,
      BidPrice1: 33850, BidVol1: 100, AskPrice1: 33900, AskVol1: 200,
    };
    const evs = parseOk(envelope('X', content), ctx);
    expect(evs.map((e) => e.type)).toEqual(['reference', 'quote']);
    expect(evs[1]).toMatchObject({ bids: [{ price: 33850, volume: 100 }], asks: [{ price: 33900, volume: 200 }] });
    // The X snapshot did not consume the match: the X-TRADE for it is still a trade.
    expect(parseOk(envelope('X-TRADE', xTradeContent()), ctx).map((e) => e.type)).toEqual(['trade']);
  });
});

describe('SSI R, MI, B, F', () => {
  const ts = vn('2024-01-15', '10:30:00');

  it('R: foreign flows under both field namings', () => {
    const a = { RType: 'R', TradingDate: '15/01/2024', Time: '10:30:00', Symbol: 'SSI', TotalRoom: 1500000000, CurrentRoom: '420000000', BuyVol: 250000, SellVol: '100000', BuyVal: 8475000000, SellVal: 3390000000, MarketId: 'HOSE' };
    const b = { RType: 'R', TradingDate: '15/01/2024', Time: '10:30:00', Symbol: 'SSI', TotalRoom: '1500000000', CurrentRoom: 420000000, FBuyVol: '250000', FSellVol: 100000, FBuyVal: 8475000000, FSellVal: '3390000000' };
    const expected = [
      { type: 'foreign', ts, symbol: 'SSI', buyVolume: 250000, sellVolume: 100000, buyValue: 8475000000, sellValue: 3390000000, totalRoom: 1500000000, currentRoom: 420000000 },
    ];
    expect(parseOk(envelope('R', a), createParseContext())).toEqual(expected);
    expect(parseOk(envelope('R', b), createParseContext())).toEqual(expected);
  });

  it('MI: index values (IndexId and IndexID spellings)', () => {
    const mi = { RType: 'MI', TradingDate: '15/01/2024', Time: '10:30:00', IndexID: 'VN30', IndexValue: '1234.56', PriorIndexValue: 1230.1, Change: 4.46, RatioChange: 0.36, TotalTrade: 52000, TotalQtty: '98000000', TotalValue: 2.1e12, Advances: 18, NoChanges: 4, Declines: 8, Ceilings: 1, Floors: 0, TradingSession: 'LO', Exchange: 'HOSE' };
    const expected = [
      { type: 'index', ts, index: 'VN30', value: 1234.56, prevClose: 1230.1, volume: 98000000, valueTraded: 2.1e12, advances: 18, declines: 8, unchanged: 4, ceilings: 1, floors: 0 },
    ];
    expect(parseOk(envelope('MI', mi), createParseContext())).toEqual(expected);
    const { IndexID, ...rest } = mi;
    expect(parseOk(envelope('MI', { ...rest, IndexId: IndexID }), createParseContext())).toEqual(expected);
  });

  it('B: a 1-minute bar starting on the minute', () => {
    const b = { RType: 'B', TradingDate: '15/01/2024', TradingTime: '10:30:41', Symbol: 'SSI', Open: 33900, High: '34000', Low: 33850, Close: 33950, Volume: 4500, Value: 152775000 };
    expect(parseOk(envelope('B', b), createParseContext())).toEqual([
      { type: 'bar', ts, symbol: 'SSI', interval: '1m', open: 33900, high: 34000, low: 33850, close: 33950, volume: 4500, value: 152775000 },
    ]);
  });

  it('B without a date uses the last trading date seen on the stream', () => {
    const ctx = createParseContext();
    parseOk(envelope('X-TRADE', xTradeContent()), ctx);
    const [bar] = parseOk(envelope('B', { RType: 'B', Time: '10:30:59', Symbol: 'SSI', Open: 1, High: 1, Low: 1, Close: 1, Volume: 0 }), ctx);
    expect(bar).toMatchObject({ ts });
  });

  it('F: session changes and halts, per symbol or exchange-wide', () => {
    const halted = { RType: 'F', MarketId: 'HOSE', TradingDate: '15/01/2024', Time: '10:30:00', Symbol: 'SSI', TradingSession: 'LO', TradingStatus: 'H', Exchange: 'HOSE' };
    expect(parseOk(envelope('F', halted), createParseContext())).toEqual([
      { type: 'status', ts, exchange: 'HOSE', symbol: 'SSI', phase: 'continuous', halted: true },
    ]);
    const lunch = { RType: 'F', MarketId: 'HNX', TradingDate: '15/01/2024', Time: '11:30:00', TradingSession: 'Break', TradingStatus: 'N' };
    expect(parseOk(envelope('F', lunch), createParseContext())).toEqual([
      { type: 'status', ts: vn('2024-01-15', '11:30:00'), exchange: 'HNX', phase: 'lunch_break', halted: false },
    ]);
    // An unknown session code falls back to the exchange schedule (HOSE 14:35 is ATC).
    const unknown = { ...lunch, MarketId: 'HOSE', Time: '14:35:00', TradingSession: 'ZZ' };
    expect(parseOk(envelope('F', unknown), createParseContext())[0]).toMatchObject({ phase: 'atc', halted: false });
  });

  it('unwraps a SignalR hub frame carrying envelopes', () => {
    const env = envelope('X-TRADE', xTradeContent());
    const frame = JSON.stringify({ H: 'FcMarketDataV2Hub', M: 'Broadcast', A: [env] });
    expect(parseOk(frame, createParseContext())).toEqual(parseOk(env, createParseContext()));
  });
});

describe('SSI malformed input', () => {
  const kindOf = (line: string) => parseLine(line, 'ssi', createParseContext()).error?.kind;

  it('reports a kind for each problem and never throws', () => {
    expect(kindOf(envelope('OL', { Symbol: 'SSI' }))).toBe('unknown_datatype');
    expect(kindOf(envelope('X-TRADE', xTradeContent({ Symbol: '' })))).toBe('missing_field');
    expect(kindOf(envelope('X-TRADE', xTradeContent({ LastVol: -100 })))).toBe('invalid_value');
    expect(kindOf(envelope('X-TRADE', xTradeContent({ LastPrice: 'NaN' })))).toBe('invalid_value');
    expect(kindOf(envelope('X-TRADE', xTradeContent({ LastPrice: { v: 1 } })))).toBe('invalid_value');
    expect(kindOf(envelope('X-TRADE', xTradeContent({ TradingDate: '31/02/2024' })))).toBe('invalid_time');
    expect(kindOf(envelope('X-TRADE', xTradeContent({ Time: '25:00:00' })))).toBe('invalid_time');
    expect(kindOf(envelope('R', { RType: 'R', TradingDate: '15/01/2024', Time: '10:00:00', Symbol: 'SSI', SellVol: 1 }))).toBe('missing_field');
    expect(kindOf(JSON.stringify({ DataType: 'X-TRADE', Content: '{"Symbol":"SSI","LastPri' }))).toBe('not_json');
    expect(kindOf(JSON.stringify({ DataType: 'X-TRADE', Content: 42 }))).toBe('invalid_value');
    expect(kindOf(envelope('X-TRADE', xTradeContent({ Symbol: 'BAD SYMBOL!' })))).toBe('invalid_event');
    expect(kindOf('{"DataType":"X-TRADE","Content":"{}"')).toBe('not_json');
  });
});
