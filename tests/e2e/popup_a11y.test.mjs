// The popup as a product (issue 16), accessibility: every screen passes axe-core with 0 violations in the
// light and the dark theme, and is screenshotted in both (target/screenshots/<screen>-<theme>.png). Then the
// keyboard (visible focus, Esc goes back, Alt+N starts a conversation, arrow keys in the conversation list),
// "Share my username"'s Copy,
// an error on the home screen inside the 380x600 popup, a PeerJS id understood as a username, a username that
// was never online told apart, and the passphrase's rough edges (refused input kept, the 8-character rule
// stated, "Forgot passphrase: erase and start over" after a confirmation).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  assertLoopbackOnly, assertNoProblems, axeViolations, freshProfileDir, launchBrowser, launchStockBrowser, openPopupView,
  peerjsPageFiles, removeProfileDir, screenshot, signIn, startPeerServer, startStaticServer,
} from './harness.mjs';

assertLoopbackOnly();

let server;
before(async () => { server = await startPeerServer({ port: 9161 }); });
after(() => server.close());

const THEMES = ['light', 'dark'];

/**
 * Opens the popup once per theme (the system's colour scheme), brings it to the screen with `prepare`,
 * screenshots it and runs axe; fails with every violation of every theme. One line per screen.
 */
async function checkScreen(browser, name, prepare) {
  const failures = [];
  for (const colorScheme of THEMES) {
    const page = await openPopupView(browser, { colorScheme });
    try {
      await prepare(page);
      // Let transitions of the view (and the catalogue) settle before judging and photographing it.
      await page.waitForTimeout(200);
      await screenshot(page, `${name}-${colorScheme}`);
      for (const violation of await axeViolations(page)) failures.push(`${name} (${colorScheme}): ${violation}`);
    } finally {
      await page.close();
    }
  }
  assert.deepEqual(failures, [], `axe-core violations:\n${failures.join('\n')}`);
}

const home = (page) => page.getByRole('heading', { name: 'Conversations' }).waitFor();

/** A stranger: the stock `peerjs` client of tests/e2e/stranger/, signed in to the test's server as `name`. */
async function strangerPage(strangers, pages, name) {
  const page = await strangers.context.newPage();
  await page.goto(pages.url('/index.html'));
  await page.waitForFunction(() => window.stranger && typeof window.peerjs?.Peer === 'function');
  await page.evaluate(({ name, settings }) => window.stranger.register(name, settings), { name, settings: server.settings });
  return page;
}

test('every screen passes axe-core in light and dark, and is screenshotted in both', { timeout: 240000 }, async (t) => {
  const profile = freshProfileDir('popup-a11y');
  t.after(() => removeProfileDir(profile));
  const browser = await launchBrowser(profile);
  const strangers = await launchStockBrowser();
  const pages = await startStaticServer(peerjsPageFiles('stranger'));
  t.after(async () => {
    await strangers.browser.close();
    await pages.close();
  });
  try {
    await checkScreen(browser, 'sign-in', (page) => page.getByLabel('Username', { exact: true }).waitFor());
    const popup = await openPopupView(browser);
    await signIn(popup, 'alice', server.settings);
    await checkScreen(browser, 'home-empty', home);
    // A conversation with someone never online: its notice and its composer.
    await popup.getByLabel('Username to chat with').fill('bob');
    await popup.getByRole('button', { name: 'Chat', exact: true }).click();
    await popup.getByRole('log', { name: 'Messages' }).waitFor();
    await popup.getByText('multichat has never reached bob').waitFor({ timeout: 20000 });
    await checkScreen(browser, 'conversation', (page) => page.getByText('multichat has never reached bob').waitFor());
    await popup.getByRole('button', { name: 'Back to conversations' }).click();
    await checkScreen(browser, 'home', async (page) => {
      await home(page);
      await page.getByRole('button', { name: /^bob\b/ }).waitFor();
    });
    await checkScreen(browser, 'share-username', async (page) => {
      await page.getByText('Share my username').click();
      await page.getByRole('img', { name: 'QR code of the username alice' }).waitFor();
    });
    await checkScreen(browser, 'settings', async (page) => {
      await page.getByText('Settings', { exact: true }).click();
      await page.getByRole('group', { name: 'Connection (advanced)' }).waitFor();
    });
    await checkScreen(browser, 'your-data', async (page) => {
      await page.getByText('Your data', { exact: true }).click();
      await page.getByText('Protect history with a passphrase').click();
      await page.getByText('At least 8 characters.').waitFor();
    });
    // Search across the conversations: the field and its status, opened from the home screen.
    await checkScreen(browser, 'search', async (page) => {
      await page.getByRole('button', { name: 'Search messages' }).click();
      await page.getByRole('combobox', { name: 'Search messages' }).fill('hello');
      await page.getByRole('status').filter({ hasText: 'No message contains' }).waitFor();
    });
    // A message request: a stranger on the stock peerjs client writes to alice, who has no conversation.
    const sam = await strangerPage(strangers, pages, 'sam');
    await sam.evaluate(() => window.stranger.write('alice', ['hi alice, it is sam']));
    await popup.getByRole('listitem', { name: 'Message request from sam' }).waitFor({ timeout: 20000 });
    await checkScreen(browser, 'requests', (page) => page.getByRole('button', { name: 'sam: accept the message request' }).waitFor());

    // Locked: the unlock screen, and the erase confirmation (a loud warning, readable in both themes).
    await popup.getByText('Protect history with a passphrase').click();
    await popup.getByLabel('New passphrase').fill('correct horse battery');
    await popup.getByLabel('Repeat passphrase').fill('correct horse battery');
    await popup.getByRole('button', { name: 'Set passphrase' }).click();
    await popup.getByRole('button', { name: 'Lock now' }).click({ timeout: 20000 });
    await popup.getByLabel('Passphrase', { exact: true }).waitFor();
    await checkScreen(browser, 'unlock', (page) => page.getByLabel('Passphrase', { exact: true }).waitFor());
    await checkScreen(browser, 'unlock-erase', async (page) => {
      await page.getByRole('button', { name: 'Forgot passphrase: erase and start over' }).click();
      await page.getByRole('alertdialog').waitFor();
    });

    // The theme chosen in Settings wins over the system's: Dark on a light system.
    await popup.getByLabel('Passphrase', { exact: true }).fill('correct horse battery');
    await popup.getByRole('button', { name: 'Unlock', exact: true }).click();
    await home(popup);
    await popup.getByText('Settings', { exact: true }).click();
    await popup.getByLabel('Theme').selectOption('dark');
    await popup.locator('html[data-theme="dark"]').waitFor({ state: 'attached' });
    const background = await popup.evaluate(() => getComputedStyle(document.body).backgroundColor);
    assert.equal(background, 'rgb(22, 24, 29)', 'the dark background on a light system');
    await checkScreen(browser, 'settings-dark-chosen', async (page) => {
      await page.locator('html[data-theme="dark"]').waitFor({ state: 'attached' });
      await page.getByText('Settings', { exact: true }).click();
    });
    await popup.getByLabel('Theme').selectOption('system');
    await popup.locator('html:not([data-theme])').waitFor({ state: 'attached' });
    assertNoProblems(browser);
    assert.deepEqual(strangers.problems, []);
  } finally {
    await browser.context.close();
  }
});

test('keyboard, errors in sight, ids understood, and the passphrase rough edges', { timeout: 180000 }, async (t) => {
  const profile = freshProfileDir('popup-keys');
  t.after(() => removeProfileDir(profile));
  const browser = await launchBrowser(profile);
  try {
    const popup = await openPopupView(browser);
    await signIn(popup, 'carol', server.settings);

    // "Share my username": Copy hands the username to the clipboard, which takes it, and says so. (No
    // clipboard permission can be granted to an extension's origin here, so what is written is noted on the
    // way: the real `writeText` still does the writing.)
    await popup.evaluate(() => {
      const write = navigator.clipboard.writeText.bind(navigator.clipboard);
      navigator.clipboard.writeText = (text) => { globalThis.copiedText = text; return write(text); };
    });
    await popup.getByText('Share my username').click();
    await popup.getByRole('button', { name: 'Copy', exact: true }).click();
    await popup.getByRole('status').filter({ hasText: 'Copied.' }).waitFor();
    assert.equal(await popup.evaluate(() => globalThis.copiedText), 'carol');
    await popup.getByText('Share my username').click();

    // An error on the home screen shows next to the control, inside the 380x600 popup.
    await popup.getByLabel('Username to chat with').fill('bad name!');
    await popup.getByRole('button', { name: 'Chat', exact: true }).click();
    const alert = popup.getByRole('alert').filter({ hasText: 'only use letters' });
    await alert.waitFor();
    const box = await alert.boundingBox();
    const main = await popup.locator('main').boundingBox();
    assert.ok(box && box.y >= main.y && box.y + box.height <= Math.min(main.y + main.height, 600),
      `the error is at ${JSON.stringify(box)}, outside the visible ${JSON.stringify(main)}`);

    // A PeerJS id pasted where a username is expected is understood as the username.
    await popup.getByLabel('Username to chat with').fill('secure-p2p-multichat-dave');
    await popup.getByRole('button', { name: 'Chat', exact: true }).click();
    await popup.getByRole('heading', { name: 'dave', exact: true }).waitFor();
    // Esc goes back; a second conversation for the arrow keys.
    await popup.getByLabel('Message', { exact: true }).press('Escape');
    await popup.getByRole('heading', { name: 'Conversations' }).waitFor();
    await popup.getByLabel('Username to chat with').fill('erin');
    await popup.getByRole('button', { name: 'Chat', exact: true }).click();
    await popup.getByRole('heading', { name: 'erin', exact: true }).waitFor();

    // Alt+N from a conversation: back home, in "Username to chat with".
    await popup.keyboard.press('Alt+n');
    await popup.getByRole('heading', { name: 'Conversations' }).waitFor();
    await popup.waitForFunction(() => document.activeElement?.id === 'chat-with', null, { timeout: 5000 }).catch(async (err) => {
      throw new Error(`${err.message}; focused: ${await popup.evaluate(() => document.activeElement?.outerHTML.slice(0, 120))}`);
    });

    // Up and Down move through the conversation list; the focus is visible.
    await popup.locator('#room-0').focus();
    await popup.keyboard.press('ArrowDown');
    assert.equal(await popup.evaluate(() => document.activeElement.id), 'room-1');
    await popup.keyboard.press('ArrowUp');
    assert.equal(await popup.evaluate(() => document.activeElement.id), 'room-0');
    await popup.keyboard.press('Tab');
    await popup.keyboard.press('Shift+Tab');
    const outline = await popup.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
    assert.equal(outline, 'solid', 'the focused conversation is outlined');

    // The passphrase: the rule is stated, and a refused passphrase stays typed.
    await popup.getByText('Protect history with a passphrase').click();
    await popup.getByText('At least 8 characters.').waitFor();
    await popup.getByLabel('New passphrase').fill('short');
    await popup.getByLabel('Repeat passphrase').fill('short');
    await popup.getByRole('button', { name: 'Set passphrase' }).click();
    await popup.getByRole('alert').filter({ hasText: 'at least 8 characters' }).waitFor();
    assert.equal(await popup.getByLabel('New passphrase').inputValue(), 'short', 'a refused passphrase is kept');
    assert.equal(await popup.getByLabel('Repeat passphrase').inputValue(), 'short');
    await popup.getByLabel('New passphrase').fill('a long enough one');
    await popup.getByLabel('Repeat passphrase').fill('a long enough one');
    await popup.getByRole('button', { name: 'Set passphrase' }).click();
    await popup.getByRole('button', { name: 'Lock now' }).click({ timeout: 20000 });

    // Locked: a wrong passphrase stays typed; "Forgot passphrase" erases everything after a confirmation.
    await popup.getByLabel('Passphrase', { exact: true }).fill('not it at all');
    await popup.getByRole('button', { name: 'Unlock', exact: true }).click();
    await popup.getByRole('alert').filter({ hasText: 'not right' }).waitFor({ timeout: 20000 });
    assert.equal(await popup.getByLabel('Passphrase', { exact: true }).inputValue(), 'not it at all');
    await popup.getByRole('button', { name: 'Forgot passphrase: erase and start over' }).click();
    await popup.getByRole('button', { name: 'Cancel' }).click();
    await popup.getByRole('button', { name: 'Forgot passphrase: erase and start over' }).click();
    await popup.getByRole('button', { name: 'Erase everything and start over' }).click();
    await popup.getByLabel('Username', { exact: true }).waitFor({ timeout: 20000 });
    const [worker] = browser.context.serviceWorkers();
    const left = Object.keys(await worker.evaluate(() => chrome.storage.local.get(null)));
    assert.deepEqual(left.filter((key) => key !== 'schema_version'), [], 'nothing is left in storage');
    assertNoProblems(browser);
  } finally {
    await browser.context.close();
  }
});
