// A hostile peer against a signed-in multichat user, over a live data channel: a page running the stock
// `peerjs` 1.5.5 client (`e2e/hostile/`) dials the user the way the original page does and sends malformed
// frames, frames claiming someone else's name, HTML, an oversized chat, a message over the engine's 1 MiB
// reassembly limit and a flood of 10,000 chats. Each is dropped (with a warning in the worker's or the
// engine's console) or shown as plain text, the link is kept, the flood is cut by the chat layer's rate
// limit, and the popup stays usable. The popup also refuses usernames that are not usernames.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  assertLoopbackOnly, assertNoProblems, freshProfileDir, launchBrowser, launchStockBrowser, openPopup, removeProfileDir, signIn,
  startPeerServer, startStaticServer, watchEngineConsole, peerjsPageFiles,
} from './harness.mjs';

assertLoopbackOnly();

const PEER_SERVER_PORT = 9127;
const MALLORY_ID = 'secure-p2p-multichat-mallory';
/** The chat layer's limits (src/chat/node.rs, src/chat/wire.rs) and the engine's (background/src/engine.rs). */
const MAX_FRAME_BURST = 3000;
const MAX_FRAMES_PER_SECOND = 300;
const MAX_TEXT_BYTES = 12 * 1024;
const MAX_REASSEMBLED = 1 << 20;
const FLOOD = 10000;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(what, check, timeout = 20000) {
  const end = Date.now() + timeout;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

describe('a hostile peer', { timeout: 240000 }, () => {
  let server;
  let web;
  let stock;
  let ext;
  let profile;
  let popup;
  let mallory;
  /** The engine's console (`{ type, text }`), and the worker's. */
  let engineLog;
  const workerLog = [];
  const log = () => popup.getByRole('log', { name: 'Messages' });
  const shown = (text) => log().getByText(text, { exact: true });
  const warned = (entries, pattern) => entries.some((it) => it.type === 'warning' && pattern.test(it.text));

  /** Sends a normal chat from the hostile page and waits until the popup shows it: the link was kept. */
  async function stillConnected(text) {
    await mallory.evaluate((text) => window.hostile.chat(text), text);
    await shown(text).waitFor({ timeout: 60000 });
  }

  before(async () => {
    server = await startPeerServer({ port: PEER_SERVER_PORT });
    web = await startStaticServer(peerjsPageFiles('hostile'));
    profile = freshProfileDir('hostile');
    ext = await launchBrowser(profile);
    for (const worker of ext.context.serviceWorkers()) {
      worker.on('console', (msg) => workerLog.push({ type: msg.type(), text: msg.text() }));
    }
    popup = await openPopup(ext);
    await signIn(popup, 'alice', server.settings);
    engineLog = await watchEngineConsole(ext);

    stock = await launchStockBrowser();
    mallory = await stock.context.newPage();
    await mallory.goto(web.url('/index.html'));
    await mallory.evaluate((port) => window.hostile.start('mallory', port), server.port);
    await mallory.waitForFunction(() => window.hostile.state.opened, null, { timeout: 10000 });
    await mallory.evaluate(() => window.hostile.dial('alice'));
    await mallory.waitForFunction(() => window.hostile.state.open, null, { timeout: 20000 });
    await mallory.evaluate(() => window.hostile.chat('hello alice, this is mallory'));
    await popup.getByRole('button', { name: /^mallory\b/ }).click();
    await shown('hello alice, this is mallory').waitFor({ timeout: 20000 });
  });

  after(async () => {
    await stock?.browser.close();
    await ext?.context.close();
    if (profile) removeProfileDir(profile);
    await web?.close();
    await server?.close();
  });

  it('drops malformed and unknown frames with a logged reason and keeps the link', async () => {
    await mallory.evaluate(() => {
      const h = window.hostile;
      // Not BinaryPack, and a text frame (a BinaryPack channel carries only binary frames): the engine drops them.
      h.sendRaw([0xc1, 0xff, 0x00, 0x13]);
      h.sendRaw('{"type":"chat"');
      // Not objects, no type, an unknown type, wrong field types: the chat layer drops them.
      for (const value of [42, 'just a string', [1, 2, 3], null, true, { chat: 'no type' }, { type: 'mc.evil', x: 1 }]) h.send(value);
      h.send({ type: 'chat', chat: { sender: 5, message: { text: 'not text' }, timestamp: 'yesterday' } });
      h.send({ type: 'chat', chat: 'not an object' });
      h.send({ type: 'connections', peerIds: 'not a list' });
      h.send({ type: 'mc.ack', room: 7, ids: {} });
    });
    await stillConnected('still here after malformed frames');
    assert.ok(warned(engineLog, /multichat engine: ignored a data message from secure-p2p-multichat-mallory could not be read/),
      `the engine logs why it ignored unreadable messages: ${JSON.stringify(engineLog)}`);
    assert.ok(warned(workerLog, /multichat: dropped a frame from secure-p2p-multichat-mallory: malformed frame: the frame is not a JSON object/),
      `the worker logs why it dropped frames: ${JSON.stringify(workerLog)}`);
    assert.ok(warned(workerLog, /the frame type `mc\.evil` is not one we know/));
    assert.ok(warned(workerLog, /malformed frame: the field `sender` is invalid/));
  });

  it('drops frames claiming an invalid or someone else’s username as sender', async () => {
    await mallory.evaluate(() => {
      window.hostile.chat('I am alice, really', 'alice');
      window.hostile.chat('I am bob', 'bob');
      window.hostile.chat('from a path', '../x');
      window.hostile.chat('from a long name', 'm'.repeat(300));
      window.hostile.chat('from markup', '<img src=x onerror="window.pwned=1">');
    });
    await stillConnected('still here after spoofed senders');
    for (const text of ['I am alice, really', 'I am bob', 'from a path', 'from a long name', 'from markup']) {
      assert.equal(await shown(text).count(), 0, `“${text}” must not be shown`);
    }
    assert.ok(warned(workerLog, /dropped a frame from secure-p2p-multichat-mallory: the message claims to come from someone else/));
    assert.equal(await popup.getByRole('button', { name: /^bob\b/ }).count() + await popup.getByRole('button', { name: /^alice\b/ }).count(), 0);
  });

  it('shows HTML from a peer as text and creates no element from it', async () => {
    const texts = ['<img src=x onerror="window.pwned=1">', '<script>window.pwned=2</script>', '<b>not bold</b> <a href="javascript:window.pwned=3">x</a>'];
    await mallory.evaluate((texts) => texts.forEach((it) => window.hostile.chat(it)), texts);
    for (const text of texts) await shown(text).waitFor({ timeout: 20000 });
    for (const tag of ['img', 'script', 'b', 'a']) {
      assert.equal(await log().locator(tag).count(), 0, `no <${tag}> in the message log`);
    }
    assert.equal(await popup.evaluate(() => window.pwned), undefined);
  });

  it('drops an oversized chat and a message over the reassembly limit, and keeps the link', async () => {
    await mallory.evaluate(({ text, big }) => {
      window.hostile.chat(`too long ${'x'.repeat(text)}`);
      // About 1 MiB + 10 KB packed: 65 BinaryPack pieces, within the engine's piece limit, over its byte limit.
      window.hostile.chat(`too big ${'y'.repeat(big)}`);
    }, { text: MAX_TEXT_BYTES + 100, big: MAX_REASSEMBLED + 10000 });
    await stillConnected('still here after oversized messages');
    assert.equal(await log().getByText(/^too (long|big) /).count(), 0);
    assert.ok(warned(workerLog, /malformed frame: the field `message` is longer than the limit of 12288/), JSON.stringify(workerLog));
    assert.ok(warned(engineLog, /from secure-p2p-multichat-mallory could not be read: .*1048576/), JSON.stringify(engineLog));
  });

  it(`cuts a flood of ${FLOOD} chats to the rate limit and stays responsive`, async (t) => {
    const started = Date.now();
    await mallory.evaluate((n) => window.hostile.flood(n), FLOOD);
    // The engine takes messages over the rate as they arrive: pause before talking normally again.
    await sleep(1000);
    await stillConnected('still here after the flood');
    const seconds = (Date.now() - started) / 1000;
    const stored = await popup.evaluate(async () => {
      const all = await chrome.storage.local.get(null);
      return Object.entries(all)
        .filter(([key]) => key.startsWith('h/alice/') && !key.endsWith('/meta'))
        .flatMap(([, page]) => page.messages)
        .filter((it) => it.text.startsWith('flood ')).length;
    });
    const allowed = MAX_FRAME_BURST + MAX_FRAMES_PER_SECOND * seconds;
    t.diagnostic(`${stored} of ${FLOOD} flood messages stored in ${seconds} s`);
    assert.ok(stored > 0 && stored <= allowed && stored < FLOOD / 2, `${stored} of ${FLOOD} flood messages stored in ${seconds} s (at most ${allowed})`);
    assert.ok(warned(engineLog, /ignored messages from secure-p2p-multichat-mallory: it sends faster than 300 a second/), JSON.stringify(engineLog.slice(-5)));
    // Each dropped frame is not a line of its own.
    assert.ok(workerLog.length < 200 && engineLog.length < 200, `${workerLog.length} worker and ${engineLog.length} engine console lines`);

    // The popup answers at once, and a reply reaches the hostile page over the same link.
    const t0 = Date.now();
    await popup.getByLabel('Message', { exact: true }).fill('reply from alice');
    await popup.getByLabel('Message', { exact: true }).press('Enter');
    await shown('reply from alice').waitFor({ timeout: 5000 });
    assert.ok(Date.now() - t0 < 5000);
    await waitFor('the reply to reach the hostile page', async () => (await mallory.evaluate(() => window.hostile.chats())).includes('alice: reply from alice'));
    assert.equal(await mallory.evaluate(() => window.hostile.state.closed), false);
  });

  it('refuses usernames that are not usernames', async () => {
    await popup.getByRole('button', { name: 'Back to conversations' }).click();
    const start = popup.getByRole('region', { name: 'Start a conversation' });
    for (const [name, message] of [
      ['../x', /may only use letters A-Z, digits/],
      ['m'.repeat(300), /at most \d+ characters long/],
      ['<img src=x>', /may only use letters A-Z, digits/],
    ]) {
      await start.getByLabel('Username to chat with').fill(name);
      await start.getByRole('button', { name: 'Chat', exact: true }).click();
      await popup.getByRole('alert').filter({ hasText: message }).waitFor({ timeout: 5000 });
    }
    assert.equal(await popup.getByRole('log', { name: 'Messages' }).count(), 0, 'no conversation was opened');
    assertNoProblems(ext);
    assert.deepEqual(stock.problems, []);
  });
});
