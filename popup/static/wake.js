// Wakes the background service worker at once, so that its start (and its storage reads) overlap the
// loading of the popup's wasm instead of following it. Nobody answers this message; that is expected.
chrome.runtime.sendMessage({ to: 'wake' }).catch(() => {});
