/**
 * Normalized tapes: one `MarketEvent` per line as JSON (NDJSON). Keys are
 * written in the order the protocol schema declares them (unknown keys after,
 * sorted), whatever order the object was built in, so the same events always
 * give byte-identical tapes.
 */
import type { Writable } from 'node:stream';
import type { TSchema } from '@sinclair/typebox';
import { MarketEvent } from '@stock-tracker/protocol';

type Encoder = (v: unknown) => string;

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** JSON with object keys sorted at every level (for values no schema describes). */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map((x) => (x === undefined ? 'null' : canonical(x))).join(',')}]`;
  if (isPlainObject(v)) {
    const parts: string[] = [];
    for (const k of Object.keys(v).sort()) if (v[k] !== undefined) parts.push(`${JSON.stringify(k)}:${canonical(v[k])}`);
    return `{${parts.join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

function compile(schema: TSchema): Encoder {
  if (schema.type === 'object' && isPlainObject(schema.properties)) {
    const props = schema.properties as Record<string, TSchema>;
    const keys = Object.keys(props);
    const known = new Set(keys);
    const heads = keys.map((k) => `${JSON.stringify(k)}:`);
    const subs = keys.map((k) => compile(props[k]!));
    return (v) => {
      if (!isPlainObject(v)) return canonical(v);
      let s = '';
      for (let i = 0; i < keys.length; i++) {
        const x = v[keys[i]!];
        if (x === undefined) continue;
        s += (s ? ',' : '') + heads[i] + subs[i]!(x);
      }
      for (const k of Object.keys(v).filter((k) => !known.has(k)).sort()) {
        if (v[k] !== undefined) s += (s ? ',' : '') + `${JSON.stringify(k)}:${canonical(v[k])}`;
      }
      return `{${s}}`;
    };
  }
  if (schema.type === 'array' && schema.items && !Array.isArray(schema.items)) {
    const item = compile(schema.items as TSchema);
    return (v) => (Array.isArray(v) ? `[${v.map((x) => (x === undefined ? 'null' : item(x))).join(',')}]` : canonical(v));
  }
  return canonical;
}

const BY_TYPE = new Map<string, Encoder>();
for (const variant of MarketEvent.anyOf as TSchema[]) {
  const type = (variant.properties as Record<string, TSchema>).type!.const as string;
  BY_TYPE.set(type, compile(variant));
}

/** One tape line (without the newline) for an event, with a stable key order. */
export function encodeEvent(ev: MarketEvent): string {
  const enc = isPlainObject(ev) ? BY_TYPE.get(ev.type as string) : undefined;
  return enc ? enc(ev) : canonical(ev);
}

/**
 * Writes events to a Node writable stream as a normalized tape. Lines are
 * batched into chunks; `write` returns false when the stream asked to slow
 * down, and `drain()` waits until it is ready again.
 */
export class TapeWriter {
  private buf = '';
  private blocked = false;
  private failed: Error | null = null;
  private _events = 0;
  private _bytes = 0;
  private readonly chunkChars: number;

  constructor(
    private readonly stream: Writable,
    opts: { chunkChars?: number } = {},
  ) {
    this.chunkChars = opts.chunkChars ?? 64 * 1024;
    stream.on('error', (err: Error) => {
      this.failed ??= err;
    });
  }

  get events(): number {
    return this._events;
  }

  /** Bytes handed to the stream so far (UTF-8). */
  get bytes(): number {
    return this._bytes;
  }

  write(ev: MarketEvent): boolean {
    if (this.failed) throw this.failed;
    this.buf += encodeEvent(ev) + '\n';
    this._events++;
    if (this.buf.length >= this.chunkChars) this.flush();
    return !this.blocked;
  }

  /** Hands buffered lines to the stream. */
  flush(): boolean {
    if (this.buf) {
      this._bytes += Buffer.byteLength(this.buf);
      if (!this.stream.write(this.buf)) this.blocked = true;
      this.buf = '';
    }
    return !this.blocked;
  }

  /** Resolves once the stream can take more (immediately when it already can). */
  async drain(): Promise<void> {
    this.flush();
    if (this.failed) throw this.failed;
    if (!this.blocked) return;
    await new Promise<void>((resolve, reject) => {
      const done = (err?: Error) => {
        this.stream.off('drain', onDrain);
        this.stream.off('error', done);
        this.blocked = false;
        if (err) reject(err);
        else resolve();
      };
      const onDrain = () => done();
      this.stream.once('drain', onDrain);
      this.stream.once('error', done);
    });
  }

  /** Flushes, ends the stream and waits until everything is written. */
  async close(): Promise<void> {
    this.flush();
    if (this.failed) throw this.failed;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.stream.once('error', onError);
      this.stream.end(() => {
        this.stream.off('error', onError);
        resolve();
      });
    });
    if (this.failed) throw this.failed;
  }
}
