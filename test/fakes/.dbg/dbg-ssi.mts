import { SsiFeed } from '/work/main/packages/feeds/src/index.ts';
import { FakeSsiServer, FAKE_SSI_ID, FAKE_SSI_SECRET } from '/work/main/test/fakes/ssi-server.ts';
const fake = await FakeSsiServer.start();
console.log('fake up', fake.restUrl);
const feed = new SsiFeed({ consumerId: FAKE_SSI_ID, consumerSecret: FAKE_SSI_SECRET, restUrl: fake.restUrl, streamUrl: fake.streamUrl, referenceData: false, startTimeoutMs: 3000,
  log: { info: (o: any, m?: string) => console.log('INFO', m ?? o), warn: (o: any, m?: string) => console.log('WARN', m ?? o), error: (o: any, m?: string) => console.log('ERR', m ?? o), debug: () => {} } });
await feed.start((ev) => console.log('ev', ev.type));
console.log('started', feed.status());
console.log(fake.requests.map(r => `${r.method} ${r.path} ${r.status}`));
await feed.stop();
console.log('stopped');
await fake.close();
console.log('closed');
