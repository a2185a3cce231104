// The popup as a product (issue 16), languages: the popup speaks the browser's language (French, Simplified
// Chinese; English otherwise), `<html lang>` follows, and a language chosen in Settings wins and is kept.
// The browser's language is set with `--accept-lang` (headless Chromium ignores `--lang` and LANGUAGE).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  assertLoopbackOnly, assertNoProblems, freshProfileDir, launchBrowserInLanguage, openPopupView, removeProfileDir,
  startPeerServer,
} from './harness.mjs';

assertLoopbackOnly();

let server;
before(async () => { server = await startPeerServer({ port: 9162 }); });
after(() => server.close());

for (const [languages, lang, heading, settings] of [
  ['fr-FR,fr', 'fr', 'Choisissez un nom d’utilisateur', 'Réglages'],
  ['zh-CN,zh', 'zh-CN', '选择一个用户名', '设置'],
  ['de-DE,de', 'en', 'Choose a username', 'Settings'],
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
