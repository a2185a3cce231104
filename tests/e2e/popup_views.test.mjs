// The popup as a product (issue 16), views: a draft survives closing and reopening the popup (and is sealed
// when a passphrase is set), and several views of the popup page (the toolbar popup, a tab, the side panel's
// page) show the same live view: a message sent from the tab shows in the popup at once.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  assertLoopbackOnly, assertNoProblems, freshProfileDir, launchBrowser, openPopupView, removeProfileDir, signIn,
  startPeerServer,
} from './harness.mjs';

assertLoopbackOnly();

let server;
before(async () => { server = await startPeerServer({ port: 9163 }); });
after(() => server.close());

async function storedText(browser) {
  const [worker] = browser.context.serviceWorkers();
  return JSON.stringify(await worker.evaluate(() => chrome.storage.local.get(null)));
}

async function openChat(page, username) {
  await page.getByLabel('Username to chat with').fill(username);
  await page.getByRole('button', { name: 'Chat', exact: true }).click();
  await page.getByRole('log', { name: 'Messages' }).waitFor();
}

test('a draft survives closing and reopening the popup, sealed once a passphrase is set', { timeout: 120000 }, async (t) => {
  const profile = freshProfileDir('popup-drafts');
  t.after(() => removeProfileDir(profile));
  const browser = await launchBrowser(profile);
  try {
    let popup = await openPopupView(browser);
    await signIn(popup, 'frank', server.settings);
    await openChat(popup, 'gina');
    await popup.getByLabel('Message', { exact: true }).fill('half a thought');
    // Closing right after typing: the box loses focus as the popup closes, which hands the draft over.
    await popup.getByRole('button', { name: 'Back to conversations' }).focus();
    await popup.close();
    popup = await openPopupView(browser);
    assert.equal(await popup.getByLabel('Message', { exact: true }).inputValue(), 'half a thought');
    assert.ok((await storedText(browser)).includes('half a thought'), 'without a passphrase, stored as typed');

    // With a passphrase, the draft is sealed like the history.
    await popup.getByRole('button', { name: 'Back to conversations' }).click();
    await popup.getByText('Protect history with a passphrase').click();
    await popup.getByLabel('New passphrase').fill('drafts are secret');
    await popup.getByLabel('Repeat passphrase').fill('drafts are secret');
    await popup.getByRole('button', { name: 'Set passphrase' }).click();
    await popup.getByRole('button', { name: 'Remove passphrase' }).waitFor({ timeout: 20000 });
    await popup.getByRole('button', { name: /^gina\b/ }).click();
    assert.equal(await popup.getByLabel('Message', { exact: true }).inputValue(), 'half a thought');
    await popup.getByLabel('Message', { exact: true }).fill('a sealed second thought');
    await popup.waitForTimeout(1000);
    await popup.close();
    const stored = await storedText(browser);
    assert.ok(!stored.includes('second thought') && !stored.includes('half a thought'), 'no draft text in storage');
    assert.ok(stored.includes('"drafts/frank":{"sealed"'), 'the drafts record is sealed');
    popup = await openPopupView(browser);
    assert.equal(await popup.getByLabel('Message', { exact: true }).inputValue(), 'a sealed second thought');

    // Sending ends the draft.
    await popup.getByLabel('Message', { exact: true }).press('Enter');
    await popup.getByRole('log', { name: 'Messages' }).getByText('a sealed second thought').waitFor();
    await popup.close();
    popup = await openPopupView(browser);
    assert.equal(await popup.getByLabel('Message', { exact: true }).inputValue(), '');
    assertNoProblems(browser);
  } finally {
    await browser.context.close();
  }
});

test('a message sent from the tab view shows in the popup and the side panel page at once', { timeout: 120000 }, async (t) => {
  const profile = freshProfileDir('popup-views');
  t.after(() => removeProfileDir(profile));
  const browser = await launchBrowser(profile);
  try {
    const popup = await openPopupView(browser);
    await signIn(popup, 'hana', server.settings);
    await openChat(popup, 'ivan');
    // "Open in a tab" opens the same page, sized for a tab.
    const [tab] = await Promise.all([
      browser.context.waitForEvent('page'),
      popup.getByRole('link', { name: 'Open in a tab' }).click(),
    ]);
    await tab.getByRole('log', { name: 'Messages' }).waitFor();
    assert.equal(await tab.evaluate(() => document.documentElement.dataset.view), 'tab');
    const panel = await openPopupView(browser, { view: 'panel', viewport: { width: 320, height: 700 } });
    await panel.getByRole('log', { name: 'Messages' }).waitFor();

    const box = tab.getByLabel('Message', { exact: true });
    await box.fill('written in the tab');
    const sent = performance.now();
    await box.press('Enter');
    for (const view of [popup, panel]) {
      await view.getByRole('log', { name: 'Messages' }).getByText('written in the tab').waitFor({ timeout: 2000 });
    }
    console.log(`# from the tab's Enter to the popup and the panel: ${Math.round(performance.now() - sent)} ms`);
    // Going back in the popup goes back everywhere: one view.
    await popup.getByRole('button', { name: 'Back to conversations' }).click();
    await tab.getByRole('heading', { name: 'Conversations' }).waitFor({ timeout: 2000 });
    assertNoProblems(browser);
  } finally {
    await browser.context.close();
  }
});
