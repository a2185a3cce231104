// A peer that vanishes without a goodbye (its browser is killed) is shown offline within 10 s, where stock
// PeerJS needs 15-35 s; a username already in use is explained with a way forward; an absent peer is named.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, test } from 'node:test';
import {
  assertLoopbackOnly, assertNoProblems, freshProfileDir, launchBrowser, openPopup, removeProfileDir, signIn, startPeerServer,
  useServer,
} from './harness.mjs';

assertLoopbackOnly();

let server;
const profiles = [];
before(async () => { server = await startPeerServer({ port: 9104 }); });
after(async () => {
  await server.close();
  for (const dir of profiles) removeProfileDir(dir);
});

async function user(name) {
  const profile = freshProfileDir(name);
  profiles.push(profile);
  const browser = await launchBrowser(profile);
  const popup = await openPopup(browser);
  await signIn(popup, name, server.settings);
  return { name, profile, browser, popup };
}

/** SIGKILLs the browser running `profile`: no close handshake, no LEAVE, like a crash or a pulled cable. */
function killBrowser(profile) {
  const pid = execFileSync('pgrep', ['-o', '-f', '--', `--user-data-dir=${profile}`]).toString().trim();
  process.kill(Number(pid), 'SIGKILL');
}

test('a peer whose browser is killed is shown offline within 10 s', { timeout: 120000 }, async () => {
  const alice = await user('alice');
  const bob = await user('bob');
  try {
    await alice.popup.getByLabel('Username to chat with').fill('bob');
    await alice.popup.getByRole('button', { name: 'Chat', exact: true }).click();
    const members = alice.popup.getByRole('list', { name: 'Members' });
    await members.locator('li.online').waitFor({ timeout: 20000 });
    const killedAt = Date.now();
    killBrowser(bob.profile);
    await members.locator('li.offline').waitFor({ timeout: 15000 });
    const noticedAfter = Date.now() - killedAt;
    console.log(`liveness: a killed peer was shown offline after ${noticedAfter} ms`);
    assert.ok(noticedAfter <= 10000, `noticed after ${noticedAfter} ms`);
    assertNoProblems(alice.browser);
  } finally {
    await alice.browser.context.close();
    await bob.browser.context.close().catch(() => {});
  }
});

test('a username already online elsewhere is explained, and signing out is the way forward', { timeout: 120000 }, async () => {
  const first = await user('carol');
  const profile = freshProfileDir('carol-2');
  profiles.push(profile);
  const second = await launchBrowser(profile);
  try {
    const popup = await openPopup(second);
    await useServer(popup, server.settings);
    await popup.getByLabel('Username', { exact: true }).fill('carol');
    await popup.getByRole('button', { name: 'Sign in' }).click();
    await popup.locator('.status', { hasText: 'in use' }).waitFor({ timeout: 20000 });
    assert.match(await popup.locator('.status').innerText(), /choose another username/);
    await popup.getByRole('button', { name: 'Sign out' }).click();
    await popup.getByLabel('Username', { exact: true }).fill('carol2');
    await popup.getByRole('button', { name: 'Sign in' }).click();
    await popup.locator('.status', { hasText: 'Online' }).waitFor({ timeout: 20000 });
    assertNoProblems(first.browser);
    assertNoProblems(second);
  } finally {
    await first.browser.context.close();
    await second.context.close();
  }
});

test('chatting with someone who is not online says so, in their words', { timeout: 120000 }, async () => {
  const dan = await user('dan');
  try {
    await dan.popup.getByLabel('Username to chat with').fill('nobody');
    await dan.popup.getByRole('button', { name: 'Chat', exact: true }).click();
    // The server expires the OFFER after ~5 s and tells us; the user reads the username, not the PeerJS id.
    await dan.popup.getByRole('status').filter({ hasText: 'nobody is not online right now.' }).waitFor({ timeout: 15000 });
    assert.equal(await dan.popup.getByText('secure-p2p-multichat-nobody').count(), 0);
    assertNoProblems(dan.browser);
  } finally {
    await dan.browser.context.close();
  }
});

test('losing the signaling server is explained, and the same id comes back when it returns', { timeout: 120000 }, async () => {
  const eve = await user('eve');
  const fay = await user('fay');
  try {
    await eve.popup.getByLabel('Username to chat with').fill('fay');
    await eve.popup.getByRole('button', { name: 'Chat', exact: true }).click();
    await eve.popup.getByRole('list', { name: 'Members' }).locator('li.online').waitFor({ timeout: 20000 });

    await server.kill();
    await eve.popup.locator('.status', { hasText: 'Cannot reach the signaling server at 127.0.0.1' }).waitFor({ timeout: 10000 });
    // An open data channel needs no server: the chat goes on meanwhile.
    await eve.popup.getByLabel('Message', { exact: true }).fill('still here without a server');
    await eve.popup.getByLabel('Message', { exact: true }).press('Enter');
    await fay.popup.getByRole('button', { name: /^eve\b/ }).click({ timeout: 20000 });
    await fay.popup.getByRole('log', { name: 'Messages' }).getByText('still here without a server', { exact: true }).waitFor({ timeout: 20000 });

    const restartedAt = Date.now();
    await server.restart();
    await eve.popup.locator('.status', { hasText: 'Online' }).waitFor({ timeout: 40000 });
    console.log(`liveness: back online ${Date.now() - restartedAt} ms after the signaling server returned`);
    // The same id is registered again: a new dial to eve through the server works.
    const gus = await user('gus');
    try {
      await gus.popup.getByLabel('Username to chat with').fill('eve');
      await gus.popup.getByRole('button', { name: 'Chat', exact: true }).click();
      await gus.popup.getByRole('list', { name: 'Members' }).locator('li.online').waitFor({ timeout: 20000 });
    } finally {
      await gus.browser.context.close();
    }
    // Chrome logs the refused socket attempts while the server was down; those are expected here.
    const unexpected = eve.browser.problems.filter((it) => !it.includes('WebSocket connection to'));
    assert.deepEqual(unexpected, []);
  } finally {
    await eve.browser.context.close();
    await fay.browser.context.close();
  }
});
