// A chat user for end-to-end tests: one browser profile with its own copy of the extension, signed in on a
// given PeerJS server, driven through the popup by role and accessible name.
import { assertNoProblems, extensionCopy, freshProfileDir, launchBrowser, openPopup, removeProfileDir, signIn } from './harness.mjs';

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
