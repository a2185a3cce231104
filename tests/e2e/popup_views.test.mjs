// The popup as a product (issue 16), views: a draft survives closing and reopening the popup (and is sealed
// when a passphrase is set), and several views of the popup page (the toolbar popup, a tab, Chrome's real side
// panel, opened with the header's button) show the same live view: a message sent from the tab, or typed in
// the side panel, shows in the popup at once. A dark theme chosen in Settings is on the page before its first
// paint.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  assertLoopbackOnly, assertNoProblems, freshProfileDir, launchBrowser, openPopupView, removeProfileDir, signIn,
  startPeerServer, withTimeout,
} from './harness.mjs';

assertLoopbackOnly();

let server;
before(async () => { server = await startPeerServer({ port: 9163 }); });
after(() => server.close());

async function storedText(browser) {
  const [worker] = browser.context.serviceWorkers();
  return JSON.stringify(await worker.evaluate(() => chrome.storage.local.get(null)));
}

/**
 * Chrome's side panel, found among the browser's DevTools targets (Playwright does not surface it) by its
 * page, `popup/index.html?view=panel`. Resolves with `{ evaluate, type }`: `evaluate(expression)` runs there
 * (promises awaited) and returns its JSON value; `type(text)` types into the focused element as a keyboard
 * does (`Input.insertText`), then presses Enter.
 */
async function sidePanel(browser) {
  const cdp = await browser.context.browser().newBrowserCDPSession();
  const deadline = Date.now() + 10000;
  let target;
  while (!target) {
    const { targetInfos } = await cdp.send('Target.getTargets');
    target = targetInfos.find((it) => it.url.endsWith('/popup/index.html?view=panel'));
    if (!target && Date.now() > deadline) {
      throw new Error(`no side panel within 10 s; targets: ${targetInfos.map((it) => `${it.type} ${it.url}`).join(', ')}`);
    }
    if (!target) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const { sessionId } = await cdp.send('Target.attachToTarget', { targetId: target.targetId, flatten: false });
  let nextId = 1;
  const waiting = new Map();
  cdp.on('Target.receivedMessageFromTarget', ({ sessionId: from, message }) => {
    if (from !== sessionId) return;
    const reply = JSON.parse(message);
    waiting.get(reply.id)?.(reply);
    waiting.delete(reply.id);
  });
  const call = async (method, params) => {
    const id = nextId++;
    const replied = new Promise((resolve) => waiting.set(id, resolve));
    await cdp.send('Target.sendMessageToTarget', { sessionId, message: JSON.stringify({ id, method, params }) });
    const reply = await withTimeout(replied, 10000, `the side panel did not answer ${method}`);
    if (reply.error || reply.result?.exceptionDetails) {
      throw new Error(`${method} in the side panel failed: ${JSON.stringify(reply.error ?? reply.result.exceptionDetails)}`);
    }
    return reply.result;
  };
  const evaluate = async (expression) => {
    const result = await call('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true });
    return result.result.value;
  };
  const waitFor = async (expression, what, timeout = 5000) => {
    const until = Date.now() + timeout;
    while (!(await evaluate(expression))) {
      if (Date.now() > until) throw new Error(`the side panel never showed ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  const type = async (text) => {
    await call('Input.insertText', { text });
    for (const type of ['keyDown', 'keyUp']) {
      await call('Input.dispatchKeyEvent', { type, key: 'Enter', code: 'Enter', windowsVirtualKeyCode: 13, text: type === 'keyDown' ? '\r' : undefined });
    }
  };
  return { evaluate, waitFor, type };
}

/** Whether the message log of a page (the side panel's, evaluated there) shows `text`. */
const logShows = (text) => `[...document.querySelectorAll('[role=log] *')].some((it) => it.textContent === ${JSON.stringify(text)})`;

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

test('the tab and the side panel show the same live view as the popup, both ways', { timeout: 120000 }, async (t) => {
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
    // "Open in the side panel" opens Chrome's side panel on the same page (the click is the user gesture
    // `sidePanel.open` needs); from the tab, which stays open.
    await tab.getByRole('button', { name: 'Open in the side panel' }).click();
    const panel = await sidePanel(browser);
    await panel.waitFor(`document.documentElement.dataset.view === 'panel' && !!document.querySelector('[role=log]')`, 'the conversation');
    assert.equal(await panel.evaluate(`!!document.querySelector('.open-panel') && getComputedStyle(document.querySelector('.open-panel')).display`), 'none',
      'no "Open in the side panel" inside the side panel');

    const box = tab.getByLabel('Message', { exact: true });
    await box.fill('written in the tab');
    let sent = performance.now();
    await box.press('Enter');
    await popup.getByRole('log', { name: 'Messages' }).getByText('written in the tab').waitFor({ timeout: 2000 });
    await panel.waitFor(logShows('written in the tab'), '"written in the tab"', 2000);
    console.log(`# from the tab's Enter to the popup and the side panel: ${Math.round(performance.now() - sent)} ms`);

    // Typed in the side panel: in the popup and the tab at once.
    await panel.evaluate(`document.querySelector('textarea').focus()`);
    sent = performance.now();
    await panel.type('written in the side panel');
    for (const view of [popup, tab]) {
      await view.getByRole('log', { name: 'Messages' }).getByText('written in the side panel').waitFor({ timeout: 2000 });
    }
    console.log(`# from the side panel's Enter to the popup and the tab: ${Math.round(performance.now() - sent)} ms`);

    // Going back in the popup goes back everywhere: one view.
    await popup.getByRole('button', { name: 'Back to conversations' }).click();
    await tab.getByRole('heading', { name: 'Conversations' }).waitFor({ timeout: 2000 });
    await panel.waitFor(`[...document.querySelectorAll('h2')].some((it) => it.textContent === 'Conversations')`, 'the conversation list', 2000);

    // From the toolbar popup's page the button opens the side panel and closes the popup: one view is enough.
    await Promise.all([popup.waitForEvent('close'), popup.getByRole('button', { name: 'Open in the side panel' }).click()]);
    assertNoProblems(browser);
  } finally {
    await browser.context.close();
  }
});

test('a dark theme chosen in Settings is on the page before its first paint', { timeout: 120000 }, async (t) => {
  const profile = freshProfileDir('popup-theme');
  t.after(() => removeProfileDir(profile));
  const browser = await launchBrowser(profile);
  try {
    let popup = await openPopupView(browser, { colorScheme: 'light' });
    await signIn(popup, 'jude', server.settings);
    await popup.getByText('Settings', { exact: true }).click();
    await popup.getByLabel('Theme').selectOption('dark');
    await popup.locator('html[data-theme="dark"]').waitFor({ state: 'attached' });
    await popup.close();
    // Before any script of the page runs, note the theme the document has when <body> first exists (the
    // parser reached it: nothing of the page was painted before) and at the first animation frame.
    await browser.context.addInitScript(() => {
      const seen = {};
      globalThis.multichatFirstTheme = seen;
      const note = () => {
        if (!('atBody' in seen) && document.body) seen.atBody = document.documentElement.dataset.theme ?? null;
      };
      new MutationObserver(note).observe(document, { childList: true, subtree: true });
      requestAnimationFrame(() => {
        note();
        seen.atFirstFrame = document.documentElement.dataset.theme ?? null;
        seen.background = getComputedStyle(document.documentElement).getPropertyValue('--bg').trim();
      });
    });
    popup = await openPopupView(browser, { colorScheme: 'light' });
    await popup.waitForFunction(() => 'atFirstFrame' in (globalThis.multichatFirstTheme ?? {}));
    const seen = await popup.evaluate(() => globalThis.multichatFirstTheme);
    assert.deepEqual(seen, { atBody: 'dark', atFirstFrame: 'dark', background: '#16181d' },
      'the first frame is dark on a light system');
    await popup.getByRole('heading', { name: 'Conversations' }).waitFor();
    assertNoProblems(browser);
  } finally {
    await browser.context.close();
  }
});
