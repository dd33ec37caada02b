// `node --import ./test/register.js --test`: resolve the WIT imports of
// weavelet.js (`weavelet:node/types@0.4.0`, `weavelet:node/host@0.4.0`) to the
// stand-ins in mock-host.js, so the SDK runs under plain Node.js.
import { register } from 'node:module';

register('./hooks.js', import.meta.url);
