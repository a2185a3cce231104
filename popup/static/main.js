// Loads the popup's wasm; `popup_main` (#[wasm_bindgen(start)]) mounts the Dioxus app into #main.
import init from './multichat_popup.js';

init();
