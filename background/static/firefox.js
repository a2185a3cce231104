// Firefox's background page hosts both the worker and the engine (Firefox has no offscreen documents).
// The worker (worker.js, listed after this file) starts at once; the engine's wasm is loaded only when the
// worker first wants it, as Chrome creates its offscreen document only then. The worker calls this with its
// report function and gets back the engine's command function.
globalThis.multichatLoadEngine = async (report) => {
  const engine = await import('./multichat_engine.js');
  await engine.default();
  return engine.page_engine_main(report);
};
