// The original peerjs-multichat page's behaviour, for the "Enter → painted" benchmark, on peerjs 1.2.0 (the
// version that page loads): a username makes the id `secure-p2p-multichat-<username>`, "Connect" dials a
// `json` connection with `peerIds` metadata, the accepting side sends `{type:"connections"}`, Enter sends
// `{type:"chat", chat:{sender, message, timestamp}}` to every connection, and every chat is kept in
// localStorage (the whole list, as that page did) and appended to the list on screen.
const params = new URLSearchParams(location.search);
const PREFIX = 'secure-p2p-multichat-';
const connections = new Map();
let peer = null;
let name = null;
const chats = [];
window.page = { opened: false, errors: [] };

function paint(chat) {
  const item = document.createElement('li');
  item.className = 'message';
  item.textContent = `${chat.sender}: ${chat.message}`;
  document.getElementById('messages').append(item);
}

function keep(chat) {
  chats.push(chat);
  localStorage.setItem(`chats-${name}`, JSON.stringify(chats));
  paint(chat);
}

function register(conn, accepted) {
  conn.on('open', () => {
    connections.set(conn.peer, conn);
    if (accepted) conn.send({ type: 'connections', peerIds: [...connections.keys()] });
  });
  (conn.metadata?.peerIds ?? []).forEach(dial);
  conn.on('data', (data) => {
    if (data.type === 'chat') keep(data.chat);
    else if (data.type === 'connections') data.peerIds.forEach(dial);
  });
  conn.on('close', () => connections.delete(conn.peer));
  conn.on('error', (err) => window.page.errors.push(String(err)));
}

function dial(id) {
  if (!peer || id === peer.id || connections.has(id)) return;
  register(peer.connect(id, { metadata: { peerIds: [...connections.keys()] }, serialization: 'json' }), false);
}

document.getElementById('login').addEventListener('submit', (event) => {
  event.preventDefault();
  name = document.getElementById('username').value;
  peer = new Peer(`${PREFIX}${name}`, {
    host: '127.0.0.1', port: Number(params.get('port')), path: params.get('path'), secure: false, key: 'peerjs',
    config: { iceServers: [] }, debug: 1,
  });
  peer.on('open', () => { window.page.opened = true; });
  peer.on('error', (err) => window.page.errors.push(`${err.type}: ${err.message}`));
  peer.on('connection', (conn) => register(conn, true));
});

document.getElementById('connect').addEventListener('submit', (event) => {
  event.preventDefault();
  dial(`${PREFIX}${document.getElementById('peer').value}`);
});

document.getElementById('message').addEventListener('keydown', (event) => {
  if (event.key !== 'Enter') return;
  const input = event.target;
  const chat = { sender: name, message: input.value, timestamp: new Date().getTime() };
  input.value = '';
  keep(chat);
  connections.forEach((conn) => conn.send({ type: 'chat', chat }));
});

window.connectedTo = () => [...connections.keys()];
