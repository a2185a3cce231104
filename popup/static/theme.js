// Runs before the first paint (a classic script in <head>): the view's kind from the URL, and the theme the
// popup last applied (its cache of the worker's setting, `apply_theme` in popup/src/app.rs), so a dark
// choice never opens on a light frame while the wasm loads.
document.documentElement.dataset.view = new URLSearchParams(location.search).get('view') ?? 'popup';
try {
  const theme = localStorage.getItem('multichat-theme');
  if (theme === 'dark' || theme === 'light') document.documentElement.dataset.theme = theme;
} catch {
  // No localStorage here: the system's theme until the worker's view arrives.
}
