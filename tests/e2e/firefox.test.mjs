// The same dist/ in Firefox: installed through WebDriver BiDi into Debian's Firefox ESR, where the
// background page hosts both the worker logic and the engine (Firefox has no offscreen documents).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import puppeteer from 'puppeteer-core';
import { assertLoopbackOnly } from './harness.mjs';

assertLoopbackOnly();

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

test('Firefox loads the extension, signs in, and keeps the account across popups', { timeout: 120000 }, async () => {
  const browser = await puppeteer.launch({
    browser: 'firefox',
    executablePath: FIREFOX,
    headless: true,
    // Lets WebDriver open moz-extension:// pages.
    args: ['--remote-allow-system-access'],
    extraPrefsFirefox: { 'extensions.webextensions.uuids': JSON.stringify({ [ADDON_ID]: ADDON_UUID }) },
  });
  const problems = [];
  try {
    assert.equal(await browser.installExtension(process.env.MULTICHAT_DIST), ADDON_ID);
    let popup = await openPopup(browser, problems);
    await popup.waitForSelector('#username', { timeout: 15000 });
    await popup.type('#username', 'alice');
    await popup.keyboard.press('Enter');
    await popup.waitForSelector('.signed-in', { timeout: 10000 });
    assert.equal(await popup.$eval('.signed-in strong', (el) => el.textContent), 'alice');
    // The status line leaves "Offline" only once the engine in the background page has been configured.
    await popup.waitForFunction(() => !document.querySelector('.status')?.textContent.startsWith('Offline'), { timeout: 10000 });

    await popup.close();
    popup = await openPopup(browser, problems);
    await popup.waitForSelector('.signed-in', { timeout: 15000 });
    assert.equal(await popup.$eval('.signed-in strong', (el) => el.textContent), 'alice');
    assert.deepEqual(problems, []);
  } finally {
    await browser.close();
  }
});
