// A malicious fourth browser against a group of three (issue 13): alice, bob and carol (the extension, one
// profile each) chat in the group "friends" while mallory, a page on the stock `peerjs` 1.5.5 client
// speaking our wire format (`e2e/malicious/`), (a) forges `mc.batch` messages claiming to be from alice and
// carol (and live chats claiming their names), (b) walks in with the group's leaked room id (`mc.room` with
// a forged invitation, `connections`, `mc.sync`, `mc.want`, a chat in the room) and (c) floods `mc.sync`.
// Mallory is a stranger each of them accepts as unverified, and alice has a direct conversation with her.
// Checked: nothing forged is stored or shown, mallory is no member anywhere, every real message is shown and
// stored exactly once by each member, mallory is given nothing of the group, and the engine's bytes queued
// per link (`engine_send_queues`) stay under the bound during the flood. Last, the engine's bound itself:
// 40 MB handed to one link at once closes that link at the bound with a log line, and the group goes on.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  assertLoopbackOnly, engineEvaluator, engineSendQueues, launchStockBrowser, peerjsPageFiles, startPeerServer, startStaticServer,
  watchEngineConsole,
} from './harness.mjs';
import { chatUser, closeUsers, expectMessage, openConversation, openDirect, removeAll, send } from './chat-user.mjs';

assertLoopbackOnly();

const PEER_SERVER_PORT = 9151;
const GROUP = 'friends';
/** The engine's bound per link (src/send_queue.rs `MAX_LINK_QUEUED_BYTES`). */
const MAX_LINK_QUEUED_BYTES = 16 * 1024 * 1024;
/** The chat layer's burst of frames per link (src/chat/node/mod.rs `MAX_FRAME_BURST`). */
const FLOOD = 3000;
const HONEST = ['alice', 'bob', 'carol'];
/** A signature of the right shape (128 lowercase hex digits) that verifies against nobody's key. */
const FAKE_SIG = 'ab'.repeat(64);

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(what, check, timeout = 20000) {
  const end = Date.now() + timeout;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** Every stored message of `owner` (all rooms), from the popup's view of storage. */
function storedMessages(u) {
  return u.popup.evaluate(async (owner) => {
    const all = await chrome.storage.local.get(null);
    return Object.entries(all)
      .filter(([key]) => key.startsWith(`h/${owner}/`) && !key.endsWith('/meta'))
      .flatMap(([key, page]) => (page.messages ?? []).map((it) => ({ room: key.split('/')[2], sender: it.sender, text: it.text })));
  }, u.name);
}

describe('a malicious member', { timeout: 600000 }, () => {
  let server;
  let web;
  let stock;
  let mallory;
  let room;
  const users = {};
  /** Each honest member's service-worker console (`{ type, text }`). */
  const workerLogs = {};
  const engines = {};
  let bobEngineLog;
  /** Every real message sent to the group, in order. */
  const real = [];
  /** The forged texts; none may be stored or shown anywhere. */
  const forged = [];

  async function say(name, text) {
    await send(users[name], text);
    real.push(text);
  }

  /** Mallory sends `frames` to each honest member (to those she has a link with). */
  async function toAll(frames) {
    for (const name of HONEST) {
      await waitFor(`mallory's link to ${name}`, () => mallory.evaluate((name) => window.malicious.isOpen(name), name), 30000);
      assert.ok(await mallory.evaluate(([name, frames]) => window.malicious.send(name, frames), [name, frames]));
    }
  }

  before(async () => {
    server = await startPeerServer({ port: PEER_SERVER_PORT });
    web = await startStaticServer(peerjsPageFiles('malicious'));
    for (const name of HONEST) {
      users[name] = await chatUser(name, server);
      engines[name] = await engineEvaluator(users[name].browser);
      workerLogs[name] = [];
      const listen = (worker) => worker.on('console', (msg) => workerLogs[name].push({ type: msg.type(), text: msg.text() }));
      users[name].browser.context.serviceWorkers().forEach(listen);
      users[name].browser.context.on('serviceworker', listen);
    }
    bobEngineLog = await watchEngineConsole(users.bob.browser);
    const { alice, bob, carol } = users;

    await alice.popup.getByLabel('Group name').fill(GROUP);
    await alice.popup.getByRole('button', { name: 'Create group' }).click();
    await alice.popup.getByRole('log', { name: 'Messages' }).waitFor();
    for (const u of [bob, carol]) {
      await alice.popup.getByLabel('Invite username').fill(u.name);
      await alice.popup.getByRole('button', { name: 'Invite' }).click();
      await u.popup.getByRole('button', { name: `Accept the invitation to ${GROUP}` }).click({ timeout: 20000 });
      await openConversation(u, GROUP);
    }
    for (const [u, other] of [[alice, 'bob'], [alice, 'carol'], [bob, 'carol'], [carol, 'bob']]) {
      await u.popup.getByRole('list', { name: 'Members' }).locator('li.online', { hasText: other }).waitFor({ timeout: 30000 });
    }
    await say('alice', 'alice 1 before mallory');
    await say('carol', 'carol 1 before mallory');

    // The group's id, as it would leak (from a screenshot of storage, a log, a former device).
    const keys = await alice.popup.evaluate(async () => Object.keys(await chrome.storage.local.get(null)));
    room = keys.map((it) => it.match(/^h\/alice\/(g:[0-9a-f]+)\/meta$/)?.[1]).find(Boolean);
    assert.ok(room, `the group's room id is in alice's storage keys: ${keys}`);

    stock = await launchStockBrowser();
    mallory = await stock.context.newPage();
    await mallory.goto(web.url('/index.html'));
    await mallory.evaluate((port) => window.malicious.start('mallory', port), server.port);
    await mallory.waitForFunction(() => window.malicious.state.opened, null, { timeout: 10000 });
    // Alice knows mallory: a direct conversation (which mallory may catch up on: it is hers too).
    await alice.popup.getByRole('button', { name: 'Back to conversations' }).click();
    await openDirect(alice, 'mallory');
    await send(alice, 'hi mallory, this is our direct chat');
    await waitFor('mallory to get alice\'s direct message',
      async () => (await mallory.evaluate(() => window.malicious.texts())).some((it) => it.text === 'hi mallory, this is our direct chat'));
    await alice.popup.getByRole('button', { name: 'Back to conversations' }).click();
    await openConversation(alice, GROUP);
    for (const name of ['bob', 'carol']) await mallory.evaluate((name) => window.malicious.dial(name), name);
  });

  after(async () => {
    await stock?.browser.close();
    await closeUsers(...HONEST.map((name) => users[name]));
    await web?.close();
    await server?.close();
    removeAll();
  });

  it('(a, b) forged batches and a walk-in with the leaked room id store and show nothing, and make mallory no member', async () => {
    const now = Date.now();
    const message = (sender, seq, text, sig) => ({
      id: `forged-${sender}-${seq}-${now}`, seq, chat: { sender, message: text, timestamp: now + seq }, ...(sig ? { sig } : {}),
    });
    const batch = (target, sender, sig) => {
      const messages = [];
      // Seqs 1-40 cover the authors' real past and next messages: a forged one taking a real seq would make
      // the real message a duplicate, dropped (pre-emption), which the last test would see as a loss.
      for (let seq = 1; seq <= 40; seq += 1) {
        const text = `FORGED ${sender} #${seq} via a batch to ${target}${sig ? ' (signed)' : ''}`;
        forged.push(text);
        messages.push(message(sender, seq, text, sig));
      }
      return { type: 'mc.batch', room, messages };
    };
    const liveChat = (sender, seq) => {
      const text = `FORGED live chat as ${sender}`;
      forged.push(text);
      return { type: 'chat', chat: { sender, message: text, timestamp: now }, id: `forged-live-${sender}-${now}`, seq, room, sig: FAKE_SIG };
    };
    const walkIn = [
      // (b) The room claimed with a forged invitation "by alice", and the original page's merge frame.
      {
        type: 'mc.room', room, name: GROUP, members: [...HONEST, 'mallory'],
        invites: [{ by: 'alice', to: 'mallory', key: null, since: {}, sig: FAKE_SIG }],
      },
      { type: 'connections', peerIds: [...HONEST, 'mallory'].map((it) => `secure-p2p-multichat-${it}`) },
      { type: 'mc.sync', room, heads: {} },
      // Silencing: a head far beyond anything real for every member.
      { type: 'mc.sync', room, heads: Object.fromEntries(HONEST.map((it) => [it, 2 ** 53 - 1])) },
      { type: 'mc.want', room, sender: 'alice', seqs: Array.from({ length: 64 }, (_, i) => i + 1) },
      (() => { const text = 'FORGED chat by mallory in the group'; forged.push(text); return { type: 'chat', chat: { sender: 'mallory', message: text, timestamp: now }, id: `forged-own-${now}`, seq: 1, room }; })(),
    ];
    for (const target of HONEST) {
      await waitFor(`mallory's link to ${target}`, () => mallory.evaluate((name) => window.malicious.isOpen(name), target), 30000);
      const frames = [
        ...walkIn,
        // (a) Catch-up "from" alice and carol, unsigned and with a signature of nobody's key.
        batch(target, 'alice'), batch(target, 'carol'), batch(target, 'alice', FAKE_SIG), batch(target, 'carol', FAKE_SIG),
        liveChat('alice', 41), liveChat('carol', 41),
      ];
      assert.ok(await mallory.evaluate(([name, frames]) => window.malicious.send(name, frames), [target, frames]));
    }
    // To alice also in their direct room, where mallory is a member: a batch "from alice" herself (her own
    // message, shown as Delivered, was the forgery of issue 13) and one "from carol", who is not in it.
    const direct = 'dm:alice:mallory';
    const ownText = 'FORGED alice in her direct chat with mallory';
    const carolText = 'FORGED carol in the direct chat of alice and mallory';
    forged.push(ownText, carolText);
    assert.ok(await mallory.evaluate(([frames]) => window.malicious.send('alice', frames), [[
      { type: 'mc.batch', room: direct, messages: [message('alice', 2, ownText), message('alice', 3, `${ownText} (signed)`, FAKE_SIG)] },
      { type: 'mc.batch', room: direct, messages: [message('carol', 1, carolText, FAKE_SIG)] },
      { type: 'mc.sync', room: direct, heads: { alice: 2 ** 53 - 1 } },
    ]]));
    forged.push(`${ownText} (signed)`);

    // Real traffic right after: each honest member's next messages, on the seqs mallory tried to take.
    await say('alice', 'alice 2 after the forgeries');
    await say('bob', 'bob 1 after the forgeries');
    await say('carol', 'carol 2 after the forgeries');
    for (const name of HONEST) {
      for (const text of real) await expectMessage(users[name], text, 30000);
    }
    for (const name of HONEST) {
      const u = users[name];
      const log = u.popup.getByRole('log', { name: 'Messages' });
      assert.equal(await log.getByText(/FORGED/).count(), 0, `${name}'s group conversation shows nothing forged`);
      const stored = await storedMessages(u);
      const bad = stored.filter((it) => /FORGED/.test(it.text));
      assert.deepEqual(bad, [], `${name} stored nothing forged`);
      assert.equal(stored.filter((it) => it.room === room && it.sender === 'mallory').length, 0, `${name} stored nothing of mallory's in the group`);
      const members = await u.popup.getByRole('list', { name: 'Members' }).innerText();
      assert.doesNotMatch(members, /mallory/, `${name}'s group has no member mallory: ${members}`);
      // Not in any other conversation either (alice's direct one with mallory included).
      await u.popup.getByRole('button', { name: 'Back to conversations' }).click();
      const n = await u.popup.locator('button.room').count();
      for (let i = 0; i < n; i += 1) {
        const title = await u.popup.locator('button.room').nth(i).getAttribute('aria-label');
        await u.popup.locator('button.room').nth(i).click();
        await u.popup.getByRole('log', { name: 'Messages' }).waitFor();
        assert.equal(await u.popup.getByRole('log', { name: 'Messages' }).getByText(/FORGED/).count(), 0, `${name}'s “${title}” shows nothing forged`);
        await u.popup.getByRole('button', { name: 'Back to conversations' }).click();
      }
      await openConversation(u, GROUP);
    }
    // Each was refused by the chat layer for what it is (not lost on the way): the worker says why.
    const dropped = (name, reason) => workerLogs[name].some((it) => it.type === 'warning'
      && it.text.includes(`dropped a frame from secure-p2p-multichat-mallory: ${reason}`));
    for (const name of HONEST) {
      assert.ok(dropped(name, 'the sender is not a member of the room'), `${name}'s worker log: ${JSON.stringify(workerLogs[name].slice(-20))}`);
    }
    assert.ok(dropped('alice', 'a relayed message is unsigned') || dropped('alice', 'a message\'s signature is not its author\'s'),
      `alice refused her own forged message: ${JSON.stringify(workerLogs.alice.slice(-20))}`);
    // Alice's direct message to mallory is still hers alone, not overwritten or joined by a forgery.
    const direct_ = (await storedMessages(users.alice)).filter((it) => it.room === direct);
    assert.deepEqual(direct_.map((it) => [it.sender, it.text]), [['alice', 'hi mallory, this is our direct chat']]);
  });

  it('(c) a flood of mc.sync keeps every engine\'s queued bytes under the bound and serves mallory no group history', async (t) => {
    const peaks = Object.fromEntries(HONEST.map((name) => [name, 0]));
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        for (const name of HONEST) {
          const report = await engineSendQueues(engines[name]);
          if (report) peaks[name] = Math.max(peaks[name], report.peak, ...report.links.map((it) => it.queued));
        }
        await sleep(100);
      }
    })();
    const before = await mallory.evaluate(() => window.malicious.summary().length);
    for (const name of HONEST) {
      await waitFor(`mallory's link to ${name}`, () => mallory.evaluate((name) => window.malicious.isOpen(name), name), 30000);
      assert.ok(await mallory.evaluate(([name, frame, n]) => window.malicious.flood(name, frame, n), [name, { type: 'mc.sync', room, heads: {} }, FLOOD]));
    }
    // Alice also gets syncs of the direct room, which she may serve once.
    assert.ok(await mallory.evaluate(([frame, n]) => window.malicious.flood('alice', frame, n), [{ type: 'mc.sync', room: 'dm:alice:mallory', heads: {} }, FLOOD]));
    // Real messages during the flood.
    await say('bob', 'bob 2 during the flood');
    await say('carol', 'carol 3 during the flood');
    await say('alice', 'alice 3 during the flood');
    await sleep(3000);
    sampling = false;
    await sampler;
    t.diagnostic(`engine queued-bytes peak during the sync flood: ${JSON.stringify(peaks)} (bound ${MAX_LINK_QUEUED_BYTES})`);
    for (const name of HONEST) {
      assert.ok(peaks[name] < MAX_LINK_QUEUED_BYTES, `${name}'s engine held at most ${peaks[name]} bytes on a link`);
      const report = await engineSendQueues(engines[name]);
      assert.equal(report.limit, MAX_LINK_QUEUED_BYTES);
    }
    // Mallory got nothing of the group: no frame about it, and no text of it in any frame.
    const summary = await mallory.evaluate(() => window.malicious.summary());
    const texts = await mallory.evaluate(() => window.malicious.texts());
    t.diagnostic(`mallory received ${summary.length} frames (${summary.length - before} during the flood): ${JSON.stringify(Object.entries(summary.reduce((acc, it) => ({ ...acc, [it.type]: (acc[it.type] ?? 0) + 1 }), {})))}`);
    assert.deepEqual(summary.filter((it) => it.room === room), [], 'no frame about the group reached mallory');
    assert.deepEqual(texts.filter((it) => real.includes(it.text) || it.room === room), [], 'no message of the group reached mallory');
    // The direct room was served to her once per link, not once per request.
    const directBatches = summary.slice(before).filter((it) => it.type === 'mc.batch').length;
    t.diagnostic(`catch-up batches mallory got for ${2 * FLOOD} sync requests: ${directBatches}`);
    assert.ok(directBatches <= 2, `${directBatches} catch-up batches for ${2 * FLOOD} sync requests`);
  });

  it('every real message is shown and stored exactly once by each honest member', async () => {
    for (const name of HONEST) {
      const u = users[name];
      for (const text of real) await expectMessage(u, text, 30000);
      const log = u.popup.getByRole('log', { name: 'Messages' });
      for (const text of real) assert.equal(await log.getByText(text, { exact: true }).count(), 1, `${name} shows “${text}” once`);
      const stored = (await storedMessages(u)).filter((it) => it.room === room);
      for (const text of real) assert.equal(stored.filter((it) => it.text === text).length, 1, `${name} stored “${text}” once`);
      assert.deepEqual(stored.map((it) => it.text).filter((it) => !real.includes(it)), [], `${name} stored only real messages in the group`);
    }
  });

  it('the engine closes a link at its bound instead of queueing 40 MB, and the group goes on', async (t) => {
    // Bob's link to mallory, which she dialed with the `binary` serialization (it carries 1 MB frames).
    const { bob } = users;
    const malloryLink = async () => ((await engineSendQueues(engines.bob))?.links ?? []).find((it) => it.peer === 'secure-p2p-multichat-mallory');
    const { connection: link } = await waitFor('bob\'s engine to have a link to mallory', malloryLink);
    // 40 frames of 1 MB handed to the engine at once (as a worker could, or a serve of a huge history).
    await bob.popup.evaluate((link) => {
      const big = 'x'.repeat(1_000_000);
      for (let i = 0; i < 40; i += 1) chrome.runtime.sendMessage({ to: 'engine', body: { kind: 'send', link, frame: `${i} ${big}` } });
    }, link);
    let last;
    const after = await waitFor('the engine to close the overflowing link',
      async () => { last = await engineSendQueues(engines.bob); return last.closed_full >= 1 && last; }, 30000)
      .catch((err) => { throw new Error(`${err.message}; the engine's queues: ${JSON.stringify(last)}`); });
    t.diagnostic(`engine queued-bytes peak with 40 MB for one link: ${after.peak} (bound ${after.limit}); links closed at the bound: ${after.closed_full}`);
    assert.ok(after.peak <= MAX_LINK_QUEUED_BYTES, `the link held at most ${after.peak} bytes`);
    assert.ok(!after.links.some((it) => it.connection === link), 'the overflowing link is closed');
    await waitFor('the engine\'s log line', () => bobEngineLog.some((it) => it.type === 'warning'
      && it.text.includes(`closed the connection ${link} to secure-p2p-multichat-mallory`) && /more than the limit of 16777216/.test(it.text)));
    // The honest links were not touched: the group still chats both ways.
    await say('bob', 'bob 3 after the overflow');
    await say('alice', 'alice 4 after the overflow');
    for (const name of HONEST) {
      for (const text of ['alice 4 after the overflow', 'bob 3 after the overflow']) await expectMessage(users[name], text, 30000);
    }
    assert.deepEqual(stock.problems, []);
  });
});
