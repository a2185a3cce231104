// A stand-in for the original peerjs-multichat page (Rubilmax/peerjs-multichat), running the stock peerjs
// client: one room per page, `secure-p2p-multichat-<name>` ids, `json` serialization, `peerIds` metadata,
// `{type:"connections"}` sent by the accepting side, `{type:"chat", chat:{sender, message, timestamp}}`,
// rooms merged by dialing every id learned. It does what that page does, including throwing on metadata
// without `peerIds` (see src/chat/wire.rs). The same code runs on PeerJS 1.5.5 (index.html) and 1.2.0, the
// release the published page loads (../original12/index.html). Only `window.page` and `frameKinds` are the
// test's own instrumentation.
const params = new URLSearchParams(location.search);
const name = params.get('name');
const peer = new Peer(`secure-p2p-multichat-${name}`, {
  host: '127.0.0.1', port: Number(params.get('port')), path: '/myapp', secure: false, key: 'peerjs',
  config: { iceServers: [] }, debug: 1,
});
const connections = new Map();
window.page = { opened: false, chats: [], received: [], errors: [], frameKinds: [] };

peer.on('open', () => { window.page.opened = true; });
peer.on('error', (err) => window.page.errors.push(`${err.type}: ${err.message}`));
peer.on('connection', (conn) => register(conn, true));

function dial(id) {
  if (id === peer.id || connections.has(id)) return;
  register(peer.connect(id, { metadata: { peerIds: [...connections.keys()] }, serialization: 'json' }), false);
}

function register(conn, accepted) {
  conn.on('open', () => {
    // Which frames arrive, before PeerJS parses them (1.2.0 throws on binary json, 1.5.5 on text).
    conn.dataChannel.addEventListener('message', (e) => window.page.frameKinds.push(typeof e.data === 'string' ? 'text' : 'binary'));
    connections.set(conn.peer, conn);
    if (accepted) conn.send({ type: 'connections', peerIds: [...connections.keys()] });
  });
  conn.metadata.peerIds.forEach(dial);
  conn.on('data', (data) => {
    window.page.received.push(data);
    if (data.type === 'chat') window.page.chats.push(data.chat);
    else if (data.type === 'connections') data.peerIds.forEach(dial);
  });
  conn.on('close', () => connections.delete(conn.peer));
  conn.on('error', (err) => window.page.errors.push(`${err.type}: ${err.message}`));
}

window.connectTo = (username) => dial(`secure-p2p-multichat-${username}`);
window.sendChat = (message) => {
  const chat = { sender: name, message, timestamp: new Date().getTime() };
  window.page.chats.push(chat);
  connections.forEach((conn) => conn.send({ type: 'chat', chat }));
};
window.connectedTo = () => [...connections.keys()];
