/**
 * Which engine outputs become which streams (protocol/ws.ts "Keys per
 * channel"). reference/bar/session outputs are served by REST, not streamed.
 */
import { FOREIGN_TOP_KEY, alertsKey, tradesKey, type EngineOutput } from '@stock-tracker/protocol';
import type { BusMessage, StreamPublisher } from './types.ts';

export function publishEngineOutput(pub: StreamPublisher, out: EngineOutput): BusMessage | null {
  switch (out.type) {
    case 'quote':
      return pub.publish('market', out.state.symbol, 'state', out.state);
    case 'trade':
      return pub.publish('market', tradesKey(out.trade.symbol), 'event', out.trade);
    case 'foreign':
      return pub.publish('foreign', out.state.symbol, 'state', out.state);
    case 'foreign_top':
      return pub.publish('foreign', FOREIGN_TOP_KEY, 'state', out.top);
    case 'index':
      return pub.publish('index', out.state.id, 'state', out.state);
    case 'alert':
      return pub.publish('alerts', alertsKey(out.alert.userId), 'event', out.alert);
    case 'reference':
    case 'bar':
    case 'session':
      return null;
    default:
      return null; // an output type added later is not streamed until mapped here
  }
}
