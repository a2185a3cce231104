// The same dist/ in Firefox: installed through WebDriver BiDi into Debian's Firefox ESR, where the
// background page hosts both the worker logic and the engine (Firefox has no offscreen documents).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import puppeteer from 'puppeteer-core';
import { assertLoopbackOnly, signInFirefox, startPeerServer } from './harness.mjs';

assertLoopbackOnly();

let server;
before(async () => { server = await startPeerServer({ port: 9105 }); });
after(() => server.close());

const FIREFOX = '/usr/bin/firefox-esr';
const ADDON_ID = 'multichat@multichat.invalid';
// Firefox gives each install a random moz-extension host unless this pref fixes it.
const ADDON_UUID = '3b3c6a2e-9f4e-4c1a-8c1d-6d9b0f1e2a3b';

async function openPopup(browser, problems) {
  const page = await browser.newPage();
  page.on('console', (msg) => { if (msg.type() === 'error') problems.push(`console error: ${msg.text()}`); });
  page.on('pageerror', (err) => problems.push(`uncaught: ${err.message}`));
  // BiDi never reports this navigation as finished, so the page is watched for content instead.
  page.goto(`moz-extension://${ADDON_UUID}/popup/index.html`, { timeout: 0 }).catch(() => {});
  return page;
}

function launchFirefox() {
  return puppeteer.launch({
    browser: 'firefox',
    executablePath: FIREFOX,
    headless: true,
    // Lets WebDriver open moz-extension:// pages.
    args: ['--remote-allow-system-access'],
    extraPrefsFirefox: {
      'extensions.webextensions.uuids': JSON.stringify({ [ADDON_ID]: ADDON_UUID }),
    },
  });
}

test('Firefox loads the extension, signs in, goes online through the local PeerJS server, keeps the account, and locks and unlocks with a passphrase', { timeout: 120000 }, async () => {
  const browser = await launchFirefox();
  const problems = [];
  try {
    assert.equal(await browser.installExtension(process.env.MULTICHAT_DIST), ADDON_ID);
    let popup = await openPopup(browser, problems);
    // Settings first: the engine's first connection goes to the local PeerJS server.
    await signInFirefox(popup, 'alice', server);
    await popup.waitForSelector('.signed-in', { timeout: 10000 });
    assert.equal(await popup.$eval('.signed-in strong', (el) => el.textContent), 'alice');
    // Our PeerJS client, running in Firefox's background page, registers with the local server.
    await popup.waitForFunction(() => document.querySelector('.status')?.textContent.includes('Online'), { timeout: 15000 });

    await popup.close();
    popup = await openPopup(browser, problems);
    await popup.waitForSelector('.signed-in', { timeout: 15000 });
    assert.equal(await popup.$eval('.signed-in strong', (el) => el.textContent), 'alice');

    // The passphrase works in Firefox too (its key lives in Firefox's storage.session): set it, lock, and
    // unlock again.
    await popup.click('details.passphrase summary');
    await popup.locator('#new-passphrase').fill('firefox passphrase');
    await popup.locator('#repeat-passphrase').fill('firefox passphrase');
    await popup.click('form[aria-label="Set passphrase"] button[type=submit]');
    await popup.waitForSelector('form[aria-label="Change or remove passphrase"]', { timeout: 15000 });
    await popup.evaluate(() => [...document.querySelectorAll('button')].find((it) => it.textContent.trim() === 'Lock now').click());
    await popup.waitForSelector('#unlock-passphrase', { timeout: 15000 });
    await popup.locator('#unlock-passphrase').fill('firefox passphrase');
    await popup.click('form[aria-label="Unlock"] button[type=submit]');
    await popup.waitForSelector('.signed-in', { timeout: 15000 });
    await popup.waitForFunction(() => document.querySelector('.status')?.textContent.includes('Online'), { timeout: 15000 });
    assert.deepEqual(problems, []);
  } finally {
    await browser.close();
  }
});

