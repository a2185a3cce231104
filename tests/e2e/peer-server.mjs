// The official PeerJS server (npm `peer`) on 127.0.0.1, as its own process so a test can stop it for good
// (the library keeps interval timers with no way to stop them) or kill and restart it as a fault.
// Usage: node peer-server.mjs <port> <path> <alive_timeout_ms>; prints "ready" once listening.
import { PeerServer } from 'peer';

const [port, path, aliveTimeout] = process.argv.slice(2);
const server = PeerServer({ host: '127.0.0.1', port: Number(port), path, alive_timeout: Number(aliveTimeout) }, () => {
  console.log('ready');
});
// Without an error listener one malformed frame crashes the server (see shared/notes/toolchain.md).
server.on('error', (err) => console.error(`peer server error: ${err?.message ?? err}`));
