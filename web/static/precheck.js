// The pre-call check. Camera: the server's processed view over the call's own socket, in preview only (this
// page never sends "enter"). Lighting and microphone: measured on the local camera and microphone. Network:
// round-trip time over the socket (ping/pong) and throughput against a small endpoint behind the same link.
import { applyAnswer, createOffer, openCamera, signallingUrl } from "./rtc.js";

const root = document.getElementById("precheck");
const S = JSON.parse(document.getElementById("strings").textContent);
const $ = (id) => document.getElementById(id);

const check = {
  previewFrames: 0,
  previewCard: null,
  micLevel: 0,
  micPeak: 0,
  micMoves: 0,
  rttMs: null,
  downMbps: null,
  upMbps: null,
  lighting: null,
  errors: [],
};
window.precheck = check;

const state = { stream: null, ws: null, pc: null, slots: 0, pings: [], netRunning: false };
const PREFIX = { ok: "precheck.ok", warn: "precheck.warn", bad: "precheck.bad" };

// One plain sentence per check, with a word in front ("Bra:", "Obs:") so colour is never the only signal.
function verdict(id, key, level, extra = "") {
  const el = $(id);
  const text = `${S[PREFIX[level]]} ${S[key]}${extra}`;
  if (el.textContent === text) return; // live regions repeat themselves when the text is set again
  el.textContent = text;
  el.dataset.verdict = level;
}

// --- camera: the processed preview -------------------------------------------------------------------------

function send(msg) {
  if (state.ws && state.ws.readyState === WebSocket.OPEN) state.ws.send(JSON.stringify(msg));
}

function countFrames(video) {
  const tick = () => {
    check.previewFrames += 1;
    video.requestVideoFrameCallback(tick);
  };
  if ("requestVideoFrameCallback" in video) video.requestVideoFrameCallback(tick);
}

// The server holds the picture back behind a plain card until a meeting may show it; say so rather than
// claim that the card is what the others will see.
function watchPreview(video) {
  const canvas = document.createElement("canvas");
  canvas.width = 64;
  canvas.height = 48;
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  setInterval(() => {
    if (!video.videoWidth || check.previewFrames < 5) return;
    ctx.drawImage(video, 0, 0, canvas.width, canvas.height);
    const { data } = ctx.getImageData(8, 6, 48, 36);
    let sum = 0;
    let square = 0;
    for (let i = 0; i < data.length; i += 4) {
      const lum = 0.2126 * data[i] + 0.7152 * data[i + 1] + 0.0722 * data[i + 2];
      sum += lum;
      square += lum * lum;
    }
    const n = data.length / 4;
    check.previewCard = Math.sqrt(Math.max(0, square / n - (sum / n) ** 2)) < 4;
    verdict("camera-result", check.previewCard ? "precheck.camera.held" : "precheck.camera.ok", "ok");
  }, 1000);
}

async function negotiate(iceServers, iceTransportPolicy) {
  const { pc, sdp } = await createOffer(state.stream, state.slots, iceServers, iceTransportPolicy);
  state.pc = pc;
  pc.addEventListener("connectionstatechange", () => {
    if (pc.connectionState === "failed") verdict("camera-result", "precheck.camera.failed", "bad");
  });
  send({ type: "offer", sdp });
}

async function onAnswer(sdp) {
  const { selfTrack } = await applyAnswer(state.pc, sdp, state.slots);
  const video = $("preview");
  video.srcObject = new MediaStream([selfTrack]);
  countFrames(video);
  watchPreview(video);
  video.play().catch(() => {});
  runNetwork(); // after negotiation, so the server is not busy answering the offer while we time it
}

function onMessage(msg) {
  switch (msg.type) {
    case "welcome":
      state.slots = msg.slots;
      break;
    case "config":
      if (state.stream) negotiate(msg.iceServers || [], msg.iceTransportPolicy || "all").catch((e) => fail("camera-result", e));
      else runNetwork();
      break;
    case "answer":
      onAnswer(msg.sdp).catch((e) => fail("camera-result", e));
      break;
    case "pong": {
      const waiting = state.pings.shift();
      if (waiting) waiting(performance.now() - msg.t);
      break;
    }
    case "ended":
      verdict("camera-result", msg.reason === "replaced" ? "precheck.camera.replaced" : "precheck.camera.ended", "warn");
      break;
    case "error":
      check.errors.push(msg);
      if (msg.code === "offer_rejected") verdict("camera-result", "precheck.camera.failed", "bad");
      break;
    default:
      break;
  }
}

function fail(id, err) {
  check.errors.push({ code: "client", message: String(err) });
  verdict(id, "precheck.camera.failed", "bad");
}

function connect() {
  let welcomed = false;
  state.ws = new WebSocket(signallingUrl(root.dataset.ws));
  state.ws.addEventListener("message", (ev) => {
    const msg = JSON.parse(ev.data);
    welcomed = welcomed || msg.type === "welcome";
    onMessage(msg);
  });
  state.ws.addEventListener("close", () => {
    state.pings.splice(0).forEach((resolve) => resolve(null));
    if (!welcomed) {
      // Refused before the meeting answered (a host link needs its owner logged in): test the network anyway.
      verdict("camera-result", "precheck.camera.refused", "bad");
      runNetwork();
    }
  });
}

// --- lighting: luminance of the local camera frames --------------------------------------------------------

function startLighting(stream) {
  const video = document.createElement("video");
  video.muted = true;
  video.playsInline = true;
  video.srcObject = stream;
  video.play().catch(() => {});
  const canvas = document.createElement("canvas");
  canvas.width = 64;
  canvas.height = 48;
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  const samples = [];
  setInterval(() => {
    if (!video.videoWidth) return;
    ctx.drawImage(video, 0, 0, canvas.width, canvas.height);
    samples.push(luminance(ctx.getImageData(0, 0, canvas.width, canvas.height)));
    if (samples.length > 4) samples.shift();
    const avg = (key) => samples.reduce((sum, s) => sum + s[key], 0) / samples.length;
    judgeLight({ mean: avg("mean"), centre: avg("centre"), edge: avg("edge") });
  }, 500);
}

// Mean luminance of the whole frame, of its centre (where a person usually is) and of the rest around it.
// Near-black pixels (letterbox bars, a black backdrop) are left out, as the server's detectors do.
const BLACK = 12;

function luminance(image) {
  const { data, width, height } = image;
  const sums = { centre: 0, centreCount: 0, edge: 0, edgeCount: 0 };
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      const lum = 0.2126 * data[i] + 0.7152 * data[i + 1] + 0.0722 * data[i + 2];
      if (lum < BLACK) continue;
      const inCentre = x >= width / 4 && x < (3 * width) / 4 && y >= height / 5 && y < (4 * height) / 5;
      sums[inCentre ? "centre" : "edge"] += lum;
      sums[inCentre ? "centreCount" : "edgeCount"] += 1;
    }
  }
  const lit = sums.centreCount + sums.edgeCount;
  return {
    mean: lit < (width * height) / 5 ? 0 : (sums.centre + sums.edge) / lit,
    centre: sums.centreCount ? sums.centre / sums.centreCount : 0,
    edge: sums.edgeCount ? sums.edge / sums.edgeCount : 0,
  };
}

function judgeLight(l) {
  check.lighting = { ...l };
  if (l.mean < 45) {
    check.lighting.verdict = "dark";
    verdict("light-result", "precheck.light.dark", "bad");
  } else if (l.edge - l.centre > 45 && l.edge > 140) {
    check.lighting.verdict = "backlight";
    verdict("light-result", "precheck.light.backlight", "warn");
  } else if (l.mean > 225) {
    check.lighting.verdict = "bright";
    verdict("light-result", "precheck.light.bright", "warn");
  } else {
    check.lighting.verdict = "ok";
    verdict("light-result", "precheck.light.ok", "ok");
  }
}

// --- microphone level --------------------------------------------------------------------------------------

function startMic(stream) {
  if (!stream.getAudioTracks().length) {
    verdict("mic-result", "precheck.mic.none", "bad");
    return;
  }
  const audio = new AudioContext();
  const analyser = audio.createAnalyser();
  analyser.fftSize = 1024;
  audio.createMediaStreamSource(stream).connect(analyser);
  const buffer = new Float32Array(analyser.fftSize);
  const meter = $("mic-level");
  const startButton = $("mic-start");
  const recent = [];
  let previous = 0;
  const started = performance.now();
  if (audio.state === "suspended") {
    startButton.hidden = false;
    startButton.addEventListener("click", () => audio.resume().then(() => (startButton.hidden = true)));
  }
  setInterval(() => {
    analyser.getFloatTimeDomainData(buffer);
    let sum = 0;
    for (const v of buffer) sum += v * v;
    const db = 20 * Math.log10(Math.sqrt(sum / buffer.length) || 1e-6);
    const level = Math.round(Math.max(0, Math.min(100, ((db + 60) / 60) * 100)));
    meter.value = level;
    meter.textContent = String(level);
    check.micLevel = level;
    check.micPeak = Math.max(check.micPeak, level);
    if (Math.abs(level - previous) > 5) check.micMoves += 1;
    previous = level;
    recent.push(level);
    if (recent.length > 30) recent.shift();
    if (Math.max(...recent) > 15) verdict("mic-result", "precheck.mic.ok", "ok");
    else if (performance.now() - started > 4000) verdict("mic-result", "precheck.mic.silent", "warn");
  }, 100);
}

// --- network: round trip and throughput --------------------------------------------------------------------

function ping() {
  return new Promise((resolve) => {
    state.pings.push(resolve);
    send({ type: "ping", t: performance.now() });
    setTimeout(() => {
      const i = state.pings.indexOf(resolve);
      if (i >= 0) {
        state.pings.splice(i, 1);
        resolve(null);
      }
    }, 5000);
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// Over the signalling socket when it is open (what the call uses), else as the time of a tiny request.
async function httpPing() {
  const started = performance.now();
  const response = await fetch(`${root.dataset.data}?size=1`, { cache: "no-store" });
  await response.arrayBuffer();
  return performance.now() - started;
}

async function measureRtt() {
  const rtts = [];
  const viaSocket = state.ws && state.ws.readyState === WebSocket.OPEN;
  for (let i = 0; i < 5; i++) {
    const rtt = viaSocket ? await ping() : await httpPing();
    if (rtt !== null) rtts.push(rtt);
    await sleep(200);
  }
  return rtts.length ? median(rtts) : null;
}

async function measureDown(bytes) {
  const started = performance.now();
  const response = await fetch(`${root.dataset.data}?size=${bytes}`, { cache: "no-store" });
  const body = await response.arrayBuffer();
  const seconds = Math.max((performance.now() - started) / 1000, 0.001);
  return (body.byteLength * 8) / seconds / 1e6;
}

async function measureUp(bytes) {
  const payload = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i += 65536) crypto.getRandomValues(payload.subarray(i, Math.min(bytes, i + 65536)));
  const started = performance.now();
  const response = await fetch(root.dataset.data, { method: "POST", body: payload, cache: "no-store" });
  const { bytes: received } = await response.json();
  const seconds = Math.max((performance.now() - started) / 1000, 0.001);
  return (received * 8) / seconds / 1e6;
}

const mbps = (value) => `${value.toLocaleString(document.documentElement.lang, { maximumFractionDigits: 1 })} Mbit/s`;

async function runNetwork() {
  if (state.netRunning) return;
  state.netRunning = true;
  $("net-again").disabled = true;
  verdict("net-result", "precheck.net.running", "warn");
  try {
    check.rttMs = await measureRtt();
    $("net-rtt").textContent = check.rttMs === null ? "–" : `${Math.round(check.rttMs)} ms`;
    check.downMbps = await measureDown(512 * 1024);
    $("net-down").textContent = mbps(check.downMbps);
    check.upMbps = await measureUp(256 * 1024);
    $("net-up").textContent = mbps(check.upMbps);
    judgeNetwork();
  } catch (e) {
    check.errors.push({ code: "network", message: String(e) });
    verdict("net-result", "precheck.net.failed", "bad");
  } finally {
    state.netRunning = false;
    $("net-again").disabled = false;
  }
}

function judgeNetwork() {
  const { rttMs, downMbps, upMbps } = check;
  if (rttMs === null) verdict("net-result", "precheck.net.failed", "bad");
  else if (rttMs < 150 && downMbps >= 2 && upMbps >= 1) verdict("net-result", "precheck.net.good", "ok");
  else if (rttMs < 400 && downMbps >= 0.8 && upMbps >= 0.5) verdict("net-result", "precheck.net.fair", "warn");
  else verdict("net-result", "precheck.net.poor", "bad");
}

$("net-again").addEventListener("click", () => runNetwork());

async function start() {
  try {
    state.stream = await openCamera("user");
  } catch (e) {
    verdict("camera-result", "precheck.camera.none", "bad");
    verdict("light-result", "precheck.light.none", "bad");
    verdict("mic-result", "precheck.mic.none", "bad");
  }
  if (state.stream) {
    startLighting(state.stream);
    startMic(state.stream);
  }
  connect();
}

window.addEventListener("pagehide", () => {
  if (state.ws) state.ws.close();
  if (state.pc) state.pc.close();
});

start();
