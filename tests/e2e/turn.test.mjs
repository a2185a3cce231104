// TURN through a real coturn on 127.0.0.1 (started and stopped here): two extension users chat with "Relay
// only" on and getStats shows the selected pair relayed on both sides; a TURN login round-trips through the
// popup; and "Test connection" says in words what it found.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  SELECTED_PAIRS, assertLoopbackOnly, assertNoProblems, extensionCopy, fillSettings, freshProfileDir, launchBrowser, openPopup,
  recordEnginePeerConnections, removeProfileDir, signIn, startPeerServer, startTurnServer,
} from './harness.mjs';
import { expectMessage, openConversation, openDirect, send } from './chat-user.mjs';

assertLoopbackOnly();

let server;
let turn;
const made = [];
before(async () => {
  server = await startPeerServer({ port: 9131 });
  turn = await startTurnServer({ port: 3478 });
});
after(async () => {
  await server?.close();
  await turn?.close();
  for (const dir of made) removeProfileDir(dir);
});

async function user(name, ice) {
  const profile = freshProfileDir(name);
  const extensionDir = extensionCopy(name);
  made.push(profile, extensionDir);
  const browser = await launchBrowser(profile, { extensionDir });
  const popup = await openPopup(browser);
  await signIn(popup, name, server.settings, ice);
  return { name, browser, popup };
}

test('two users chat with relay only through coturn, and the selected candidate pair is relay on both sides', { timeout: 120000 }, async () => {
  const alice = await user('alice', { turn, relayOnly: true });
  const bob = await user('bob', { turn, relayOnly: true });
  try {
    const aliceEngine = await recordEnginePeerConnections(alice.browser);
    const bobEngine = await recordEnginePeerConnections(bob.browser);
    await openDirect(alice, 'bob');
    await send(alice, 'hello through the relay');
    await bob.popup.getByRole('button', { name: /^alice\b/ }).waitFor({ timeout: 30000 });
    await openConversation(bob, 'alice');
    await expectMessage(bob, 'hello through the relay');
    await send(bob, 'relayed reply');
    await expectMessage(alice, 'relayed reply');

    for (const [name, evaluate] of [['alice', aliceEngine], ['bob', bobEngine]]) {
      const pairs = await evaluate(SELECTED_PAIRS);
      assert.ok(pairs.length >= 1, `${name}'s engine has a connected RTCPeerConnection`);
      for (const pair of pairs) {
        assert.deepEqual(pair, { policy: 'relay', local: 'relay', remote: 'relay' }, `${name}: ${JSON.stringify(pairs)}`);
      }
    }
    assertNoProblems(alice.browser);
    assertNoProblems(bob.browser);
  } finally {
    await alice.browser.context.close();
    await bob.browser.context.close();
  }
});

test('control: with the same TURN server but relay only off, the selected pair is not relayed', { timeout: 120000 }, async () => {
  const frank = await user('frank', { turn });
  const gina = await user('gina', { turn });
  try {
    const frankEngine = await recordEnginePeerConnections(frank.browser);
    await openDirect(frank, 'gina');
    await send(frank, 'hello directly');
    await gina.popup.getByRole('button', { name: /^frank\b/ }).waitFor({ timeout: 30000 });
    await openConversation(gina, 'frank');
    await expectMessage(gina, 'hello directly');
    const pairs = await frankEngine(SELECTED_PAIRS);
    assert.ok(pairs.length >= 1, 'a connected RTCPeerConnection');
    for (const pair of pairs) {
      assert.equal(pair.policy, 'all', JSON.stringify(pairs));
      assert.notEqual(pair.local, 'relay', JSON.stringify(pairs));
    }
    assertNoProblems(frank.browser);
    assertNoProblems(gina.browser);
  } finally {
    await frank.browser.context.close();
    await gina.browser.context.close();
  }
});

test('a TURN entry with its login and relay only survive saving, closing and reopening the popup', { timeout: 60000 }, async () => {
  const carol = await user('carol', { turn, relayOnly: true });
  try {
    await carol.popup.close();
    const popup = await openPopup(carol.browser);
    await popup.getByText('Settings', { exact: true }).click();
    assert.equal(await popup.getByLabel('ICE servers (one per line)').inputValue(), turn.url);
    assert.equal(await popup.getByLabel(`Username for ${turn.url}`, { exact: true }).inputValue(), 'u');
    assert.equal(await popup.getByLabel(`Password for ${turn.url}`, { exact: true }).inputValue(), 'p');
    assert.equal(await popup.getByLabel('Relay only (hide my IP address from peers)').isChecked(), true);

    // Half a login is refused in words, and the saved one stays.
    await popup.getByLabel(`Password for ${turn.url}`, { exact: true }).fill('');
    await popup.getByRole('button', { name: 'Save settings' }).click();
    await popup.getByRole('alert').filter({ hasText: `The TURN server ${turn.url} needs both a username and a password` }).waitFor({ timeout: 5000 });
    await popup.close();
    const again = await openPopup(carol.browser);
    await again.getByText('Settings', { exact: true }).click();
    assert.equal(await again.getByLabel(`Password for ${turn.url}`, { exact: true }).inputValue(), 'p');
    assertNoProblems(carol.browser);
  } finally {
    await carol.browser.context.close();
  }
});

test('Test connection reports the signaling server and the candidate types gathered, in words', { timeout: 60000 }, async () => {
  const profile = freshProfileDir('dave');
  made.push(profile);
  const browser = await launchBrowser(profile);
  try {
    const popup = await openPopup(browser);
    await popup.getByText('Settings', { exact: true }).click();
    const result = popup.getByRole('status', { name: 'Connection test' });
    const test = async () => {
      await popup.getByRole('button', { name: 'Test connection' }).click();
      await popup.getByRole('button', { name: 'Test connection' }).and(popup.locator(':enabled')).waitFor({ timeout: 15000 });
      return result.innerText();
    };

    await fillSettings(popup, server.settings, { turn });
    let said = await test();
    assert.match(said, new RegExp(`Signaling server 127\\.0\\.0\\.1:${server.port}: reachable\\.`), said);
    assert.match(said, /relay \(through your TURN server\)/, said);

    // Relay only with a wrong password: coturn refuses the allocation, so nothing is gathered, and it says so.
    await fillSettings(popup, server.settings, { turn: { ...turn, credential: 'wrong' }, relayOnly: true });
    said = await test();
    assert.match(said, /No ICE candidates were gathered/, said);
    assert.match(said, /Relay only is on but no relay candidate was gathered/, said);

    // A port nothing listens on. The browser logs the refused socket as a console error: that one is the
    // expected outcome here, and the only problem allowed.
    const dead = server.port + 1;
    await fillSettings(popup, { ...server.settings, port: dead }, { turn });
    said = await test();
    assert.match(said, new RegExp(`Signaling server 127\\.0\\.0\\.1:${dead}: not reachable\\.`), said);
    const refused = `WebSocket connection to 'ws://127.0.0.1:${dead}/myapp/peerjs?`;
    browser.problems = browser.problems.filter((it) => !(it.includes(refused) && it.includes('ERR_CONNECTION_REFUSED')));
    assertNoProblems(browser);
  } finally {
    await browser.context.close();
  }
});
