// Loads the popup's wasm; `popup_main` (#[wasm_bindgen(start)]) mounts the Dioxus app into #main.
// The same page is the toolbar popup, a tab (`?view=tab`) and the side panel (`?view=panel`); the stylesheet
// sizes it by `data-view`, which `theme.js` set before the first paint.
import init from './multichat_popup.js';

init();
