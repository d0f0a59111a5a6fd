/**
 * Docs that cannot drift (issue 16 §7): the values the documentation quotes are
 * compared with the code that defines them — the configuration defaults
 * (apps/server/src/config.ts), the gateway's own defaults (ws/options.ts) and
 * the migrations folder. A changed default fails here until the docs follow.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../apps/server/src/config.ts';
import { WS_DEFAULTS } from '../../apps/server/src/ws/options.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const doc = (name: string) => readFileSync(path.join(ROOT, 'docs', name), 'utf8');
/** `65536` → 65536, `1,000` → 1000. */
const num = (s: string) => Number(s.replace(/[,_]/g, ''));

describe('docs quote the real values', () => {
  it('docs/configuration.md: every documented literal default is the default config.ts applies', () => {
    // A documented default is right exactly when setting the variable to it changes nothing.
    const base = JSON.stringify(loadConfig({}));
    // Literal defaults only: derived ones (`$DATA_DIR/spill`, `LEADER_TTL_MS / 3`) are prose.
    const rows = [...doc('configuration.md').matchAll(/^\| `([A-Z][A-Z0-9_]+)` \| `([^`|$\s]+)` \|/gm)];
    expect(rows.length).toBeGreaterThan(40);
    const wrong: string[] = [];
    for (const [, name, value] of rows) {
      let same: boolean;
      try {
        same = JSON.stringify(loadConfig({ [name]: value })) === base;
      } catch {
        same = false;
      }
      if (!same) wrong.push(`${name}=${value}`);
    }
    expect(wrong, 'documented defaults that are not the defaults').toEqual([]);
  });

  it('docs/websocket.md: the limits a client meets are the deployed defaults', () => {
    const ws = loadConfig({}).ws;
    const text = doc('websocket.md');
    const perIp = /`WS_MAX_CONNECTIONS_PER_IP` open connections from your address \(([\d,]+) by default\)/.exec(text);
    const subs = /more than ([\d,]+) subscriptions/.exec(text);
    const frame = /frame larger than ([\d,]+) KiB/.exec(text);
    expect(perIp && num(perIp[1])).toBe(ws.maxConnectionsPerIp);
    expect(subs && num(subs[1])).toBe(ws.maxSubscriptions);
    expect(frame && num(frame[1]) * 1024).toBe(ws.maxFrameBytes);
  });

  it("docs/websocket.md: the gateway options table quotes createWsGateway's own defaults", () => {
    const text = doc('websocket.md');
    const row = (option: string) => new RegExp(`^\\| \`${option}\` \\| ([^|]+) \\|`, 'm').exec(text)?.[1].trim();
    const bytes = (s: string | undefined) => {
      const m = /^([\d,]+) (KiB|MiB)$/.exec(s ?? '');
      return m ? num(m[1]) * (m[2] === 'KiB' ? 1024 : 1024 * 1024) : NaN;
    };
    expect(num(row('maxConnectionsPerIp') ?? '')).toBe(WS_DEFAULTS.maxConnectionsPerIp);
    expect(bytes(row('maxFrameBytes'))).toBe(WS_DEFAULTS.maxFrameBytes);
    expect(num(row('maxSubscriptions') ?? '')).toBe(WS_DEFAULTS.maxSubscriptions);
    expect(num(row('pingIntervalMs') ?? '')).toBe(WS_DEFAULTS.pingIntervalMs);
    expect(bytes(row('highWaterBytes'))).toBe(WS_DEFAULTS.highWaterBytes);
    expect(bytes(row('queueBytesCap'))).toBe(WS_DEFAULTS.queueBytesCap);
    expect(num(row('maxQueuedSnapshots') ?? '')).toBe(WS_DEFAULTS.maxQueuedSnapshots);
    expect(num(row('stallTimeoutMs') ?? '')).toBe(WS_DEFAULTS.stallTimeoutMs);
    expect(num(row('historyEvents') ?? '')).toBe(WS_DEFAULTS.historyEvents);
    expect(num(row('maxProtocolErrors') ?? '')).toBe(WS_DEFAULTS.maxProtocolErrors);
  });

  it('docs/storage.md lists every migration file, in order', () => {
    const files = readdirSync(path.join(ROOT, 'apps/server/src/storage/migrations')).filter((f) => /^\d{4}_.+\.sql$/.test(f)).sort();
    const section = /## Migrations\n[\s\S]*?```\n([\s\S]*?)```/.exec(doc('storage.md'));
    expect(section, 'docs/storage.md has a ## Migrations section with a file list').not.toBeNull();
    expect(section![1].trim().split('\n').map((l) => l.trim())).toEqual(files);
  });
});
