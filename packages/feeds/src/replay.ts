/**
 * Tapes on disk: `readTape` streams a file line by line into normalized
 * events (any format, malformed lines reported and skipped), and
 * `ReplayFeed` plays one as a Feed, either as fast as possible or paced by
 * the events' own timestamps through an injected Clock.
 */
import { open, stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { MarketEvent } from '@stock-tracker/protocol';
import type { Clock, Feed, FeedStatus } from './feed.ts';
import { systemClock } from './feed.ts';
import { createParseContext, parseLine, TAPE_FORMATS, type FormatOption, type ParseContext, type ParseErrorKind, type TapeFormat } from './parsers/index.ts';

export interface MalformedLine {
  /** 1-based line number in the file. */
  line: number;
  kind: ParseErrorKind;
  message: string;
}

/** Counters a reader fills in as it goes (pass one in to read them during or after the run). */
export interface TapeStats {
  /** Lines read, blank ones included. */
  lines: number;
  /** Lines recognised per format (a partly malformed Alpaca frame counts here too). */
  formats: Record<TapeFormat, number>;
  events: number;
  malformed: number;
  byKind: Partial<Record<ParseErrorKind, number>>;
}

export const createTapeStats = (): TapeStats => ({
  lines: 0,
  formats: Object.fromEntries(TAPE_FORMATS.map((f) => [f, 0])) as Record<TapeFormat, number>,
  events: 0,
  malformed: 0,
  byKind: {},
});

export interface ReadTapeOptions {
  format?: FormatOption;
  /** Called once per malformed line; the line is skipped either way. */
  onMalformed?: (m: MalformedLine) => void;
  stats?: TapeStats;
  /** Parser state; a fresh one per call by default. */
  ctx?: ParseContext;
}

/** Thrown (before any event) when the tape cannot be opened: missing, a directory, unreadable. */
export class TapeOpenError extends Error {
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`cannot read tape ${path}: ${reason}`);
    this.name = 'TapeOpenError';
  }
}

async function openTape(path: string) {
  try {
    const st = await stat(path);
    if (st.isDirectory()) throw new TapeOpenError(path, 'is a directory');
    return await open(path, 'r');
  } catch (e) {
    if (e instanceof TapeOpenError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (e as Error).message;
    throw new TapeOpenError(path, reason);
  }
}

/**
 * Stream a tape file as events. Memory stays flat for any file size (one line
 * at a time); CRLF line ends and a missing final newline are fine.
 */
export async function* readTape(path: string, opts: ReadTapeOptions = {}): AsyncGenerator<MarketEvent> {
  const format = opts.format ?? 'auto';
  const stats = opts.stats ?? createTapeStats();
  const ctx = opts.ctx ?? createParseContext();
  const fh = await openTape(path);
  const rl = createInterface({ input: fh.createReadStream({ encoding: 'utf8' }), crlfDelay: Infinity });
  try {
    for await (const text of rl) {
      stats.lines += 1;
      const r = parseLine(text, format, ctx);
      if (r.format && (!r.error || r.events.length > 0)) stats.formats[r.format] += 1;
      if (r.error) {
        stats.malformed += 1;
        stats.byKind[r.error.kind] = (stats.byKind[r.error.kind] ?? 0) + 1;
        opts.onMalformed?.({ line: stats.lines, kind: r.error.kind, message: r.error.message });
      }
      for (const ev of r.events) {
        stats.events += 1;
        yield ev;
      }
    }
  } finally {
    rl.close();
    await fh.close().catch(() => undefined);
  }
}

export interface ReplayFeedOptions {
  path: string;
  format?: FormatOption;
  /** Events per second of tape time: 1 = real time, 10 = ten times faster, 'max' = no pacing. */
  speed?: number | 'max';
  clock?: Clock;
  /** Pacing granularity (how often due events are released), ms of clock time. */
  tickMs?: number;
  /** Quiet stretches of the tape longer than this (lunch, overnight) are cut to it, in tape ms. */
  maxGapMs?: number;
  /** Events read ahead of the pacing point. */
  bufferSize?: number;
  name?: string;
  onMalformed?: (m: MalformedLine) => void;
}

/** A Feed that plays a tape file once. `finished` resolves when the last event was delivered. */
export class ReplayFeed implements Feed {
  readonly name: string;
  readonly finished: Promise<void>;
  private readonly opts: ReplayFeedOptions & { speed: number | 'max'; clock: Clock; tickMs: number; bufferSize: number };
  private readonly stats = createTapeStats();
  private resolveFinished!: () => void;
  private rejectFinished!: (e: unknown) => void;
  private running = false;
  private stopped = false;
  private lastEventTs: number | null = null;
  private delivered = 0;
  private sinkErrors = 0;
  private it: AsyncGenerator<MarketEvent> | null = null;
  private timer: unknown = null;
  // Paced mode: read-ahead buffer and the mapping tape time -> clock time.
  private buffer: MarketEvent[] = [];
  private head = 0;
  private eof = false;
  private spaceWaiter: (() => void) | null = null;
  private origin: { clock: number; tape: number } | null = null;
  /** Tape ms removed so far by maxGapMs. */
  private skipped = 0;
  private prevTs: number | null = null;
  /** Gap-adjusted tape time of the event at `head`, computed once (gap cutting is stateful). */
  private pendingTapeTime: number | null = null;

  constructor(opts: ReplayFeedOptions) {
    if (typeof opts.speed === 'number' && !(opts.speed > 0 && Number.isFinite(opts.speed))) {
      throw new RangeError(`speed must be a positive number or 'max' (got ${opts.speed})`);
    }
    this.name = opts.name ?? `replay:${opts.path}`;
    this.opts = { speed: 'max', clock: systemClock, tickMs: 20, bufferSize: 10_000, ...opts };
    this.finished = new Promise<void>((res, rej) => {
      this.resolveFinished = res;
      this.rejectFinished = rej;
    });
    // Callers that never await `finished` must not see an unhandled rejection.
    this.finished.catch(() => undefined);
  }

  async start(sink: (ev: MarketEvent) => void): Promise<void> {
    if (this.running || this.stopped) throw new Error(`${this.name}: already started`);
    const it = readTape(this.opts.path, {
      format: this.opts.format ?? 'auto',
      stats: this.stats,
      onMalformed: this.opts.onMalformed,
    });
    this.it = it;
    const paced = this.opts.speed !== 'max';
    // The first pull opens the file, so a missing tape rejects start() itself.
    let first: IteratorResult<MarketEvent>;
    try {
      first = await it.next();
      if (paced) {
        if (first.done) this.eof = true;
        else this.buffer.push(first.value);
        // Read ahead before pacing starts: a tape that fits the buffer is fully loaded when start() resolves.
        await this.fillUntilFull();
      }
    } catch (e) {
      this.rejectFinished(e);
      throw e;
    }
    this.running = true;
    if (!paced) {
      void this.pumpMax(first, sink);
    } else {
      void this.fill();
      this.timer = this.opts.clock.setInterval(() => this.release(sink), this.opts.tickMs);
      this.release(sink);
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.finish();
    await this.it?.return(undefined);
  }

  status(): FeedStatus {
    return {
      name: this.name,
      connected: this.running,
      lastEventTs: this.lastEventTs,
      events: this.delivered,
      malformed: this.stats.malformed,
      errors: { ...(this.stats.byKind as Record<string, number>), ...(this.sinkErrors > 0 ? { sink: this.sinkErrors } : {}) },
    };
  }

  /** Reader counters (lines, formats, malformed by kind). */
  tapeStats(): TapeStats {
    return structuredClone(this.stats);
  }

  private deliver(ev: MarketEvent, sink: (ev: MarketEvent) => void) {
    this.delivered += 1;
    this.lastEventTs = ev.ts;
    // A failing consumer must not stop the tape (same policy as the simulator feed): count and go on.
    try {
      sink(ev);
    } catch {
      this.sinkErrors += 1;
    }
  }

  private finish() {
    if (this.timer !== null) this.opts.clock.clearInterval(this.timer);
    this.timer = null;
    this.running = false;
    this.spaceWaiter?.();
    this.resolveFinished();
  }

  private async pumpMax(first: IteratorResult<MarketEvent>, sink: (ev: MarketEvent) => void) {
    try {
      let r = first;
      while (!r.done && !this.stopped) {
        this.deliver(r.value, sink);
        r = await this.it!.next();
      }
      this.finish();
    } catch (e) {
      this.running = false;
      this.rejectFinished(e);
    }
  }

  private async fillUntilFull() {
    while (!this.eof && this.buffer.length - this.head < this.opts.bufferSize) {
      const r = await this.it!.next();
      if (r.done) this.eof = true;
      else this.buffer.push(r.value);
    }
  }

  /** Keeps the read-ahead buffer topped up without holding the whole tape in memory. */
  private async fill() {
    try {
      while (!this.stopped && !this.eof) {
        if (this.buffer.length - this.head >= this.opts.bufferSize) {
          await new Promise<void>((res) => (this.spaceWaiter = res));
          this.spaceWaiter = null;
          continue;
        }
        const r = await this.it!.next();
        if (r.done) this.eof = true;
        else this.buffer.push(r.value);
      }
    } catch (e) {
      this.stopped = true;
      this.finish();
      this.rejectFinished(e);
    }
  }

  /** Tape time of an event after cutting long gaps. */
  private tapeTime(ts: number): number {
    const gap = this.opts.maxGapMs;
    if (gap !== undefined && this.prevTs !== null && ts - this.prevTs > gap) this.skipped += ts - this.prevTs - gap;
    this.prevTs = this.prevTs === null ? ts : Math.max(this.prevTs, ts);
    return ts - this.skipped;
  }

  /** Delivers every buffered event whose (scaled) tape time has come, in file order. */
  private release(sink: (ev: MarketEvent) => void) {
    if (this.stopped) return;
    const speed = this.opts.speed as number;
    const now = this.opts.clock.now();
    while (this.head < this.buffer.length) {
      const ev = this.buffer[this.head]!;
      const t = this.pendingTapeTime ?? (this.pendingTapeTime = this.tapeTime(ev.ts));
      this.origin ??= { clock: now, tape: t };
      const dueAt = this.origin.clock + (t - this.origin.tape) / speed;
      if (dueAt > now) break;
      this.pendingTapeTime = null;
      this.head += 1;
      this.deliver(ev, sink);
    }
    // Drop delivered events from the buffer in chunks (shift() per event is O(n)).
    if (this.head > 4096 && this.head * 2 > this.buffer.length) {
      this.buffer = this.buffer.slice(this.head);
      this.head = 0;
    }
    if (this.buffer.length - this.head < this.opts.bufferSize) this.spaceWaiter?.();
    if (this.eof && this.head >= this.buffer.length) this.finish();
  }
}
