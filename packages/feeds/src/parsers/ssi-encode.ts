/**
 * Normalized events -> SSI FastConnect streaming envelopes: the inverse of
 * ssi.ts, used to write SSI tapes from simulated days and by the fake vendor
 * server. SSI carries less than the normalized model (second resolution, no
 * trade ids, no index membership), so only events that fit are written:
 * anything else returns null.
 *
 * X-TRADE messages carry cumulative volume and the day's reference prices,
 * which a single event does not know; an SsiEncodeState carries them across
 * calls. Use one state per tape.
 */
import type { Level, MarketEvent, SymbolRef, TradeEvent } from '@stock-tracker/protocol';
import { epochToVendorDateTime } from './time.ts';
import { SSI_LEVELS, SSI_TIME_ZONE, type SsiDataType } from './ssi.ts';
import { codeOfSide, sessionOfPhase } from './ssi-codes.ts';

export interface SsiEncodeState {
  /** Last reference per symbol (Vietnamese symbols only). */
  refs: Map<string, SymbolRef>;
  /** Cumulative matched volume per symbol for its trading date. */
  totals: Map<string, { date: string; total: number }>;
}

export const createSsiEncodeState = (): SsiEncodeState => ({ refs: new Map(), totals: new Map() });

type Content = Record<string, string | number>;

const envelope = (dataType: SsiDataType, content: Content) =>
  JSON.stringify({ DataType: dataType, Content: JSON.stringify({ RType: dataType, ...content }) });

function stamp(ts: number): { date: string; head: Content } {
  const t = epochToVendorDateTime(ts, SSI_TIME_ZONE);
  return { date: t.date, head: { TradingDate: t.dmy, Time: t.time } };
}

function refFields(ref: SymbolRef | undefined): Content {
  if (!ref) return {};
  const c: Content = { Exchange: ref.exchange, MarketId: ref.exchange, RefPrice: ref.reference };
  if (ref.ceiling !== null) c['Ceiling'] = ref.ceiling;
  if (ref.floor !== null) c['Floor'] = ref.floor;
  return c;
}

function bookFields(side: 'Bid' | 'Ask', levels: Level[]): Content {
  const c: Content = {};
  levels.slice(0, SSI_LEVELS).forEach((l, i) => {
    c[`${side}Price${i + 1}`] = l.price;
    c[`${side}Vol${i + 1}`] = l.volume;
  });
  return c;
}

function trade(ev: TradeEvent, state: SsiEncodeState): string {
  const { date, head } = stamp(ev.ts);
  const prev = state.totals.get(ev.symbol);
  const total = (prev && prev.date === date ? prev.total : 0) + ev.volume;
  state.totals.set(ev.symbol, { date, total });
  const c: Content = {
    ...head,
    Symbol: ev.symbol,
    ...refFields(state.refs.get(ev.symbol)),
    LastPrice: ev.price,
    LastVol: ev.volume,
    TotalVol: total,
    Side: codeOfSide(ev.side),
  };
  if (ev.phase) c['TradingSession'] = sessionOfPhase(ev.phase);
  return envelope('X-TRADE', c);
}

/**
 * Encode one event as an SSI envelope line, or null when SSI cannot express
 * it (US reference data, bars other than 1m, quotes deeper than 10 levels are cut).
 */
export function encodeSsi(ev: MarketEvent, state: SsiEncodeState = createSsiEncodeState()): string | null {
  switch (ev.type) {
    case 'trade':
      return trade(ev, state);
    case 'reference': {
      if (ev.ref.market !== 'VN') return null;
      state.refs.set(ev.ref.symbol, ev.ref);
      // A match-less X-TRADE (LastVol 0) is how the stream announces the day's prices.
      const { head } = stamp(ev.ts);
      return envelope('X-TRADE', { ...head, Symbol: ev.ref.symbol, ...refFields(ev.ref), LastPrice: 0, LastVol: 0 });
    }
    case 'quote': {
      const { head } = stamp(ev.ts);
      return envelope('X-QUOTE', { ...head, Symbol: ev.symbol, ...bookFields('Bid', ev.bids), ...bookFields('Ask', ev.asks) });
    }
    case 'foreign': {
      const { head } = stamp(ev.ts);
      return envelope('R', {
        ...head,
        Symbol: ev.symbol,
        TotalRoom: ev.totalRoom,
        CurrentRoom: ev.currentRoom,
        BuyVol: ev.buyVolume,
        SellVol: ev.sellVolume,
        BuyVal: ev.buyValue,
        SellVal: ev.sellValue,
      });
    }
    case 'index': {
      const { head } = stamp(ev.ts);
      return envelope('MI', {
        ...head,
        IndexId: ev.index,
        IndexValue: ev.value,
        PriorIndexValue: ev.prevClose,
        Change: ev.value - ev.prevClose,
        TotalQtty: ev.volume,
        TotalValue: ev.valueTraded,
        Advances: ev.advances,
        Declines: ev.declines,
        NoChanges: ev.unchanged,
        Ceilings: ev.ceilings,
        Floors: ev.floors,
      });
    }
    case 'bar': {
      if (ev.interval !== '1m') return null;
      const { head } = stamp(ev.ts);
      const c: Content = { ...head, Symbol: ev.symbol, Open: ev.open, High: ev.high, Low: ev.low, Close: ev.close, Volume: ev.volume };
      if (ev.value !== undefined) c['Value'] = ev.value;
      return envelope('B', c);
    }
    case 'status': {
      const { head } = stamp(ev.ts);
      const c: Content = { ...head, TradingSession: sessionOfPhase(ev.phase), TradingStatus: ev.halted ? 'H' : 'N' };
      if (ev.symbol) c['Symbol'] = ev.symbol;
      if (ev.exchange) {
        c['Exchange'] = ev.exchange;
        c['MarketId'] = ev.exchange;
      }
      return envelope('F', c);
    }
  }
}
