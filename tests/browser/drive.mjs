// Drives the softphone page in headless Debian Chromium for the Rust
// browser_* tests (tests/src/browser.rs).
//
//   node tests/browser/drive.mjs [--audio FILE.wav] [--chromium PATH]
//
// One browser process (its fake microphone plays FILE.wav, looped, to
// every page), one isolated context per named page. Commands arrive as
// JSON lines on stdin and each gets one JSON line on stdout:
// {"ok": true, ...} or {"ok": false, "error": "..."}. Page console output
// and errors go to stderr, prefixed with the page name.
//
// Commands ({"cmd": ..., "page": NAME, ...}):
//   open {url}                      new context + page, waits for the page
//   register {extension, password, timeout_ms}
//                                   fills the form, clicks Register, waits
//                                   for registered/failed; returns the state
//   call {target}                   fills the number, clicks Call
//   wait_call {states, timeout_ms}  waits until the call status is one of
//                                   states (incoming, active, ended, ...)
//   answer | hangup | mute          clicks that button
//   dtmf {tones}                    clicks the keys, one at a time, each
//                                   after the sender's tone buffer emptied
//   state                           window.softphone.state()
//   stats                           getStats() summary (see summarise)
//   wait_media {packets_above, energy_above, timeout_ms}
//                                   polls stats until inbound-rtp
//                                   packetsReceived > packets_above and
//                                   totalAudioEnergy > energy_above
//   close                           closes the page's context
//   quit                            closes the browser and exits
import { createInterface } from 'node:readline';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));

function option(name) {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
}

const audio = option('--audio');
// chromium.sh merges the --disable-features lists (see there).
const executablePath = option('--chromium') || join(here, 'chromium.sh');

const args = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--use-fake-ui-for-media-stream',
  '--use-fake-device-for-media-stream',
  '--allow-loopback-in-peer-connection',
  '--autoplay-policy=no-user-gesture-required',
  '--disable-features=WebRtcHideLocalIpsWithMdns',
];
if (audio) args.push(`--use-file-for-fake-audio-capture=${audio}`);

// Every RTCPeerConnection a page makes, for stats after JsSIP let go of it.
const INIT = `(() => {
  const Native = window.RTCPeerConnection;
  window.__peerConnections = [];
  window.RTCPeerConnection = class extends Native {
    constructor(...a) { super(...a); window.__peerConnections.push(this); }
  };
})();`;

const browser = await chromium.launch({ executablePath, headless: true, args });
const pages = new Map();

function out(reply) {
  process.stdout.write(`${JSON.stringify(reply)}\n`);
}

function page(name) {
  const entry = pages.get(name);
  if (!entry) throw new Error(`no page ${name}: open it first`);
  return entry.page;
}

async function waitBody(p, attribute, values, timeoutMs) {
  await p.waitForFunction(
    ([a, v]) => v.includes(document.body.dataset[a]),
    [attribute, values],
    { timeout: timeoutMs, polling: 50 },
  );
}

async function state(p) {
  return p.evaluate(() => window.softphone.state());
}

// The newest peer connection's stats: inbound and outbound audio, the
// selected candidate pair and the DTLS transport.
async function stats(p) {
  return p.evaluate(async () => {
    const pcs = window.__peerConnections || [];
    const pc = window.softphone.connection() || pcs[pcs.length - 1];
    if (!pc) return null;
    const report = await pc.getStats();
    const byId = new Map();
    report.forEach((s) => byId.set(s.id, s));
    let inbound = null;
    let outbound = null;
    let transport = null;
    report.forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'audio') inbound = s;
      if (s.type === 'outbound-rtp' && s.kind === 'audio') outbound = s;
      if (s.type === 'transport') transport = s;
    });
    const pair = transport && transport.selectedCandidatePairId
      ? byId.get(transport.selectedCandidatePairId) : null;
    const candidate = (id) => {
      const c = id && byId.get(id);
      return c ? { address: c.address, port: c.port, protocol: c.protocol, type: c.candidateType } : null;
    };
    const codec = (s) => (s && s.codecId && byId.get(s.codecId) ? byId.get(s.codecId).mimeType : null);
    return {
      connectionState: pc.connectionState,
      iceConnectionState: pc.iceConnectionState,
      dtlsState: transport ? transport.dtlsState : null,
      srtpCipher: transport ? transport.srtpCipher || null : null,
      selectedPair: pair ? {
        state: pair.state,
        local: candidate(pair.localCandidateId),
        remote: candidate(pair.remoteCandidateId),
      } : null,
      inbound: inbound ? {
        packetsReceived: inbound.packetsReceived || 0,
        packetsLost: inbound.packetsLost || 0,
        bytesReceived: inbound.bytesReceived || 0,
        totalAudioEnergy: inbound.totalAudioEnergy || 0,
        audioLevel: inbound.audioLevel || 0,
        codec: codec(inbound),
      } : null,
      outbound: outbound ? {
        packetsSent: outbound.packetsSent || 0,
        bytesSent: outbound.bytesSent || 0,
        codec: codec(outbound),
      } : null,
    };
  });
}

async function waitMedia(p, cmd) {
  const packetsAbove = cmd.packets_above ?? 0;
  const energyAbove = cmd.energy_above ?? 0;
  const deadline = Date.now() + (cmd.timeout_ms ?? 15000);
  let last = null;
  for (;;) {
    last = await stats(p);
    const inbound = last && last.inbound;
    if (inbound && inbound.packetsReceived > packetsAbove && inbound.totalAudioEnergy > energyAbove) {
      return { stats: last };
    }
    if (Date.now() >= deadline) {
      throw Object.assign(new Error(
        `media did not arrive: wanted packetsReceived > ${packetsAbove} and totalAudioEnergy > ${energyAbove}`,
      ), { last });
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function dtmf(p, tones) {
  for (const tone of tones) {
    await p.click(`#keypad button[data-tone="${tone}"]`);
    // insertDTMF replaces a queued buffer: send the next key only after
    // this one went out.
    await p.waitForFunction(() => {
      const pcs = window.__peerConnections || [];
      const pc = window.softphone.connection() || pcs[pcs.length - 1];
      const sender = pc && pc.getSenders().find((s) => s.dtmf);
      return !sender || sender.dtmf.toneBuffer === '';
    }, null, { timeout: 10000, polling: 20 });
  }
  return { state: await state(p) };
}

async function handle(cmd) {
  switch (cmd.cmd) {
    case 'open': {
      const context = await browser.newContext();
      await context.grantPermissions(['microphone']);
      await context.addInitScript(INIT);
      const p = await context.newPage();
      const name = cmd.page;
      p.on('console', (m) => process.stderr.write(`[page ${name}] ${m.type()}: ${m.text()}\n`));
      p.on('pageerror', (e) => process.stderr.write(`[page ${name}] pageerror: ${e.message}\n`));
      pages.set(name, { context, page: p });
      await p.goto(cmd.url);
      await waitBody(p, 'ready', ['true'], cmd.timeout_ms ?? 10000);
      return { state: await state(p) };
    }
    case 'register': {
      const p = page(cmd.page);
      await p.fill('#extension', cmd.extension);
      await p.fill('#password', cmd.password);
      await p.click('#register');
      await waitBody(p, 'registration', ['registered', 'failed'], cmd.timeout_ms ?? 10000);
      return { state: await state(p) };
    }
    case 'call': {
      const p = page(cmd.page);
      await p.fill('#target', cmd.target);
      await p.click('#call');
      return { state: await state(p) };
    }
    case 'wait_call': {
      const p = page(cmd.page);
      await waitBody(p, 'call', cmd.states, cmd.timeout_ms ?? 15000);
      return { state: await state(p) };
    }
    case 'answer':
    case 'hangup':
    case 'mute': {
      const p = page(cmd.page);
      await p.click(`#${cmd.cmd}`);
      return { state: await state(p) };
    }
    case 'dtmf':
      return dtmf(page(cmd.page), cmd.tones);
    case 'state':
      return { state: await state(page(cmd.page)) };
    case 'stats':
      return { stats: await stats(page(cmd.page)) };
    case 'wait_media':
      return waitMedia(page(cmd.page), cmd);
    case 'text': {
      const p = page(cmd.page);
      return { text: await p.textContent(cmd.selector) };
    }
    case 'close': {
      const entry = pages.get(cmd.page);
      if (entry) await entry.context.close();
      pages.delete(cmd.page);
      return {};
    }
    case 'quit':
      return {};
    default:
      throw new Error(`unknown command ${cmd.cmd}`);
  }
}

const input = createInterface({ input: process.stdin, terminal: false });
out({ ok: true, ready: true, version: browser.version() });
for await (const line of input) {
  if (!line.trim()) continue;
  let cmd;
  try {
    cmd = JSON.parse(line);
  } catch (error) {
    out({ ok: false, error: `bad JSON: ${error.message}` });
    continue;
  }
  try {
    const reply = await handle(cmd);
    out({ ok: true, ...reply });
  } catch (error) {
    const reply = { ok: false, error: error.message.split('\n')[0] };
    if (error.last !== undefined) reply.last = error.last;
    if (cmd.page && pages.has(cmd.page)) {
      reply.state = await state(pages.get(cmd.page).page).catch(() => null);
    }
    out(reply);
  }
  if (cmd.cmd === 'quit') break;
}
await browser.close();
