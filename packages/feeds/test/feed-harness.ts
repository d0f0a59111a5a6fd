/** A vendor feed started against its fake server, shared by the live-feed tests (alpaca, ssi). */
import type { MarketEvent } from '@stock-tracker/protocol';
import type { Feed, FeedLogger } from '../src/index.ts';

export interface Harness<Fake, F extends Feed> {
  fake: Fake;
  /** Replaceable: afterEach stops whichever feed is here then. */
  feed: F;
  events: MarketEvent[];
  /** warn and error lines the feed logged. */
  warnings: string[];
}

export function recordingLogger(warnings: string[]): FeedLogger {
  const push = (o: object | string, msg?: string) => warnings.push(msg ?? (typeof o === 'string' ? o : JSON.stringify(o)));
  return { info: () => {}, debug: () => {}, warn: push, error: push };
}

/** Tracks the harnesses a test file starts; `stopAll()` (in afterEach) stops each feed, then its fake. */
export function harnesses() {
  let running: Harness<{ close(): Promise<void> }, Feed>[] = [];
  return {
    /** Builds the feed with a recording logger and, when `start`, starts it collecting events. */
    async open<Fake extends { close(): Promise<void> }, F extends Feed>(fake: Fake, makeFeed: (log: FeedLogger) => F, start: boolean): Promise<Harness<Fake, F>> {
      const warnings: string[] = [];
      const feed = makeFeed(recordingLogger(warnings));
      const h: Harness<Fake, F> = { fake, feed, events: [], warnings };
      running.push(h);
      if (start) await feed.start((ev) => h.events.push(ev));
      return h;
    },
    async stopAll(): Promise<void> {
      for (const h of running) {
        await h.feed.stop();
        await h.fake.close();
      }
      running = [];
    },
  };
}
