// The call page: camera in, the server's processed view back, fixed receive slots, no renegotiation.
// aiortc has no trickle ICE, so the offer is sent only once ICE gathering has completed.

const root = document.getElementById("call");
const S = JSON.parse(document.getElementById("strings").textContent);
const statusEl = document.getElementById("status");
const selfView = document.getElementById("self-view");
const remotes = document.getElementById("remotes");
const buttons = {
  enter: document.getElementById("enter"),
  mute: document.getElementById("mute"),
  camera: document.getElementById("camera"),
  switch: document.getElementById("switch"),
  leave: document.getElementById("leave"),
};

const call = {
  ws: null,
  pc: null,
  stream: null,
  slots: 0,
  iceServers: [],
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
  const cap = document.createElement("figcaption");
  fig.append(video, cap);
  remotes.append(fig);
  countFrames(video);
  return { fig, video, cap, participant: null };
}

async function openCamera(facing) {
  return navigator.mediaDevices.getUserMedia({
    audio: { echoCancellation: true, noiseSuppression: true },
    video: { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 15, max: 15 }, facingMode: facing },
  });
}

function preferVp8(transceiver) {
  if (!RTCRtpReceiver.getCapabilities || !transceiver.setCodecPreferences) return;
  const codecs = RTCRtpReceiver.getCapabilities("video").codecs;
  const vp8 = codecs.filter((c) => c.mimeType === "video/VP8");
  const rest = codecs.filter((c) => c.mimeType !== "video/VP8");
  transceiver.setCodecPreferences([...vp8, ...rest]);
}

function gatheringComplete(pc, timeoutMs) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      if (pc.iceGatheringState === "complete") {
        pc.removeEventListener("icegatheringstatechange", done);
        resolve();
      }
    };
    pc.addEventListener("icegatheringstatechange", done);
    setTimeout(resolve, timeoutMs);
  });
}

async function negotiate() {
  const pc = new RTCPeerConnection({ iceServers: call.iceServers });
  call.pc = pc;
  const [audioTrack] = call.stream.getAudioTracks();
  const [videoTrack] = call.stream.getVideoTracks();
  pc.addTransceiver(audioTrack, { direction: "sendonly", streams: [call.stream] });
  preferVp8(pc.addTransceiver(videoTrack, { direction: "sendrecv", streams: [call.stream] }));
  for (let i = 0; i < call.slots; i++) {
    pc.addTransceiver("audio", { direction: "recvonly" });
    preferVp8(pc.addTransceiver("video", { direction: "recvonly" }));
    call.tiles.push(makeTile(i));
  }
  pc.addEventListener("connectionstatechange", () => {
    if (pc.connectionState === "failed") say(S["call.error"]);
  });
  await pc.setLocalDescription(await pc.createOffer());
  await gatheringComplete(pc, 5000);
  send({ type: "offer", sdp: pc.localDescription.sdp });
}

function onAnswer(sdp) {
  return call.pc.setRemoteDescription({ type: "answer", sdp }).then(() => {
    const tr = call.pc.getTransceivers();
    selfView.srcObject = new MediaStream([tr[1].receiver.track]);
    countFrames(selfView);
    call.tiles.forEach((tile, i) => {
      tile.video.srcObject = new MediaStream([tr[2 + 2 * i].receiver.track, tr[3 + 2 * i].receiver.track]);
    });
    buttons.enter.disabled = false;
    say(S["join.preview"]);
  });
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
    case "welcome":
      call.slots = msg.slots;
      call.participant = msg.participant;
      break;
    case "config":
      call.iceServers = msg.iceServers || [];
      negotiate().catch((e) => fail(e));
      break;
    case "answer":
      onAnswer(msg.sdp).catch((e) => fail(e));
      break;
    case "entered":
      call.state = "in-call";
      root.dataset.state = "in-call";
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
    case "ended":
      end(S["call.ended"]);
      break;
    case "error":
      call.errors.push(msg);
      say(`${S["call.error"]}: ${msg.message}`);
      break;
    default:
      break;
  }
}

function fail(err) {
  call.errors.push({ code: "client", message: String(err) });
  say(S["call.error"]);
}

function end(text) {
  call.state = "ended";
  root.dataset.state = "ended";
  if (call.pc) call.pc.close();
  if (call.stream) call.stream.getTracks().forEach((t) => t.stop());
  if (call.ws && call.ws.readyState === WebSocket.OPEN) call.ws.close();
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
  buttons.mute.setAttribute("aria-pressed", String(!call.audio));
  buttons.mute.textContent = call.audio ? S["call.mute"] : S["call.unmute"];
  send({ type: "media", audio: call.audio, video: call.video });
});

buttons.camera.addEventListener("click", () => {
  call.video = !call.video;
  call.stream.getVideoTracks().forEach((t) => (t.enabled = call.video));
  buttons.camera.setAttribute("aria-pressed", String(!call.video));
  buttons.camera.textContent = call.video ? S["call.camera.off"] : S["call.camera.on"];
  send({ type: "media", audio: call.audio, video: call.video });
});

buttons.switch.addEventListener("click", async () => {
  const facing = call.facing === "user" ? "environment" : "user";
  try {
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

buttons.leave.addEventListener("click", () => {
  send({ type: "leave" });
  end(S["call.left"]);
});

async function start() {
  try {
    call.stream = await openCamera(call.facing);
  } catch (e) {
    say(S["call.nocamera"]);
    return;
  }
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  call.ws = new WebSocket(`${proto}//${location.host}${root.dataset.ws}`);
  call.ws.addEventListener("message", (ev) => onMessage(JSON.parse(ev.data)));
  call.ws.addEventListener("close", () => {
    if (call.state !== "ended") end(S["call.ended"]);
  });
}

start();
