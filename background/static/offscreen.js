// Chrome's offscreen document: loads the engine's wasm (not the worker's) and starts the engine that holds
// connections. It talks to the worker over chrome.runtime messages.
import init, { offscreen_main } from './multichat_engine.js';

await init();
offscreen_main();
