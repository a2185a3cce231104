// Chrome's offscreen document: loads the background wasm and starts the engine that holds connections.
import init, { offscreen_main } from './multichat_background.js';

await init();
offscreen_main();
