// The store packages: the Chrome Web Store zip that `cargo xtask package` writes is unpacked and loaded into
// real Chromium, where the extension starts, signs in and goes online; the Firefox zip's manifest has only
// what Firefox reads, and the source archive holds the tree a reviewer rebuilds from.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import {
  assertLoopbackOnly, assertNoProblems, freshProfileDir, launchBrowser, openPopup, removeProfileDir, signIn,
  startPeerServer,
} from './harness.mjs';

assertLoopbackOnly();

const PACKAGES = process.env.MULTICHAT_PACKAGES;

let server;
before(async () => { server = await startPeerServer({ port: 9145 }); });
after(() => server.close());

/** The one archive of `kind` (chrome, firefox, source) in the package folder. */
function archive(kind) {
  assert.ok(PACKAGES, 'MULTICHAT_PACKAGES is not set; run the e2e tests with `cargo xtask test`');
  const found = fs.readdirSync(PACKAGES).filter((it) => it.endsWith(`-${kind}.zip`));
  assert.equal(found.length, 1, `one ${kind} archive in ${PACKAGES}: ${found}`);
  return path.join(PACKAGES, found[0]);
}

function unpack(zip) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'multichat-package-'));
  execFileSync('unzip', ['-q', zip, '-d', dir]);
  return dir;
}

function listing(zip) {
  return execFileSync('unzip', ['-Z1', zip], { encoding: 'utf8', maxBuffer: 64 << 20 }).split('\n').filter(Boolean);
}

test('the Chrome Web Store zip loads, signs in and goes online', { timeout: 90000 }, async (t) => {
  const dir = unpack(archive('chrome'));
  const profile = freshProfileDir('package');
  t.after(() => { removeProfileDir(profile); fs.rmSync(dir, { recursive: true, force: true }); });
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
  assert.equal(manifest.background.service_worker, 'background/worker.js');
  assert.equal(manifest.background.scripts, undefined, 'Chrome warns about background.scripts');
  assert.equal(manifest.browser_specific_settings, undefined, 'Chrome warns about browser_specific_settings');
  const browser = await launchBrowser(profile, { extensionDir: dir });
  try {
    const popup = await openPopup(browser);
    await signIn(popup, 'packaged', server.settings);
    assertNoProblems(browser);
  } finally {
    await browser.context.close();
  }
});

test('the Firefox zip names only what Firefox reads, with the same version', () => {
  const chrome = JSON.parse(execFileSync('unzip', ['-p', archive('chrome'), 'manifest.json'], { encoding: 'utf8' }));
  const firefox = JSON.parse(execFileSync('unzip', ['-p', archive('firefox'), 'manifest.json'], { encoding: 'utf8' }));
  assert.equal(firefox.version, chrome.version);
  assert.ok(firefox.background.scripts.includes('background/worker.js'), 'Firefox runs worker.js as its background page');
  assert.equal(firefox.background.service_worker, undefined);
  assert.ok(!firefox.permissions.includes('offscreen'), 'Firefox has no offscreen documents');
  assert.equal(firefox.browser_specific_settings.gecko.strict_min_version, '140.0');
  assert.deepEqual(firefox.browser_specific_settings.gecko.data_collection_permissions, { required: ['none'] });
  // Both zips carry the same built files.
  assert.deepEqual(listing(archive('firefox')).sort(), listing(archive('chrome')).sort());
});

test('the source archive is the committed tree a reviewer rebuilds from', () => {
  const files = listing(archive('source'));
  const top = new Set(files.map((it) => it.split('/')[1]).filter(Boolean));
  for (const needed of ['Cargo.toml', 'Cargo.lock', 'manifest.json', 'package.json', 'package-lock.json', 'README.md', 'src', 'popup', 'background', 'xtask']) {
    assert.ok(top.has(needed), `${needed} is in the source archive`);
  }
  for (const built of ['dist', 'target', 'node_modules']) {
    assert.ok(!top.has(built), `${built} is not in the source archive`);
  }
});
