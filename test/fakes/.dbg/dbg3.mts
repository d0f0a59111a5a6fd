import { SignalRConnection, systemClock, SsiTokenProvider } from '/work/main/packages/feeds/src/index.ts';
import { FakeSsiServer, FAKE_SSI_ID, FAKE_SSI_SECRET } from '/work/main/test/fakes/ssi-server.ts';
const fake = await FakeSsiServer.start();
const tp = new SsiTokenProvider({ restUrl: fake.restUrl, consumerId: FAKE_SSI_ID, consumerSecret: FAKE_SSI_SECRET });
const t = await tp.get();
const c = await SignalRConnection.open({ url: fake.streamUrl + 'v2.0/signalr', hub: 'FcMarketDataV2Hub', headers: { authorization: 'Bearer ' + t }, clock: systemClock, stepTimeoutMs: 2000 }, {
  onFrame: () => console.log('frame'), onHubMessage: (m) => console.log('hub', m), onMalformed: (k, t) => console.log('bad', k, t), onClose: (r) => console.log('close', r) });
console.log('opened');
try { console.log('R', await c.invoke('SwitchChannels', ['X-TRADE:ALL'])); } catch (e) { console.log('E', e); }
c.close(); await fake.close();
