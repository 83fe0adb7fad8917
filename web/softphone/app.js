// The voip-server softphone: JsSIP (SIP over WebSocket, RFC 7118) and
// WebRTC audio. The page asks the server where its SIP WebSocket listener
// is (GET config.json), registers an extension with its digest password,
// dials, answers, hangs up, mutes and sends DTMF as RFC 4733 events on the
// audio stream (RTCDTMFSender).
//
// `window.softphone.state()` returns what the page shows, as data, and
// `window.softphone.connection()` the call's RTCPeerConnection, for tests
// and for poking at it from the console. `?debug=1` turns on JsSIP's log.
import * as JsSIP from 'jssip';
import { IncomingResponse } from 'jssip/lib/SIPMessage';

// JsSIP 3.13 keeps only the last WWW-Authenticate / Proxy-Authenticate
// header of a response and answers only MD5 challenges. A server that
// offers several (RFC 8760: voip-server sends MD5 then SHA-256 by default)
// would leave it with SHA-256 and no way to log in. Keep the first
// challenge JsSIP can answer instead (RFC 7616 §3.7: the client uses the
// first one it supports).
const answerable = (challenge) => {
  const algorithm = /algorithm\s*=\s*"?([A-Za-z0-9-]+)/i.exec(challenge);
  return !algorithm || algorithm[1].toUpperCase() === 'MD5';
};
const setHeader = IncomingResponse.prototype.setHeader;
IncomingResponse.prototype.setHeader = function keepAnswerableChallenge(name, value) {
  const key = name.toLowerCase();
  if ((key === 'www-authenticate' || key === 'proxy-authenticate') && this.hasHeader(name)) {
    const kept = this.getHeader(name);
    if (answerable(kept) || !answerable(value)) return;
  }
  setHeader.call(this, name, value);
};

const $ = (id) => document.getElementById(id);

const ui = {
  registration: $('registration-status'),
  error: $('error'),
  login: $('login'),
  extension: $('extension'),
  password: $('password'),
  wsUrl: $('ws-url'),
  domain: $('domain'),
  register: $('register'),
  unregister: $('unregister'),
  callStatus: $('call-status'),
  incoming: $('incoming'),
  incomingFrom: $('incoming-from'),
  answer: $('answer'),
  decline: $('decline'),
  dial: $('dial'),
  target: $('target'),
  call: $('call'),
  hangup: $('hangup'),
  mute: $('mute'),
  keypad: $('keypad'),
  dtmfSent: $('dtmf-sent'),
  audio: $('remote-audio'),
  log: $('log'),
};

const state = {
  registration: 'unregistered', // unregistered | registering | registered | failed
  call: 'idle', // idle | calling | ringing | incoming | answering | active | ended | failed
  peer: null,
  direction: null, // outgoing | incoming
  muted: false,
  lastError: null,
  ended: null, // { originator, cause, status }
  dtmfSent: '',
  dtmfReceived: '',
  calls: 0,
};

let ua = null;
let session = null;
let config = { ws_port: null, wss_port: null, domain: null };

function log(text) {
  const item = document.createElement('li');
  item.textContent = `${new Date().toLocaleTimeString()} ${text}`;
  ui.log.append(item);
  ui.log.scrollTop = ui.log.scrollHeight;
}

function showError(text) {
  state.lastError = text;
  ui.error.textContent = text;
  ui.error.hidden = false;
  log(`error: ${text}`);
}

function clearError() {
  ui.error.hidden = true;
  ui.error.textContent = '';
}

function setRegistration(value, text) {
  state.registration = value;
  document.body.dataset.registration = value;
  ui.registration.textContent = text;
  render();
}

function setCall(value, text) {
  state.call = value;
  document.body.dataset.call = value;
  ui.callStatus.textContent = text;
  render();
}

/** Enables exactly the buttons that make sense now. */
function render() {
  const connected = ua !== null;
  const inCall = session !== null;
  const established = state.call === 'active';
  ui.register.disabled = connected;
  ui.unregister.disabled = !connected;
  ui.call.disabled = state.registration !== 'registered' || inCall;
  ui.hangup.disabled = !inCall;
  ui.mute.disabled = !established;
  ui.mute.setAttribute('aria-pressed', String(state.muted));
  ui.mute.textContent = state.muted ? 'Unmute' : 'Mute';
  ui.incoming.hidden = state.call !== 'incoming';
  for (const key of ui.keypad.querySelectorAll('button')) {
    key.disabled = !established;
  }
}

/** The user part of a JsSIP URI or name-addr, for display. */
function who(identity) {
  if (!identity) return 'unknown';
  const uri = identity.uri || identity;
  const name = identity.display_name;
  const user = uri.user || String(uri);
  return name && name !== user ? `${name} (${user})` : user;
}

function describeFailure(event) {
  const status = event.message && event.message.status_code;
  const reason = event.message && event.message.reason_phrase;
  return status ? `${event.cause} (${status} ${reason})` : event.cause;
}

async function loadConfig() {
  try {
    const response = await fetch('config.json', { cache: 'no-store' });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    config = await response.json();
  } catch (error) {
    showError(`Cannot read the server settings (config.json): ${error.message}. Enter the SIP WebSocket URL by hand.`);
  }
  const params = new URLSearchParams(location.search);
  ui.wsUrl.value = params.get('ws') || defaultWsUrl();
  ui.domain.value = params.get('domain') || config.domain || location.hostname;
  if (params.get('extension')) ui.extension.value = params.get('extension');
  if (params.get('debug')) JsSIP.debug.enable('JsSIP:*');
  else JsSIP.debug.disable();
}

/** ws(s)://<this page's host>:<the server's WebSocket port>. */
function defaultWsUrl() {
  const host = location.hostname.includes(':') ? `[${location.hostname}]` : location.hostname;
  if (location.protocol === 'https:' && config.wss_port) return `wss://${host}:${config.wss_port}`;
  if (config.ws_port) return `ws://${host}:${config.ws_port}`;
  if (config.wss_port) return `wss://${host}:${config.wss_port}`;
  return '';
}

function register(event) {
  event.preventDefault();
  clearError();
  const extension = ui.extension.value.trim();
  const password = ui.password.value;
  const url = ui.wsUrl.value.trim();
  const domain = ui.domain.value.trim() || location.hostname;
  if (!url) {
    showError('No SIP WebSocket URL: the server has no WebSocket listener (start it with --sip-ws ADDR) or enter one under "Server".');
    return;
  }
  let socket;
  try {
    socket = new JsSIP.WebSocketInterface(url);
  } catch (error) {
    showError(`Bad SIP WebSocket URL ${url}: ${error.message}`);
    return;
  }
  try {
    ua = new JsSIP.UA({
      sockets: [socket],
      uri: `sip:${extension}@${domain}`,
      authorization_user: extension,
      password,
      register: true,
      register_expires: 300,
      user_agent: `voip-server softphone (JsSIP ${JsSIP.version})`,
      connection_recovery_min_interval: 2,
      connection_recovery_max_interval: 30,
    });
  } catch (error) {
    ua = null;
    showError(`Cannot start: ${error.message}`);
    return;
  }
  const me = ua;
  ua.on('connecting', () => setRegistration('registering', `Connecting to ${url}…`));
  ua.on('connected', () => {
    log(`connected to ${url}`);
    setRegistration('registering', `Registering ${extension}…`);
  });
  ua.on('disconnected', (e) => {
    if (ua !== me) return; // stopped on purpose
    const why = e && e.error ? ' (connection error)' : '';
    log(`disconnected from ${url}${why}`);
    if (state.registration !== 'unregistered') {
      setRegistration('failed', `Not connected to ${url}`);
      showError(`The SIP WebSocket ${url} is not reachable${why}; retrying.`);
    }
  });
  ua.on('registered', () => {
    clearError();
    log(`registered as ${extension}@${domain}`);
    setRegistration('registered', `Registered as ${extension}`);
  });
  ua.on('unregistered', () => {
    if (ua !== me) return;
    log('unregistered');
    setRegistration('unregistered', 'Not registered');
  });
  ua.on('registrationFailed', (e) => {
    if (ua !== me) return;
    const status = e.response ? `${e.response.status_code} ${e.response.reason_phrase}` : e.cause;
    // stop, so that Register is enabled again for corrected credentials
    ua = null;
    me.stop();
    setRegistration('failed', `Registration failed: ${status}`);
    showError(e.cause === JsSIP.C.causes.AUTHENTICATION_ERROR || (e.response && e.response.status_code === 403)
      ? `Registration failed (${status}): check the extension and the password.`
      : `Registration failed: ${status}`);
  });
  ua.on('newRTCSession', (e) => onNewSession(e));
  setRegistration('registering', `Connecting to ${url}…`);
  ua.start();
}

function unregister() {
  if (!ua) return;
  if (session) session.terminate();
  const old = ua;
  ua = null;
  old.stop();
  setRegistration('unregistered', 'Not registered');
}

/** Plays the remote stream through the audio element (Chromium computes
 * audio levels only for played tracks). */
function attachConnection(pc) {
  pc.addEventListener('track', (event) => {
    const [stream] = event.streams;
    ui.audio.srcObject = stream || new MediaStream([event.track]);
    ui.audio.play().catch((error) => log(`audio: ${error.message}`));
  });
  pc.addEventListener('connectionstatechange', () => log(`media: ${pc.connectionState}`));
}

function trackSession(s, direction) {
  session = s;
  state.direction = direction;
  state.muted = false;
  state.ended = null;
  state.dtmfSent = '';
  state.dtmfReceived = '';
  state.calls += 1;
  ui.dtmfSent.textContent = '';
  if (s.connection) attachConnection(s.connection);
  s.on('peerconnection', (e) => attachConnection(e.peerconnection));
  s.on('progress', () => {
    if (direction === 'outgoing') setCall('ringing', `Ringing ${state.peer}…`);
  });
  s.on('accepted', () => setCall('active', `In call with ${state.peer}`));
  s.on('confirmed', () => setCall('active', `In call with ${state.peer}`));
  s.on('ended', (e) => finish(s, 'ended', e, `Call with ${state.peer} ended (${e.originator === 'local' ? 'you hung up' : `${e.cause}`})`));
  s.on('failed', (e) => {
    const text = `Call with ${state.peer} failed: ${describeFailure(e)}`;
    finish(s, 'failed', e, text);
    if (e.originator !== 'local') showError(text);
  });
  s.on('muted', () => { state.muted = true; render(); });
  s.on('unmuted', () => { state.muted = false; render(); });
  s.on('newDTMF', (e) => {
    if (e.originator === 'remote') {
      state.dtmfReceived += e.dtmf.tone;
      log(`DTMF received: ${e.dtmf.tone}`);
    }
  });
}

function finish(s, how, event, text) {
  if (session !== s) return;
  session = null;
  state.muted = false;
  state.ended = {
    how,
    originator: event.originator,
    cause: event.cause,
    status: event.message && event.message.status_code ? event.message.status_code : null,
  };
  ui.audio.srcObject = null;
  log(text);
  setCall(how, text);
}

function onNewSession(e) {
  const s = e.session;
  if (e.originator === 'local') return; // call() tracks its own
  if (session) {
    log(`busy: rejecting a second call from ${who(s.remote_identity)}`);
    s.terminate({ status_code: 486, reason_phrase: 'Busy Here' });
    return;
  }
  state.peer = who(s.remote_identity);
  trackSession(s, 'incoming');
  ui.incomingFrom.textContent = state.peer;
  setCall('incoming', `Incoming call from ${state.peer}`);
  log(`incoming call from ${state.peer}`);
}

function callOptions() {
  return {
    mediaConstraints: { audio: true, video: false },
    pcConfig: { iceServers: config.ice_servers || [] },
    rtcOfferConstraints: { offerToReceiveAudio: true, offerToReceiveVideo: false },
  };
}

function dial(event) {
  event.preventDefault();
  clearError();
  const target = ui.target.value.trim();
  if (!ua || state.registration !== 'registered') {
    showError('Register first.');
    return;
  }
  if (!target) {
    showError('Enter a number to call.');
    return;
  }
  state.peer = target;
  let s;
  try {
    s = ua.call(target.includes('@') ? `sip:${target}` : `sip:${target}@${ui.domain.value.trim() || location.hostname}`, {
      ...callOptions(),
      eventHandlers: {
        peerconnection: (ev) => attachConnection(ev.peerconnection),
      },
    });
  } catch (error) {
    showError(`Cannot call ${target}: ${error.message}`);
    return;
  }
  trackSession(s, 'outgoing');
  log(`calling ${target}`);
  if (session === s) setCall('calling', `Calling ${target}…`);
}

function answer() {
  if (!session || state.call !== 'incoming') return;
  setCall('answering', `Answering ${state.peer}…`);
  try {
    session.answer(callOptions());
  } catch (error) {
    showError(`Cannot answer: ${error.message}`);
  }
}

function hangup() {
  if (!session) return;
  try {
    if (state.call === 'incoming') {
      session.terminate({ status_code: 486, reason_phrase: 'Busy Here' });
    } else {
      session.terminate();
    }
  } catch (error) {
    showError(`Cannot hang up: ${error.message}`);
  }
}

function toggleMute() {
  if (!session) return;
  if (session.isMuted().audio) session.unmute({ audio: true });
  else session.mute({ audio: true });
}

function sendDtmf(tone) {
  if (!session || state.call !== 'active') return;
  try {
    session.sendDTMF(tone, {
      transportType: JsSIP.C.DTMF_TRANSPORT.RFC2833,
      duration: 160,
      interToneGap: 70,
    });
    state.dtmfSent += tone;
    ui.dtmfSent.textContent = `Sent: ${state.dtmfSent}`;
    log(`DTMF sent: ${tone}`);
  } catch (error) {
    showError(`Cannot send DTMF ${tone}: ${error.message}`);
  }
}

ui.login.addEventListener('submit', register);
ui.unregister.addEventListener('click', unregister);
ui.dial.addEventListener('submit', dial);
ui.hangup.addEventListener('click', hangup);
ui.answer.addEventListener('click', answer);
ui.decline.addEventListener('click', hangup);
ui.mute.addEventListener('click', toggleMute);
ui.keypad.addEventListener('click', (event) => {
  const tone = event.target.dataset && event.target.dataset.tone;
  if (tone) sendDtmf(tone);
});
document.addEventListener('keydown', (event) => {
  if (state.call === 'active' && /^[0-9*#]$/.test(event.key) && event.target.tagName !== 'INPUT') {
    sendDtmf(event.key);
  }
});

window.softphone = {
  /** What the page shows, as data. */
  state: () => ({ ...state, ended: state.ended && { ...state.ended } }),
  /** The current (or last) call's RTCPeerConnection. */
  connection: () => (session && session.connection) || null,
};

if (!window.isSecureContext || !navigator.mediaDevices) {
  // Browsers give the microphone only to https:// pages and http://localhost.
  showError(`This page (${location.origin}) is not a secure context, so the browser will not give it a microphone: open it as http://localhost:${location.port || 80}/ on the server's machine, or serve it over HTTPS (see docs/softphone.md).`);
}

loadConfig().then(() => {
  document.body.dataset.ready = 'true';
  render();
});
