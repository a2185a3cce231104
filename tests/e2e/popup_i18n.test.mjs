// The popup as a product (issue 16), languages: the popup speaks the browser's language (French, Simplified
// Chinese; English otherwise), the worker's words (a refused username) and the connection test's findings
// included, `<html lang>` follows, and a language chosen in Settings wins and is kept.
// The browser's language is set with `--accept-lang` (headless Chromium ignores `--lang` and LANGUAGE).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  assertLoopbackOnly, assertNoProblems, freshProfileDir, launchBrowserInLanguage, openPopupView, removeProfileDir,
  startPeerServer,
} from './harness.mjs';

assertLoopbackOnly();

const PORT = 9162;
let server;
before(async () => { server = await startPeerServer({ port: PORT }); });
after(() => server.close());

for (const [languages, lang, heading, settings, refused, testButton, reachable] of [
  ['fr-FR,fr', 'fr', 'Choisissez un nom d’utilisateur', 'Réglages', 'ne peut contenir que des lettres A-Z',
    'Tester la connexion', `Serveur de signalisation 127.0.0.1:${PORT} : joignable.`],
  ['zh-CN,zh', 'zh-CN', '选择一个用户名', '设置', '用户名只能使用字母 A-Z', '测试连接', `信令服务器 127.0.0.1:${PORT}：可以连接。`],
  ['de-DE,de', 'en', 'Choose a username', 'Settings', 'may only use letters A-Z', 'Test connection',
    `Signaling server 127.0.0.1:${PORT}: reachable.`],
]) {
  test(`a browser in ${languages} shows the popup in ${lang}`, { timeout: 60000 }, async (t) => {
    const profile = freshProfileDir(`popup-i18n-${lang}`);
    t.after(() => removeProfileDir(profile));
    const browser = await launchBrowserInLanguage(profile, languages);
    try {
      const popup = await openPopupView(browser);
      await popup.getByRole('heading', { name: heading }).waitFor();
      assert.equal(await popup.evaluate(() => document.documentElement.lang), lang);
      await popup.getByText(settings, { exact: true }).waitFor();
      // The worker's refusal of a username, in the popup's language.
      await popup.locator('#username').fill('bad name!');
      await popup.locator('#username').press('Enter');
      await popup.getByRole('alert').filter({ hasText: refused }).waitFor();
      // The connection test's findings, in the popup's language.
      await popup.getByText(settings, { exact: true }).click();
      await popup.locator('#server-host').fill('127.0.0.1');
      await popup.locator('#server-port').fill(String(PORT));
      await popup.locator('#server-path').fill(server.path);
      // The first checkbox of the connection group: "Use a secure connection (wss)", off for this server.
      await popup.locator('fieldset.group label.check input[type=checkbox]').first().uncheck();
      await popup.locator('#ice-servers').fill('');
      await popup.getByRole('button', { name: testButton }).click();
      await popup.getByText(reachable, { exact: true }).waitFor({ timeout: 20000 });
      assertNoProblems(browser);
    } finally {
      await browser.context.close();
    }
  });
}

test('a language chosen in Settings wins over the browser\'s, and is kept', { timeout: 60000 }, async (t) => {
  const profile = freshProfileDir('popup-i18n-choice');
  t.after(() => removeProfileDir(profile));
  const browser = await launchBrowserInLanguage(profile, 'fr-FR,fr');
  try {
    let popup = await openPopupView(browser);
    await popup.getByText('Réglages', { exact: true }).click();
    await popup.getByLabel('Langue').selectOption('zh_CN');
    await popup.getByRole('heading', { name: '选择一个用户名' }).waitFor();
    await popup.close();
    popup = await openPopupView(browser);
    await popup.getByRole('heading', { name: '选择一个用户名' }).waitFor();
    await popup.getByText('设置', { exact: true }).click();
    await popup.getByLabel('语言').selectOption('');
    await popup.getByRole('heading', { name: 'Choisissez un nom d’utilisateur' }).waitFor();
    assertNoProblems(browser);
  } finally {
    await browser.context.close();
  }
});
