// For benchmarks, on request: CPU profiles of the extension's service worker, engine (the offscreen
// document) and popup while a benchmark runs, through the DevTools endpoint the harness opens on loopback
// (`--remote-debugging-port=0`; Playwright does not surface the offscreen document). Set
// MULTICHAT_BENCH_PROFILE=<dir> to have the flood bench write `<dir>/<target>.cpuprofile` (open in Chrome's
// DevTools) and print each target's busy share and its costliest functions by self time.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';

const TARGETS = [
  ['worker', (target) => target.type === 'service_worker'],
  ['engine', (target) => target.url.endsWith('/background/offscreen.html')],
  ['popup', (target) => target.type === 'page' && target.url.endsWith('/popup/index.html')],
];

function session(url) {
  const socket = new WebSocket(url);
  let next = 0;
  const waiting = new Map();
  socket.on('message', (data) => {
    const { id, result, error } = JSON.parse(data.toString());
    if (!waiting.has(id)) return;
    const [resolve, reject] = waiting.get(id);
    waiting.delete(id);
    if (error) reject(new Error(error.message));
    else resolve(result);
  });
  const opened = new Promise((resolve, reject) => {
    socket.on('open', resolve);
    socket.on('error', reject);
  });
  const send = async (method, params = {}) => {
    await opened;
    next += 1;
    const id = next;
    socket.send(JSON.stringify({ id, method, params }));
    return new Promise((resolve, reject) => waiting.set(id, [resolve, reject]));
  };
  return { send, close: () => socket.close() };
}

/** Starts sampling the worker, the engine and the popup of the browser running `profileDir`; returns `stop()`. */
export async function startProfiles(profileDir) {
  const port = readFileSync(join(profileDir, 'DevToolsActivePort'), 'utf8').split('\n')[0];
  const targets = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
  const running = [];
  for (const [name, matches] of TARGETS) {
    const target = targets.find(matches);
    if (!target) continue;
    const cdp = session(target.webSocketDebuggerUrl);
    await cdp.send('Profiler.enable');
    await cdp.send('Profiler.setSamplingInterval', { interval: 250 });
    await cdp.send('Profiler.start');
    running.push([name, cdp]);
  }
  return async (outDir) => {
    for (const [name, cdp] of running) {
      const { profile } = await cdp.send('Profiler.stop');
      cdp.close();
      writeFileSync(join(outDir, `${name}.cpuprofile`), JSON.stringify(profile));
      summarize(name, profile);
    }
  };
}

function summarize(name, profile, top = 25) {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map();
  const dt = profile.timeDeltas;
  let total = 0;
  let idle = 0;
  profile.samples.forEach((id, i) => {
    const ms = (dt[i + 1] ?? 0) / 1000;
    total += ms;
    const frame = byId.get(id).callFrame;
    if (frame.functionName === '(idle)') idle += ms;
    const key = `${frame.functionName || '(anonymous)'} ${frame.url.split('/').pop()}:${frame.lineNumber}`;
    self.set(key, (self.get(key) ?? 0) + ms);
  });
  console.log(`  profile ${name}: ${total.toFixed(0)} ms sampled, busy ${(100 - (100 * idle) / total).toFixed(0)}%`);
  for (const [key, ms] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`    ${ms.toFixed(1).padStart(8)} ms  ${key}`);
  }
}
