// The service worker's entry (and, in Firefox, the worker half of the background page).
//
// Chrome delivers the event that woke the worker right after this module's first evaluation, so listeners
// must exist by then; but the worker's wasm is fetched and compiled asynchronously (embedding it as base64
// made this script 1.2 MB to parse and decode on every start). Until the wasm is up, the listener below keeps
// what arrives: ports from popups and from the engine (with the frames they carry, and whether they closed),
// and the engine's frames on its lane.
// Then the wasm registers its own listener and is handed what was kept, in order; notification clicks too.
import init, { service_worker_main } from './multichat_background.js';

const runtime = chrome.runtime;
const kept = [];

function keepPort(port) {
  const entry = { port, frames: [], gone: false };
  entry.onFrame = (frame) => entry.frames.push(frame);
  entry.onGone = () => { entry.gone = true; };
  port.onMessage.addListener(entry.onFrame);
  port.onDisconnect.addListener(entry.onGone);
  kept.push(entry);
}

runtime.onConnect.addListener(keepPort);

// A click on a notification can wake the worker too: kept the same way, by notification id.
const clicked = chrome.notifications.onClicked;
const clicks = [];
function keepClick(id) {
  clicks.push(id);
}
clicked.addListener(keepClick);

// The offscreen engine's lane (ServiceWorker messaging, see web/src/worker_lane.rs): its frames can wake the
// worker too. Kept here until the wasm sets `take`, then handed to it, first what was kept.
const lane = { kept: [], take: null };
globalThis.multichatEngineLane = lane;
if (typeof ServiceWorkerGlobalScope !== 'undefined' && self instanceof ServiceWorkerGlobalScope) {
  self.addEventListener('message', (event) => (lane.take ? lane.take(event) : lane.kept.push(event)));
}

// Runs `register` and returns the listeners it added to each of `events`.
function listenersAddedBy(events, register) {
  const added = events.map(() => []);
  const restore = events.map((event, i) => {
    const own = Object.getOwnPropertyDescriptor(event, 'addListener');
    const addListener = event.addListener;
    event.addListener = (listener) => {
      added[i].push(listener);
      addListener.call(event, listener);
    };
    return () => (own ? Object.defineProperty(event, 'addListener', own) : delete event.addListener);
  });
  try {
    register();
  } finally {
    restore.forEach((it) => it());
  }
  return added;
}

init().then(() => {
  const [onConnect, onClicked] = listenersAddedBy([runtime.onConnect, clicked], service_worker_main);
  runtime.onConnect.removeListener(keepPort);
  clicked.removeListener(keepClick);
  for (const id of clicks.splice(0)) onClicked.forEach((listener) => listener(id));
  for (const { port, frames, gone, onFrame, onGone } of kept.splice(0)) {
    port.onMessage.removeListener(onFrame);
    port.onDisconnect.removeListener(onGone);
    const [frameListeners, goneListeners] = listenersAddedBy([port.onMessage, port.onDisconnect], () => {
      onConnect.forEach((listener) => listener(port));
    });
    for (const frame of frames) frameListeners.forEach((listener) => listener(frame, port));
    if (gone) goneListeners.forEach((listener) => listener(port));
  }
}, (err) => console.error('multichat: the worker did not start:', err));
