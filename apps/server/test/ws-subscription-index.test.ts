import { describe, expect, it } from 'vitest';
import type { BusMessage } from '../src/bus/types.ts';
import { SubscriptionIndex, type Subscriber } from '../src/ws/subscription-index.ts';

const msg = (channel: BusMessage['channel'], key: string) => ({ channel, key }) as BusMessage;
function sub(wants: (k: string) => boolean = () => true) {
  const got: string[] = [];
  const s: Subscriber & { got: string[] } = { got, deliver: (m) => got.push(`${m.channel}/${m.key}`), wantsWildcard: wants };
  return s;
}

describe('SubscriptionIndex', () => {
  it('routes by channel and exact key, and stops after removal', () => {
    const idx = new SubscriptionIndex<ReturnType<typeof sub>>();
    const a = sub();
    idx.setKey('market', 'VNM', a, true);
    idx.route(msg('market', 'VNM'));
    idx.route(msg('market', 'FPT'));
    idx.route(msg('foreign', 'VNM'));
    idx.setKey('market', 'VNM', a, false);
    idx.route(msg('market', 'VNM'));
    expect(a.got).toEqual(['market/VNM']);
  });

  it('delivers once to a subscriber that is both keyed and wildcard, and asks wildcard subscribers', () => {
    const idx = new SubscriptionIndex<ReturnType<typeof sub>>();
    const both = sub();
    const picky = sub((k) => k !== 'FPT');
    idx.setKey('market', 'VNM', both, true);
    idx.setWildcard('market', both, true);
    idx.setWildcard('market', picky, true);
    idx.route(msg('market', 'VNM'));
    idx.route(msg('market', 'FPT'));
    idx.setWildcard('market', picky, false);
    idx.route(msg('market', 'HPG'));
    expect(both.got).toEqual(['market/VNM', 'market/FPT', 'market/HPG']);
    expect(picky.got).toEqual(['market/VNM']);
  });
});
