// The example's softphone: SIP.js (served by the example from node_modules, as ES modules) over the
// example's WebSocket leg, WebRTC audio. Plain JS, no build step. `window.softphone` exposes the
// state for the browser tests (and for a curious console).
import { Inviter, Registerer, RegistererState, SessionState, UserAgent } from '/vendor/sip.js/index.js';

const $ = (id) => document.getElementById(id);
const ui = {
  server: $('server'), user: $('user'), password: $('password'), target: $('target'), status: $('status'), remote: $('remote'),
  register: $('register-button'), unregister: $('unregister-button'), call: $('call-button'), answer: $('answer-button'), hangup: $('hangup-button'),
};
// The WebSocket leg is on the page's own host and port, at /sip (wss when the page came over https).
ui.server.value = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/sip`;

const phone = { ua: undefined, registerer: undefined, session: undefined, registered: false, state: 'idle', log: [] };
window.softphone = phone;

function status(text) {
  phone.log.push(text);
  if (phone.log.length > 50) phone.log.shift(); // the last few are enough to tell what happened
  ui.status.textContent = text;
}

function buttons() {
  const inCall = phone.session !== undefined;
  ui.register.disabled = phone.ua !== undefined;
  ui.unregister.disabled = phone.ua === undefined;
  ui.call.disabled = !phone.registered || inCall;
  ui.answer.disabled = !(inCall && phone.state === 'incoming');
  ui.hangup.disabled = !inCall;
}

const media = { constraints: { audio: true, video: false } };

/** Follow a call (ours or theirs) until it ends; its remote audio plays in the <audio> element. */
function track(session, who) {
  phone.session = session;
  session.stateChange.addListener((state) => {
    if (state === SessionState.Established) {
      phone.state = 'established';
      ui.remote.srcObject = session.sessionDescriptionHandler.remoteMediaStream;
      status(`in call with ${who}`);
    } else if (state === SessionState.Terminated) {
      phone.state = 'ended';
      phone.session = undefined;
      ui.remote.srcObject = null;
      status(`call with ${who} ended`);
    }
    buttons();
  });
  buttons();
}

async function register(event) {
  event.preventDefault();
  const user = ui.user.value.trim();
  const host = location.hostname;
  status(`registering ${user}@${host}...`);
  const ua = new UserAgent({
    uri: UserAgent.makeURI(`sip:${user}@${host}`),
    transportOptions: { server: ui.server.value.trim() },
    authorizationUsername: user,
    authorizationPassword: ui.password.value,
    displayName: user,
    logLevel: 'warn',
    // Host candidates only: no STUN server to ask (the example and the page are usually on one network).
    sessionDescriptionHandlerFactoryOptions: { peerConnectionConfiguration: { iceServers: [] }, iceGatheringTimeout: 2000 },
    delegate: {
      onInvite(invitation) {
        if (phone.session !== undefined) {
          void invitation.reject({ statusCode: 486 });
          return;
        }
        const from = invitation.remoteIdentity.uri.user ?? String(invitation.remoteIdentity.uri);
        phone.state = 'incoming';
        track(invitation, from);
        status(`incoming call from ${from}`);
      },
      onDisconnect(error) {
        if (error) status(`connection lost: ${error.message}`);
      },
    },
  });
  phone.ua = ua;
  buttons();
  try {
    await ua.start();
    const registerer = new Registerer(ua);
    phone.registerer = registerer;
    registerer.stateChange.addListener((state) => {
      const was = phone.registered;
      phone.registered = state === RegistererState.Registered;
      if (phone.registered) status(`registered as ${user}@${host}`);
      else if (was) status('not registered'); // a refusal keeps its own message
      buttons();
    });
    await registerer.register({
      // Refused (a wrong password): disconnect, so Register can be pressed again.
      requestDelegate: {
        onReject: (res) => {
          status(`registration refused: ${res.message.statusCode} ${res.message.reasonPhrase}`);
          void stop(false);
        },
      },
    });
  } catch (err) {
    status(`cannot register: ${err.message}`);
    await stop(false);
  }
}

async function stop(announce = true) {
  const { ua, registerer } = phone;
  phone.ua = phone.registerer = undefined;
  phone.registered = false;
  try {
    if (registerer?.state === RegistererState.Registered) await registerer.unregister();
    await ua?.stop();
  } catch {
    // the connection is gone: nothing left to tidy
  }
  if (announce) status('not registered');
  buttons();
}

async function call(event) {
  event.preventDefault();
  const target = ui.target.value.trim();
  const uri = UserAgent.makeURI(target.startsWith('sip:') ? target : `sip:${target}@${location.hostname}`);
  if (uri === undefined) return status(`not a SIP address: ${target}`);
  const inviter = new Inviter(phone.ua, uri, { sessionDescriptionHandlerOptions: media });
  phone.state = 'calling';
  track(inviter, target);
  status(`calling ${target}...`);
  try {
    await inviter.invite({
      requestDelegate: {
        onProgress: (res) => res.message.statusCode === 180 && status(`${target} is ringing`),
        onReject: (res) => status(`call refused: ${res.message.statusCode} ${res.message.reasonPhrase}`),
      },
    });
  } catch (err) {
    status(`call failed: ${err.message}`);
  }
}

async function answer() {
  const session = phone.session;
  if (session === undefined || phone.state !== 'incoming') return;
  phone.state = 'answering';
  buttons();
  await session.accept({ sessionDescriptionHandlerOptions: media }).catch((err) => status(`cannot answer: ${err.message}`));
}

async function hangup() {
  const session = phone.session;
  if (session === undefined) return;
  try {
    // The BYE's answer is the end of the call as the other side sees it.
    if (session.state === SessionState.Established) await session.bye({ requestDelegate: { onAccept: () => status('hung up (BYE answered)') } });
    else if (session instanceof Inviter) await session.cancel();
    else await session.reject();
  } catch (err) {
    status(`hang up: ${err.message}`);
  }
}

$('register').addEventListener('submit', register);
ui.unregister.addEventListener('click', () => stop());
$('call').addEventListener('submit', call);
ui.answer.addEventListener('click', answer);
ui.hangup.addEventListener('click', hangup);
buttons();
