import { Simulator } from '@stock-tracker/feeds';
import { MarketEngine } from '@stock-tracker/engine';
import { ALERT_KINDS, type MarketEvent, type AlertRule } from '@stock-tracker/protocol';
import inspector from 'node:inspector/promises';
import fs from 'node:fs';
const START = Date.UTC(2024, 0, 2, 1, 30);
const sim = new Simulator({ seed: 7, startTs: START, symbols: 60, intensity: 5_000 });
const tape: MarketEvent[] = [];
for (let t = START; tape.length < 1_000_000; ) sim.advanceTo((t += 10_000), (ev) => void tape.push(ev));
const refs = tape.flatMap((e) => (e.type === 'reference' ? [e.ref] : []));
const rules: AlertRule[] = [];
for (let i = 0; i < 1000; i++) { const ref = refs[i % refs.length]!; rules.push({ id: `r${i}`, userId: 'u', symbol: ref.symbol, kind: ALERT_KINDS[i % ALERT_KINDS.length]!, threshold: ref.reference * 1.02, period: 10, cooldownMs: 60000, enabled: true, createdAt: 0 }); }
const s = new inspector.Session(); s.connect();
await s.post('Profiler.enable'); 
const noop = () => {};
for (let r = 0; r < 2; r++) { const e = new MarketEngine({ alertRules: rules }); for (const ev of tape) e.apply(ev, noop); }
await s.post('Profiler.start');
let best = Infinity;
for (let r = 0; r < 4; r++) { const e = new MarketEngine({ alertRules: rules }); const c0 = process.cpuUsage(); for (const ev of tape) e.apply(ev, noop); const c = process.cpuUsage(c0); best = Math.min(best, (c.user + c.system) / 1000); }
const { profile } = await s.post('Profiler.stop');
fs.mkdirSync('/tmp/prof', { recursive: true });
for (const f of fs.readdirSync('/tmp/prof')) fs.rmSync('/tmp/prof/' + f);
fs.writeFileSync('/tmp/prof/x.cpuprofile', JSON.stringify(profile));
console.log('best cpu ms', best.toFixed(0), 'events/cpu-s', Math.round(tape.length / best * 1000));
