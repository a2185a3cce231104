// The foundation: the real extension in real Chromium keeps the user's account across popup close,
// service worker restart and browser restart.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  assertLoopbackOnly, assertNoProblems, freshProfileDir, launchBrowser, openPopup, removeProfileDir, startPeerServer,
  stopServiceWorker, useServer,
} from './harness.mjs';

assertLoopbackOnly();

let server;
before(async () => { server = await startPeerServer({ port: 9102 }); });
after(() => server.close());

async function expectSignedInAs(page, username) {
  await page.getByText('Signed in as').waitFor({ timeout: 10000 });
  assert.equal(await page.locator('.signed-in strong').textContent(), username);
}

test('a username survives popup close, worker restart and browser restart', { timeout: 120000 }, async (t) => {
  const profile = freshProfileDir('foundation');
  t.after(() => removeProfileDir(profile));
  let browser = await launchBrowser(profile);
  try {
    let popup = await openPopup(browser);
    // First run: the sign-in view, driven by accessible names only.
    const username = popup.getByLabel('Username', { exact: true });
    await username.waitFor({ timeout: 10000 });
    await useServer(popup, server.settings);
    await username.fill('bad name!');
    await popup.getByRole('button', { name: 'Sign in' }).click();
    await popup.getByRole('alert').filter({ hasText: 'only use letters' }).waitFor({ timeout: 5000 });

    await username.fill('alice');
    await username.press('Enter');
    await expectSignedInAs(popup, 'alice');
    assert.match(await popup.locator('.peer-id code').textContent(), /^secure-p2p-multichat-alice$/);
    // The engine registered the id with the local PeerJS server.
    await popup.locator('.status', { hasText: 'Online' }).waitFor({ timeout: 20000 });

    // Popup closed and reopened.
    await popup.close();
    popup = await openPopup(browser);
    await expectSignedInAs(popup, 'alice');

    // The worker is stopped, as Chrome does when it idles; a new popup wakes it and it reloads storage.
    // The open popup reconnects by itself, and a new popup wakes the worker too.
    await stopServiceWorker(browser, popup);
    await popup.getByRole('button', { name: 'Sign out' }).waitFor({ timeout: 10000 });
    await expectSignedInAs(popup, 'alice');
    await popup.close();
    popup = await openPopup(browser);
    await expectSignedInAs(popup, 'alice');
    assertNoProblems(browser);

    // The whole browser is restarted on the same profile.
    await browser.context.close();
    browser = await launchBrowser(profile);
    popup = await openPopup(browser);
    await expectSignedInAs(popup, 'alice');

    // Signing out is stored too.
    await popup.getByRole('button', { name: 'Sign out' }).click();
    await popup.getByLabel('Username', { exact: true }).waitFor({ timeout: 5000 });
    await popup.close();
    popup = await openPopup(browser);
    await popup.getByLabel('Username', { exact: true }).waitFor({ timeout: 10000 });
    assertNoProblems(browser);
  } finally {
    await browser.context.close();
  }
});

test('settings typed in the popup are validated and stored', { timeout: 120000 }, async (t) => {
  const profile = freshProfileDir('settings');
  t.after(() => removeProfileDir(profile));
  const browser = await launchBrowser(profile);
  try {
    let popup = await openPopup(browser);
    // Settings come before signing in, so the first connection already goes to the right server.
    await popup.getByText('Settings', { exact: true }).click();
    await popup.getByLabel('Signaling server host').fill('127.0.0.1');
    await popup.getByLabel('Port').fill('not a port');
    await popup.getByRole('button', { name: 'Save settings' }).click();
    await popup.getByRole('alert').filter({ hasText: 'port must be a number' }).waitFor({ timeout: 5000 });
    await popup.getByLabel('Port').fill(String(server.port));
    await popup.getByLabel('ICE servers (one per line)').fill('http://not-ice');
    await popup.getByRole('button', { name: 'Save settings' }).click();
    await popup.getByRole('alert').filter({ hasText: 'must start with stun:' }).waitFor({ timeout: 5000 });
    await popup.getByLabel('ICE servers (one per line)').fill('');
    await popup.getByLabel('Path').fill(server.path);
    await popup.getByLabel('Use a secure connection (wss)').uncheck();
    await popup.getByRole('button', { name: 'Save settings' }).click();
    await popup.getByLabel('Username', { exact: true }).fill('bob');
    await popup.getByRole('button', { name: 'Sign in' }).click();
    await expectSignedInAs(popup, 'bob');
    await popup.locator('.status', { hasText: 'Online' }).waitFor({ timeout: 20000 });

    await popup.close();
    popup = await openPopup(browser);
    await expectSignedInAs(popup, 'bob');
    await popup.getByText('Settings', { exact: true }).click();
    await assertValue(popup.getByLabel('Signaling server host'), '127.0.0.1');
    await assertValue(popup.getByLabel('Port'), String(server.port));
    await assertValue(popup.getByLabel('ICE servers (one per line)'), '');
    assertNoProblems(browser);
  } finally {
    await browser.context.close();
  }
});

async function assertValue(locator, expected) {
  for (let i = 0; i < 50 && (await locator.inputValue()) !== expected; i++) await new Promise((r) => setTimeout(r, 100));
  assert.equal(await locator.inputValue(), expected);
}

test('the harness catches a CSP violation in an extension page', { timeout: 60000 }, async (t) => {
  const profile = freshProfileDir('csp');
  t.after(() => removeProfileDir(profile));
  const browser = await launchBrowser(profile);
  try {
    const popup = await openPopup(browser);
    await popup.getByLabel('Username', { exact: true }).waitFor();
    assertNoProblems(browser);
    // An inline script is what the extension CSP forbids; the harness must turn it into a failure.
    await popup.evaluate(() => {
      const script = document.createElement('script');
      script.textContent = 'window.inlineRan = true';
      document.body.append(script);
    });
    for (let i = 0; i < 50 && browser.problems.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(await popup.evaluate(() => window.inlineRan ?? false), false);
    assert.throws(() => assertNoProblems(browser), /Content Security Policy/);
  } finally {
    await browser.context.close();
  }
});
