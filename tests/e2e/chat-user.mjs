// A chat user for end-to-end tests: one browser profile with its own copy of the extension, signed in on a
// given PeerJS server, driven through the popup by role and accessible name.
import {
  assertNoFirefoxProblems, assertNoProblems, extensionCopy, freshProfileDir, installFirefoxAddon, launchBrowser, launchFirefox, openFirefoxPopup,
  openPopup, removeProfileDir, signIn, signInFirefox,
} from './harness.mjs';

/** Directories to remove when the test file ends (`removeAll` in an `after` hook). */
const made = [];

export async function chatUser(name, server) {
  const profile = freshProfileDir(name);
  const extensionDir = extensionCopy(name);
  made.push(profile, extensionDir);
  const browser = await launchBrowser(profile, { extensionDir });
  const popup = await openPopup(browser);
  await signIn(popup, name, server.settings);
  return { name, profile, extensionDir, browser, popup };
}

/** Closes a user's browser and opens it again on the same profile (a browser restart). */
export async function relaunch(u) {
  await u.browser.context.close();
  u.browser = await launchBrowser(u.profile, { extensionDir: u.extensionDir });
  u.popup = await openPopup(u.browser);
}

export function removeAll() {
  for (const dir of made.splice(0)) removeProfileDir(dir);
}

export async function openDirect(u, other) {
  await u.popup.getByLabel('Username to chat with').fill(other);
  await u.popup.getByRole('button', { name: 'Chat', exact: true }).click();
  await u.popup.getByRole('log', { name: 'Messages' }).waitFor();
}

export async function send(u, text) {
  const box = u.popup.getByLabel('Message', { exact: true });
  await box.fill(text);
  await box.press('Enter');
  await u.popup.getByRole('log', { name: 'Messages' }).getByText(text, { exact: true }).waitFor();
}

export async function expectMessage(u, text, timeout = 20000) {
  await u.popup.getByRole('log', { name: 'Messages' }).getByText(text, { exact: true }).waitFor({ timeout });
}

/** True when `text` is in the open conversation's log. */
export async function hasMessage(u, text) {
  return (await u.popup.getByRole('log', { name: 'Messages' }).getByText(text, { exact: true }).count()) > 0;
}

export async function openConversation(u, title) {
  await u.popup.getByRole('button', { name: new RegExp(`^${title}\\b`) }).first().click();
  await u.popup.getByRole('log', { name: 'Messages' }).waitFor();
}

/** Fails on console errors or CSP violations in any of the users' extension pages, then closes them. */
export async function closeUsers(...users) {
  for (const u of users) {
    if (!u?.browser) continue;
    assertNoProblems(u.browser);
    await u.browser.context.close();
    u.browser = null;
  }
}

// Firefox users (puppeteer over WebDriver BiDi, so CSS selectors instead of Playwright's role locators). Each
// has its own kept profile with the add-on installed for good, so it survives `relaunchFirefox`.

export async function firefoxUser(name, server) {
  const profile = freshProfileDir(`firefox-${name}`);
  made.push(profile);
  installFirefoxAddon(profile);
  const ff = await launchFirefox({ profileDir: profile });
  const popup = await openFirefoxPopup(ff);
  await signInFirefox(popup, name, server);
  return { name, profile, firefox: ff, popup };
}

/** Quits Firefox and starts it again on the same profile (the add-on is installed there, not temporary). */
export async function relaunchFirefox(u) {
  assertNoFirefoxProblems(u.firefox);
  await u.firefox.browser.close();
  u.firefox = await launchFirefox({ profileDir: u.profile });
  u.popup = await openFirefoxPopup(u.firefox);
}

export async function closeFirefoxUsers(...users) {
  for (const u of users) {
    if (!u?.firefox) continue;
    assertNoFirefoxProblems(u.firefox);
    await u.firefox.browser.close();
    u.firefox = null;
  }
}

export async function ffOpenDirect(u, other) {
  await u.popup.locator('#chat-with').fill(other);
  await u.popup.click('section.start form button[type=submit]');
  await u.popup.waitForSelector('[role=log][aria-label=Messages]', { timeout: 15000 });
}

/** Opens the conversation whose list entry starts with `title`, accepting its message request if it is one. */
export async function ffOpenConversation(u, title, timeout = 20000) {
  const button = await u.popup.waitForFunction(
    // A first message from someone new is a message request; its Accept button is named for the sender and opens it.
    (title) => [...document.querySelectorAll('button.room, li.request button')]
      .find((it) => (it.getAttribute('aria-label') ?? '').match(new RegExp(`^${title}\\b`))),
    { timeout }, title);
  await button.asElement().click();
  await u.popup.waitForSelector('[role=log][aria-label=Messages]', { timeout: 15000 });
}

export async function ffSend(u, text) {
  // Puppeteer's typing over BiDi splits characters outside the BMP (emoji) into two broken halves, so the
  // text is put in as an input event would leave it; Enter is a real key press.
  await u.popup.$eval('textarea[aria-label=Message]', (box, text) => {
    box.value = text;
    box.dispatchEvent(new Event('input', { bubbles: true }));
  }, text);
  await u.popup.focus('textarea[aria-label=Message]');
  await u.popup.keyboard.press('Enter');
  await ffExpectMessage(u, text, 10000);
}

export async function ffExpectMessage(u, text, timeout = 20000) {
  await u.popup.waitForFunction(
    (text) => [...document.querySelectorAll('[role=log] .message p.text')].some((it) => it.textContent === text),
    { timeout }, text);
}

/** Waits until the Members list of the open conversation shows `words` (for a group, on `member`'s line). */
export async function ffExpectMember(u, words, { member, timeout = 15000 } = {}) {
  await u.popup.waitForFunction(
    (words, member) => [...document.querySelectorAll('ul.members li')]
      .some((it) => (!member || it.textContent.includes(member)) && it.textContent.includes(words)),
    { timeout }, words, member ?? null);
}

/** The delivery state ("Delivered", "Sending…") of my message `text`. */
export async function ffStateOf(u, text) {
  return u.popup.evaluate((text) => [...document.querySelectorAll('[role=log] .message.mine')]
    .find((it) => it.querySelector('p.text')?.textContent === text)?.querySelector('.state')?.textContent ?? null, text);
}
