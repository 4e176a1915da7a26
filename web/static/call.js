// The call page: camera in, the server's processed view back, fixed receive slots, no renegotiation.
import { applyAnswer, createOffer, openCamera, signallingUrl } from "./rtc.js";

const root = document.getElementById("call");
const S = JSON.parse(document.getElementById("strings").textContent);
const statusEl = document.getElementById("status");
const selfView = document.getElementById("self-view");
const selfGate = document.createElement("p");
selfGate.className = "gate-label";
selfGate.hidden = true;
selfView.after(selfGate);
const remotes = document.getElementById("remotes");
const buttons = {
  enter: document.getElementById("enter"),
  mute: document.getElementById("mute"),
  camera: document.getElementById("camera"),
  audioOnly: document.getElementById("audio-only"),
  switch: document.getElementById("switch"),
  leave: document.getElementById("leave"),
  pause: document.getElementById("pause"),
};

const $ = (id) => document.getElementById(id);
const STAFF = new Set(["formidler", "radgiver", "tekniker"]);
// Staff powers (oral consent, pausing others, the roster) belong to a logged-in employee on their own link, which
// is always a host link; a staff role written on someone else's link is a guest. The server enforces this too.
const staffPowers = () => call.me.host && STAFF.has(call.me.role);

const call = {
  me: { pid: null, role: root.dataset.role, host: root.dataset.host === "true" },
  roster: { confirmed: false, participants: [], off_camera: [] },
  paused: new Map(), // participant -> paused
  consents: new Map(), // participant -> scopes
  lastConsentId: null,
  consentIds: [], // every consent given or recorded from this page: «Trekk tilbake» withdraws them all
  seq: 0, // the last view's number: a gap means a view was lost, so the client asks for a fresh one
  view: null, // the server's view of the meeting for this participant (the one source of truth)
  gates: new Map(), // participant -> what the server lets through of their video
  links: new Map(), // participant -> { audio_only, weak_link }: no video to or from them, audio goes on
  mediaReconnecting: new Set(), // participants whose media connection is being set up again
  ws: null,
  abandoned: [], // signalling sockets given up on but not closed yet: closed once a new one is welcomed
  pc: null,
  stream: null,
  slots: 0,
  iceServers: [],
  iceTransportPolicy: "all",
  facing: "user",
  audio: true,
  video: true,
  tiles: [],
  participants: new Map(),
  frames: new Map(), // element -> frames presented, for people-facing stats and tests
  errors: [],
  state: "preview",
};
window.samhandling = call;

function say(text) {
  statusEl.textContent = text;
}

function roleLabel(role) {
  return S[`role.${role}`] || role;
}

function countFrames(video) {
  call.frames.set(video, 0);
  const tick = () => {
    call.frames.set(video, (call.frames.get(video) || 0) + 1);
    video.requestVideoFrameCallback(tick);
  };
  if ("requestVideoFrameCallback" in video) video.requestVideoFrameCallback(tick);
}

function makeTile(slot) {
  const fig = document.createElement("figure");
  fig.className = "tile";
  fig.hidden = true;
  fig.dataset.slot = String(slot);
  const video = document.createElement("video");
  video.autoplay = true;
  video.playsInline = true;
  video.setAttribute("aria-hidden", "true");
  const gate = document.createElement("p");
  gate.className = "gate-label";
  gate.hidden = true;
  const cap = document.createElement("figcaption");
  fig.append(video, gate, cap);
  remotes.append(fig);
  countFrames(video);
  return { fig, video, cap, gate, participant: null };
}

function roleOf(pid) {
  if (pid === call.me.pid) return call.me.role;
  const p = call.roster.participants.find((x) => x.id === pid);
  return p ? p.role : null;
}

// Why the server shows a card instead of a participant's picture: its own gate, sent in every view.
const GATE_TEXT = { pause: "gate.pause", consent: "gate.consent", roster: "gate.roster" };

function gateText(pid) {
  const gate = call.gates.get(pid);
  if (gate !== undefined && GATE_TEXT[gate]) return S[GATE_TEXT[gate]];
  if (gate === undefined && call.paused.get(pid)) return S["gate.pause"];
  if (call.mediaReconnecting.has(pid)) return S["call.reconnecting.tile"];
  const link = call.links.get(pid);
  if (link && (link.audio_only || link.weak_link)) return S["call.audioonly.tile"];
  return "";
}

// «Bare lyd», chosen or because the link cannot carry video: the server sends no video to this browser and
// it sends none (a disabled track sends almost nothing); audio is untouched.
function audioOnlyNow() {
  const link = call.links.get(call.me.pid) || {};
  return Boolean(link.audio_only || link.weak_link);
}

// Someone else's media connection broke and is being set up again: their tile says so instead of freezing.
function applyReconnecting(pid, on) {
  if (on === call.mediaReconnecting.has(pid)) return;
  if (on) {
    call.mediaReconnecting.add(pid);
    say(`${roleLabel(roleOf(pid))} ${S["roster.reconnecting"]}`);
  } else {
    call.mediaReconnecting.delete(pid);
  }
}

function applyLink(pid, link) {
  const before = call.links.get(pid) || { audio_only: false, weak_link: false };
  call.links.set(pid, { audio_only: link.audio_only, weak_link: link.weak_link });
  if (pid === call.me.pid) {
    if (call.stream) call.stream.getVideoTracks().forEach((t) => (t.enabled = call.video && !audioOnlyNow()));
    buttons.audioOnly.textContent = link.audio_only ? S["call.audioonly.off"] : S["call.audioonly.on"];
    if (link.weak_link && !before.weak_link) say(S["call.weak"]);
    else if (!link.weak_link && before.weak_link) say(S["call.weak.over"]);
    else if (link.audio_only !== before.audio_only) say(link.audio_only ? S["call.audioonly.said"] : S["call.cam.on"]);
  } else if (link.weak_link && !before.weak_link) {
    say(`${roleLabel(roleOf(pid))} ${S["call.weak.other"]}`);
  }
}

// A full view of the meeting from the server: everything shown is taken from it, nothing is remembered.
function applyView(msg) {
  if (msg.seq <= call.seq) return;
  if (call.seq && msg.seq !== call.seq + 1) send({ type: "sync" }); // one was lost: ask for a fresh copy
  call.seq = msg.seq;
  call.view = msg;
  const people = msg.roster ? msg.roster.participants : [];
  for (const p of [msg.me, ...people]) {
    call.gates.set(p.id, p.gate);
    call.paused.set(p.id, p.paused);
    if (p.audio_only !== undefined) applyLink(p.id, p);
    if (p.media_reconnecting !== undefined && p.id !== call.me.pid) applyReconnecting(p.id, p.media_reconnecting);
    if (p.consent) call.consents.set(p.id, p.consent);
  }
  if (msg.roster) {
    call.roster = msg.roster;
    renderRoster();
  }
  if (msg.lobby) renderLobby(msg.lobby);
  if (call.recording !== undefined && call.recording !== msg.recording) say(msg.recording ? S["rec.on"] : S["rec.off"]);
  call.recording = msg.recording;
  $("recording-banner").hidden = !msg.recording;
  $("record-form").hidden = msg.recording;
  $("record-stop").hidden = !msg.recording;
  updateGates();
}

function updateGates() {
  for (const tile of call.tiles) {
    const text = tile.participant ? gateText(tile.participant) : "";
    tile.gate.textContent = text;
    tile.gate.hidden = !text;
  }
  const own = selfGateText();
  selfGate.textContent = own;
  selfGate.hidden = !own;
  updatePauseButton();
  updateConsentPanel();
  updateCalmStep();
}

async function negotiate() {
  for (let i = 0; i < call.slots; i++) call.tiles.push(makeTile(i));
  await connectMedia();
}

// One peer connection at a time. When it fails (the network changed: Wi-Fi to 4G, or the server's side ended)
// a new one is offered under the same participant: the server keeps roster, consent, pause and the slot
// layout, and the tiles keep their places; only the media tracks are replaced.
const RECONNECT_QUIET_MS = 1000; // a reconnection offers what was gathered once candidates stop coming for this long

async function connectMedia() {
  const quiet = call.reconnecting ? RECONNECT_QUIET_MS : 0;
  const { pc, sdp } = await createOffer(call.stream, call.slots, call.iceServers, call.iceTransportPolicy, quiet);
  call.pc = pc;
  pc.addEventListener("connectionstatechange", () => watchConnection(pc));
  send({ type: "offer", sdp });
}

const DISCONNECTED_GRACE_MS = 2000; // ICE often recovers by itself from a short "disconnected"

function watchConnection(pc) {
  if (pc !== call.pc || call.state === "ended") return;
  const state = pc.connectionState;
  if (state === "connected") {
    clearTimeout(call.graceTimer);
    if (call.reconnecting) {
      call.reconnecting = false;
      say(S["call.reconnected"]);
    }
  } else if (state === "failed" || state === "closed") {
    reconnectMedia();
  } else if (state === "disconnected") {
    clearTimeout(call.graceTimer);
    call.graceTimer = setTimeout(() => {
      if (pc === call.pc && pc.connectionState !== "connected") reconnectMedia();
    }, DISCONNECTED_GRACE_MS);
  }
}

const RECONNECT_SPACING_MS = 3000; // a connection that keeps failing is retried, but not in a tight loop

function reconnectMedia(now = false) {
  if (call.reconnectPending) {
    call.reconnectAgain = call.reconnectAgain || now; // the offer being made may go to a socket that just died
    return;
  }
  if (!call.ws || call.ws.readyState !== WebSocket.OPEN) return;
  const since = Date.now() - (call.lastReconnect || 0);
  if (!now && since < RECONNECT_SPACING_MS) {
    clearTimeout(call.retryTimer);
    call.retryTimer = setTimeout(() => {
      if (!call.pc || ["failed", "closed", "disconnected"].includes(call.pc.connectionState)) reconnectMedia();
    }, RECONNECT_SPACING_MS - since);
    return;
  }
  call.lastReconnect = Date.now();
  call.reconnectPending = true;
  call.reconnecting = true;
  call.reconnects = (call.reconnects || 0) + 1;
  clearTimeout(call.graceTimer);
  say(S["call.reconnecting"]);
  const old = call.pc;
  call.pc = null;
  if (old) old.close();
  freshIceServers()
    .then(connectMedia)
    .catch((e) => fail(e))
    .finally(() => {
      call.reconnectPending = false;
      if (call.reconnectAgain) {
        call.reconnectAgain = false;
        reconnectMedia(true);
      }
    });
}

// TURN credentials are minted per connection and expire (coturn checks them when a relay is allocated): a
// reconnection hours into a call asks for new ones first, and goes on with the old ones if none come in time.
const ICE_REFRESH_WAIT_MS = 2000;

function freshIceServers() {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ICE_REFRESH_WAIT_MS);
    call.iceRefreshed = () => {
      clearTimeout(timer);
      resolve();
    };
    send({ type: "ice-refresh" });
  });
}

async function onAnswer(sdp) {
  const { selfTrack, slotTracks } = await applyAnswer(call.pc, sdp, call.slots);
  selfView.srcObject = new MediaStream([selfTrack]);
  if (!call.frames.has(selfView)) countFrames(selfView); // once: a reconnection replaces only the track
  call.tiles.forEach((tile, i) => {
    tile.video.srcObject = new MediaStream(slotTracks[i]);
    if (tile.participant) tile.video.play().catch(() => {});
  });
  // Also after a reconnection: the first answer may have been lost with a socket that died during the preview.
  if (!call.previewShown) enterWhenPreviewShows();
  if (!call.reconnecting) say(S["join.preview"]);
}

function showSlot(slot, participant, role) {
  const tile = call.tiles[slot];
  if (!tile) return;
  tile.participant = participant;
  tile.fig.hidden = participant === null;
  tile.fig.dataset.participant = participant || "";
  tile.cap.textContent = participant ? roleLabel(role) : "";
  if (participant) tile.video.play().catch(() => {});
  updateWaiting();
  updateGates();
}

function updateWaiting() {
  if (call.state !== "in-call") return;
  const present = call.tiles.filter((t) => t.participant).map((t) => t.cap.textContent);
  root.classList.toggle("alone", present.length === 0);
  say(present.length ? `${S["call.incall"]}: ${present.join(", ")}` : S["call.waiting"]);
}

function send(msg) {
  if (call.ws && call.ws.readyState === WebSocket.OPEN) call.ws.send(JSON.stringify(msg));
}

function onMessage(msg) {
  switch (msg.type) {
    case "state":
      applyView(msg);
      break;
    case "welcome":
      call.slots = msg.slots;
      call.participant = msg.participant;
      call.me.pid = msg.participant;
      call.me.host = msg.host;
      break;
    case "lobby":
      call.state = "lobby";
      root.dataset.state = "lobby";
      $("lobby-wait").hidden = false;
      say(msg.hosts_present ? S["lobby.waiting"] : `${S["lobby.waiting"]} ${S["lobby.nohost"]}`);
      break;
    case "lobby-message":
      $("lobby-from-host").hidden = false;
      $("lobby-from-host").textContent = `${S["lobby.from_host"]}: ${msg.text}`;
      break;
    case "denied":
      call.denied = true;
      end(S["lobby.denied"]);
      break;
    case "lobby-list":
      renderLobby(msg.waiting);
      break;
    case "roster":
      if (msg.off_camera.length > call.roster.off_camera.length) $("offcam-name").value = "";
      call.roster = msg;
      renderRoster();
      updateGates();
      break;
    case "consent":
      call.consents.set(msg.participant, msg.scopes);
      updateGates();
      break;
    case "consent-recorded":
      call.lastConsentId = msg.consent_id;
      call.consentIds.push(msg.consent_id);
      say(S["consent.recorded"]);
      updateConsentPanel();
      break;
    case "paused": {
      call.paused.set(msg.participant, msg.paused);
      if (msg.participant === call.me.pid) say(msg.paused ? S["pause.self.on"] : S["pause.self.off"]);
      else say(`${roleLabel(msg.role)} ${msg.paused ? S["pause.on"] : S["pause.off"]}`);
      updateGates();
      break;
    }
    case "chat":
      if (msg.from === call.me.pid) $("chat-input").value = "";
      addChat(msg);
      break;
    case "lobby-message-sent":
      $("lobby-msg").value = "";
      break;
    case "recording":
      call.recording = msg.on;
      $("recording-banner").hidden = !msg.on;
      $("record-form").hidden = msg.on;
      $("record-stop").hidden = !msg.on;
      break;
    case "config":
      call.iceServers = msg.iceServers || [];
      call.iceTransportPolicy = msg.iceTransportPolicy || "all";
      if (call.tiles.length) reconnectMedia(true); // signalling resumed: the media path died with it
      else negotiate().catch((e) => fail(e));
      break;
    case "ice":
      call.iceServers = msg.iceServers || [];
      call.iceTransportPolicy = msg.iceTransportPolicy || "all";
      if (call.iceRefreshed) call.iceRefreshed();
      call.iceRefreshed = null;
      break;
    case "answer":
      onAnswer(msg.sdp).catch((e) => fail(e));
      break;
    case "media-lost": // not while a new connection is being set up (the message may be about the old one)
      if (!call.pc || !["new", "connecting"].includes(call.pc.connectionState)) reconnectMedia();
      break;
    case "entered":
      call.state = "in-call";
      root.dataset.state = "in-call";
      $("local-preview").srcObject = null; // the processed view is the own view from now on
      $("lobby-wait").hidden = true;
      $("host-lobby").hidden = !staffPowers();
      $("record").hidden = !(call.me.host && STAFF.has(call.me.role));
      for (const p of msg.participants) call.participants.set(p.id, p);
      updateWaiting();
      break;
    case "participant-joined":
      call.participants.set(msg.participant.id, msg.participant);
      say(`${roleLabel(msg.participant.role)} ${S["call.joined"]}`);
      break;
    case "participant-left": {
      const p = call.participants.get(msg.participant);
      call.participants.delete(msg.participant);
      say(`${p ? roleLabel(p.role) : ""} ${S["call.gone"]}`.trim());
      break;
    }
    case "slot":
      showSlot(msg.slot, msg.participant, msg.role);
      break;
    case "media": {
      const tile = call.tiles.find((t) => t.participant === msg.participant);
      if (tile) {
        const flags = [];
        if (!msg.audio) flags.push(S["call.muted"]);
        if (!msg.video) flags.push(S["call.camoff"]);
        tile.fig.dataset.flags = flags.join(", ");
      }
      break;
    }
    case "link":
      applyLink(msg.participant, msg);
      updateGates();
      break;
    case "media-reconnecting":
      if (msg.participant !== call.me.pid) applyReconnecting(msg.participant, msg.on);
      updateGates();
      break;
    case "ended": // a draining server ends the meeting here; the link works again on another node
      end(msg.reason === "server_shutdown" ? S["call.moved"] : S["call.ended"]);
      break;
    case "error":
      call.errors.push(msg);
      if (msg.for === "consent") call.calm.sent = null; // the question may be answered again
      showError(msg);
      break;
    default:
      break;
  }
}

// The field each refusable request comes from: a refusal is shown beside it, in the page's language.
const FIELDS = {
  consent: "consent-purpose",
  chat: "chat-input",
  "lobby-message": "lobby-msg",
  "roster-add": "offcam-name",
  "record-start": "record-reason",
};

function errorText(msg) {
  const known = S[`call.err.${msg.code}`];
  if (known) return known;
  // The server says a refusal in the page's language (it knows it from the socket's URL); one it could only say
  // in bokmål is shown on bokmål pages, others show the general text.
  return msg.message && (msg.lang || "nb") === document.documentElement.lang ? msg.message : S["call.err.generic"];
}

function showError(msg) {
  const text = errorText(msg);
  const box = $(`err-${msg.for}`);
  const field = $(msg.for === "consent" && msg.field === "note" ? "consent-note" : FIELDS[msg.for] || "");
  if (!box) {
    say(`${S["call.error"]}: ${text}`);
    return;
  }
  box.textContent = text;
  box.hidden = false;
  if (field) {
    field.setAttribute("aria-invalid", "true");
    field.setAttribute("aria-describedby", [field.dataset.help, box.id].filter(Boolean).join(" "));
    field.focus();
  }
  say(text);
}

function clearError(kind) {
  const box = $(`err-${kind}`);
  const field = $(FIELDS[kind] || "");
  if (box) box.hidden = true;
  if (field) {
    field.removeAttribute("aria-invalid");
    if (field.dataset.help) field.setAttribute("aria-describedby", field.dataset.help);
    else field.removeAttribute("aria-describedby");
  }
}

function fail(err) {
  call.errors.push({ code: "client", message: String(err) });
  say(S["call.error"]);
}

function end(text) {
  call.state = "ended";
  root.dataset.state = "ended";
  $("lobby-wait").hidden = true; // a denied guest sees only the denial
  $("rejoin").hidden = !!call.denied; // a denied link cannot be used again
  if (call.pc) call.pc.close();
  if (call.stream) call.stream.getTracks().forEach((t) => t.stop());
  if (call.me.host && STAFF.has(call.me.role)) $("after-call").hidden = false; // summary (and repair) for the host
  if (call.ws && call.ws.readyState === WebSocket.OPEN) call.ws.close();
  closeAbandoned();
  say(text);
}

buttons.enter.addEventListener("click", () => {
  buttons.enter.disabled = true;
  call.tiles.forEach((t) => t.video.play().catch(() => {}));
  send({ type: "enter" });
});

buttons.mute.addEventListener("click", () => {
  call.audio = !call.audio;
  call.stream.getAudioTracks().forEach((t) => (t.enabled = call.audio));
  buttons.mute.textContent = call.audio ? S["call.mute"] : S["call.unmute"]; // the label says it; no aria-pressed
  say(call.audio ? S["call.mic.on"] : S["call.muted"]);
  send({ type: "media", audio: call.audio, video: call.video });
});

buttons.camera.addEventListener("click", () => {
  call.video = !call.video;
  call.stream.getVideoTracks().forEach((t) => (t.enabled = call.video && !audioOnlyNow()));
  buttons.camera.textContent = call.video ? S["call.camera.off"] : S["call.camera.on"];
  say(call.video ? S["call.cam.on"] : S["call.camoff"]);
  send({ type: "media", audio: call.audio, video: call.video });
});

buttons.audioOnly.addEventListener("click", () => {
  send({ type: "audio-only", on: !(call.links.get(call.me.pid) || {}).audio_only });
});

buttons.switch.addEventListener("click", async () => {
  const facing = call.facing === "user" ? "environment" : "user";
  try {
    const cameras = (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.kind === "videoinput");
    if (cameras.length < 2) {
      say(S["call.switch.none"]);
      return;
    }
    const fresh = await navigator.mediaDevices.getUserMedia({ video: { facingMode: facing, width: 640, height: 480 } });
    const [track] = fresh.getVideoTracks();
    const sender = call.pc.getTransceivers()[1].sender;
    const [old] = call.stream.getVideoTracks();
    await sender.replaceTrack(track);
    call.stream.removeTrack(old);
    old.stop();
    track.enabled = call.video;
    call.stream.addTrack(track);
    call.facing = facing;
  } catch (e) {
    fail(e);
  }
});

$("rejoin").addEventListener("click", () => window.location.reload());

buttons.leave.addEventListener("click", () => {
  send({ type: "leave" });
  end(S["call.left"]);
});

function button(text, onClick, cls = "ctl") {
  const b = document.createElement("button");
  b.type = "button";
  b.className = cls;
  b.textContent = text;
  b.addEventListener("click", onClick);
  return b;
}

function renderLobby(waiting) {
  const list = $("lobby-list");
  list.replaceChildren();
  $("lobby-none").hidden = waiting.length > 0;
  for (const w of waiting) {
    const li = document.createElement("li");
    const name = document.createElement("span");
    name.textContent = roleLabel(w.role);
    const actions = document.createElement("span");
    actions.append(
      button(`${S["lobby.admit"]}`, () => send({ type: "admit", participant: w.id }), "ctl ctl--primary"),
      button(`${S["lobby.deny"]}`, () => send({ type: "deny", participant: w.id }), "ctl ctl--danger"),
    );
    li.append(name, actions);
    list.append(li);
  }
}

function renderRoster() {
  const list = $("roster-list");
  list.replaceChildren();
  for (const p of call.roster.participants) {
    const li = document.createElement("li");
    li.dataset.participant = p.id;
    li.textContent = roleLabel(p.role) + (p.id === call.me.pid ? ` (${S["role.you"]})` : "");
    list.append(li);
  }
  const reconnecting = call.roster.reconnecting || [];
  if (reconnecting.length > (call.reconnectingCount || 0)) say(`${roleLabel(reconnecting[0])} ${S["roster.reconnecting"]}`);
  call.reconnectingCount = reconnecting.length;
  for (const role of reconnecting) {
    const li = document.createElement("li");
    li.className = "reconnecting";
    li.textContent = `${roleLabel(role)} (${S["roster.reconnecting"]})`;
    list.append(li);
  }
  const off = $("offcam-list");
  off.replaceChildren();
  for (const e of call.roster.off_camera) {
    const li = document.createElement("li");
    const label = document.createElement("span");
    label.textContent = S[`offrole.${e.role}`] + (e.first_name ? `: ${e.first_name}` : "");
    li.append(label);
    if (staffPowers()) li.append(button(S["roster.remove"], () => send({ type: "roster-remove", id: e.id })));
    off.append(li);
  }
  $("roster-state").textContent = call.roster.confirmed ? S["roster.confirmed"] : S["roster.unconfirmed"];
  $("roster-confirm").hidden = !staffPowers() || call.roster.confirmed;
  $("roster-form").hidden = !staffPowers();
}

function theUser() {
  if (call.me.role === "bruker") return call.me.pid;
  const u = call.roster.participants.find((p) => p.role === "bruker");
  return u ? u.id : null;
}

// Whose pause the button sets: staff pause (and resume) the user; everyone else takes themselves off camera.
function pauseTarget() {
  return staffPowers() ? theUser() : call.me.pid;
}

function updatePauseButton() {
  const b = buttons.pause;
  const target = pauseTarget();
  b.hidden = !target;
  if (!target) return;
  const paused = !!call.paused.get(target); // the label changes, so no aria-pressed as well
  b.classList.toggle("ctl--paused", paused); // and the colour: a paused meeting looks different at a glance
  if (target === call.me.pid) b.textContent = paused ? S["pause.resume"] : S["pause.self"];
  else b.textContent = paused ? S["pause.user.resume"] : S["pause.user"];
}

function updateConsentPanel() {
  const user = theUser();
  const staff = staffPowers();
  const own = call.me.role === "bruker" || call.me.role === "parorende";
  const panel = $("consent");
  panel.hidden = !user; // everyone present sees what the user has consented to; only some may change it
  if (panel.hidden) return;
  const scopes = call.consents.get(user) || [];
  const names = scopes.map((sc) => S[`scope.${sc}`]).join(", ");
  $("consent-state").textContent = scopes.length ? `${S["consent.active"]}: ${names}` : S["consent.none"];
  $("consent-form").hidden = !(staff || own);
  $("consent-withdraw").hidden = !(staff || own) || !call.lastConsentId;
  if (!(staff || own)) return;
  $("consent-form-title").textContent = staff ? S["consent.oral"] : S["consent.written.help"];
  $("consent-submit").textContent = staff ? S["consent.record"] : S["consent.give"];
  $("consent-withdraw").hidden = !call.lastConsentId;
}

function addChat(msg) {
  const li = document.createElement("li");
  const who = document.createElement("span");
  who.className = "who";
  who.textContent = `${msg.from === call.me.pid ? S["role.you.cap"] : roleLabel(msg.role)}: `; // «Sender: message»
  const text = document.createElement("span");
  text.textContent = msg.text;
  li.append(who, text);
  $("chat-log").append(li);
  li.scrollIntoView({ block: "nearest" });
}

buttons.pause.addEventListener("click", () => {
  const target = pauseTarget();
  if (target) send({ type: "pause", participant: target, paused: !call.paused.get(target) });
});

$("roster-confirm").addEventListener("click", () => send({ type: "roster-confirm" }));

$("roster-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  clearError("roster-add");
  send({ type: "roster-add", role: $("offcam-role").value, first_name: $("offcam-name").value });
});

$("lobby-msg-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  clearError("lobby-message");
  const text = $("lobby-msg").value.trim();
  if (text) send({ type: "lobby-message", text });
});

$("chat-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  clearError("chat");
  const text = $("chat-input").value.trim();
  if (text) send({ type: "chat", text });
});

$("scope-face_visible").addEventListener("change", (ev) => {
  $("minutes-field").hidden = !ev.target.checked;
});

$("consent-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const user = theUser();
  if (!user) return;
  clearError("consent");
  const scopes = [...document.querySelectorAll('input[name="scope"]:checked')].map((i) => i.value);
  const msg = {
    type: "consent",
    participant: user,
    giver: document.querySelector('input[name="giver"]:checked').value,
    form: staffPowers() ? "oral" : "written",
    scopes,
    purpose: $("consent-purpose").value,
    note: $("consent-note").value,
  };
  if (scopes.includes("face_visible")) msg.face_visible_minutes = Number($("consent-minutes").value);
  send(msg);
});

$("record-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  clearError("record-start");
  const days = Number($("record-days").value);
  send({ type: "record-start", reason: $("record-reason").value, deadline_days: days > 0 ? days : null });
});

$("record-stop").addEventListener("click", () => send({ type: "record-stop" }));

$("consent-withdraw").addEventListener("click", () => {
  const user = theUser();
  const ids = call.consentIds.length ? call.consentIds : [call.lastConsentId].filter(Boolean);
  if (user) ids.forEach((id) => send({ type: "consent-withdraw", participant: user, consent_id: id }));
  call.lastConsentId = null;
  call.consentIds = [];
  if (calm) call.calm.declined = true; // not asked again at once: «Endre svaret» asks again
  say(S["consent.withdrawn"]);
  updateConsentPanel();
});

// -- The preview: «Bli med» once the own processed view shows --------------------------------------------------

const PREVIEW_WAIT_MS = 6000; // an audio-only link shows no picture: «Bli med» is not held back for ever
const SELF_GATE_TEXT = { consent: "gate.consent.self", roster: "gate.roster.self" };

function enterWhenPreviewShows() {
  const ready = () => {
    if (call.previewShown) return;
    call.previewShown = true;
    if (call.state === "preview") buttons.enter.disabled = false;
    updateGates();
  };
  if ("requestVideoFrameCallback" in selfView) selfView.requestVideoFrameCallback(ready);
  else selfView.addEventListener("playing", ready, { once: true });
  setTimeout(ready, PREVIEW_WAIT_MS);
}

// Why the own view shows a card, said to the person themselves (what others see of them, and until when).
function selfGateText() {
  if (call.state === "preview" && !call.previewShown) return S["join.preview.starting"];
  const gate = call.gates.get(call.me.pid);
  if (SELF_GATE_TEXT[gate]) return S[SELF_GATE_TEXT[gate]];
  return gateText(call.me.pid);
}

// -- The calm view (citizen and relative): one plain question at a time, at the top ------------------------------
// The full consent form is for staff recording oral consent; the citizen and a relative answer Ja/Nei here, first
// to being seen and heard, then (only after their own «Ja») to a recording. The server decides what is allowed.

const calm = root.dataset.calm === "true";
call.calm = { declined: false, next: null, sent: null };
const KIND_PURPOSE = { bolig: "bolig" }; // the consent's purpose from the meeting's kind; the rest is «annet»

function calmStep() {
  const user = theUser();
  if (!calm || !user || call.state !== "in-call") return null;
  const scopes = call.consents.get(user) || [];
  if (!scopes.includes("video")) return call.calm.declined ? "declined" : "media";
  if (call.calm.next === "recording" && !scopes.includes("recording")) return "recording";
  return null;
}

function updateCalmStep() {
  const step = calmStep();
  if (step !== call.calm.sent) call.calm.sent = null; // answered (or changed by someone else): may ask again
  const box = $("consent-ask");
  const hadFocus = box.contains(document.activeElement);
  box.hidden = !step;
  if (!step) {
    if (hadFocus) buttons.pause.focus(); // the answered question is gone: focus goes to the big Pause button
    return;
  }
  const rel = call.me.role === "parorende" ? ".relative" : "";
  const question = { media: `consent.ask.media${rel}`, declined: `consent.ask.media.no${rel}` }[step];
  $("ask-q").textContent = S[question || `consent.ask.recording${rel}`];
  $("ask-help").textContent = step === "recording" ? S["consent.ask.recording.help"] : S[`consent.ask.media${rel}.help`];
  $("ask-yes").hidden = $("ask-no").hidden = step === "declined";
  $("ask-change").hidden = step !== "declined";
}

$("ask-yes").addEventListener("click", () => {
  const user = theUser();
  const step = calmStep();
  if (!user || !["media", "recording"].includes(step) || call.calm.sent === step) return;
  call.calm.sent = step;
  call.calm.next = step === "media" ? "recording" : null;
  clearError("consent");
  send({
    type: "consent",
    participant: user,
    giver: call.me.role === "parorende" ? "relative" : "user",
    form: "written",
    scopes: step === "media" ? ["video", "audio"] : ["video", "audio", "recording"],
    purpose: KIND_PURPOSE[root.dataset.kind] || "annet",
    note: "",
  });
});

$("ask-no").addEventListener("click", () => {
  const step = calmStep();
  if (step === "media") {
    call.calm.declined = true;
    say(S[call.me.role === "parorende" ? "consent.ask.media.no.relative" : "consent.ask.media.no"]);
  } else if (step === "recording") {
    call.calm.next = null;
    say(S["consent.ask.recording.no"]);
  }
  updateCalmStep();
  if (!$("ask-change").hidden) $("ask-change").focus();
});

$("ask-change").addEventListener("click", () => {
  call.calm.declined = false;
  call.calm.sent = null;
  updateCalmStep();
  $("ask-yes").focus();
});

async function start() {
  try {
    call.stream = await openCamera(call.facing);
    // Before joining, the person sees their own camera on their own device (nothing of it leaves unprocessed)
    // beside what the others will see: the server's processed view, a card until they may be shown.
    $("local-preview").srcObject = call.stream;
  } catch (e) {
    say(S["call.nocamera"]);
    return;
  }
  openSignalling(false);
  setInterval(checkSignalling, PING_MS);
  window.addEventListener("online", () => {
    if (call.me.pid && call.state !== "ended") resumeSignalling(); // back on a network: the old socket is stale
  });
}

// The signalling socket can die without a close: after a network switch its TCP connection is bound to an address
// the device no longer has, and nothing reaches either end. The browser's "online" event (the device is back on a
// network) or a ping every second shows it: when nothing has been heard for SILENCE_MS, a new socket resumes the
// same participant (the server keeps its place, admission and slots) and the media connection is replaced. After
// RESUME_GIVE_UP_MS without success the call is lost.
const PING_MS = 1000;
const SILENCE_MS = 2500;
const RESUME_RETRY_MS = 1000;
const RESUME_GIVE_UP_MS = 30000;

function openSignalling(resume) {
  const url = new URL(signallingUrl(root.dataset.ws));
  if (resume) url.searchParams.set("resume", call.me.pid);
  url.searchParams.set("lang", document.documentElement.lang); // refusals are then said in the page's language
  const ws = new WebSocket(url);
  call.ws = ws;
  call.heard = Date.now();
  ws.addEventListener("message", (ev) => {
    if (ws !== call.ws) return; // an abandoned socket
    call.heard = Date.now();
    const msg = JSON.parse(ev.data);
    if (msg.type === "welcome" && resume && msg.participant !== call.me.pid && call.state !== "preview") {
      end(S["call.lost"]); // too late: the server has let the old participant go
      return;
    } // (in the preview nothing was agreed yet: the page simply goes on as the new participant)
    if (msg.type === "welcome") {
      call.lostSince = null;
      closeAbandoned();
    }
    if (msg.type !== "pong") onMessage(msg);
  });
  ws.addEventListener("close", () => {
    if (ws !== call.ws || call.state === "ended") return;
    if (call.me.pid) resumeSignalling();
    else end(S["call.lost"]); // the server went away without a word (it died) or refused the link
  });
}

function closeAbandoned() {
  for (const ws of call.abandoned.splice(0)) if (ws.readyState <= WebSocket.OPEN) ws.close();
}

function checkSignalling() {
  if (call.state === "ended" || !call.me.pid || !call.ws) return;
  if (Date.now() - call.heard > SILENCE_MS) resumeSignalling(); // silent, or still connecting
  else send({ type: "ping", t: Date.now() });
}

function resumeSignalling() {
  const first = !call.lostSince;
  call.lostSince = call.lostSince || Date.now();
  if (Date.now() - call.lostSince > RESUME_GIVE_UP_MS) {
    end(S["call.lost"]);
    return;
  }
  say(S["call.reconnecting"]);
  // The old socket is not closed yet. When it was only slow (a busy server answers the ping late), its close could
  // reach the server before the new socket does and end the participant there: the resume would find nobody.
  if (call.ws) call.abandoned.push(call.ws);
  call.ws = null;
  clearTimeout(call.resumeTimer);
  call.resumeTimer = setTimeout(() => {
    if (call.state !== "ended" && call.ws === null) openSignalling(true);
  }, first ? 0 : RESUME_RETRY_MS);
}

start();
