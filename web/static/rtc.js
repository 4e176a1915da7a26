// The media connection to the server, shared by the call page and the pre-call check.
// Layout agreed with session/media/relay.py: audio (send), video (send + own processed view back), then `slots`
// pairs of receive-only audio+video. aiortc has no trickle ICE, so the offer waits for ICE gathering.

export async function openCamera(facing) {
  return navigator.mediaDevices.getUserMedia({
    audio: { echoCancellation: true, noiseSuppression: true },
    video: { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 15, max: 15 }, facingMode: facing },
  });
}

export function preferVp8(transceiver) {
  if (!RTCRtpReceiver.getCapabilities || !transceiver.setCodecPreferences) return;
  const codecs = RTCRtpReceiver.getCapabilities("video").codecs;
  const vp8 = codecs.filter((c) => c.mimeType === "video/VP8");
  const rest = codecs.filter((c) => c.mimeType !== "video/VP8");
  transceiver.setCodecPreferences([...vp8, ...rest]);
}

// Resolves when ICE gathering completes or after timeoutMs. With quietMs, also once no candidate has come for that
// long: right after a network change Chromium first gathers on the address it no longer has, then on the new one,
// and reports "complete" only seconds later.
export function gatheringComplete(pc, timeoutMs, quietMs = 0) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    let quiet;
    const finish = () => {
      clearTimeout(quiet);
      pc.removeEventListener("icegatheringstatechange", done);
      pc.removeEventListener("icecandidate", candidate);
      resolve();
    };
    const done = () => {
      if (pc.iceGatheringState === "complete") finish();
    };
    const candidate = (ev) => {
      if (!ev.candidate || !quietMs) return;
      clearTimeout(quiet);
      quiet = setTimeout(finish, quietMs);
    };
    pc.addEventListener("icegatheringstatechange", done);
    pc.addEventListener("icecandidate", candidate);
    setTimeout(finish, timeoutMs);
  });
}

// Builds the peer connection and returns it with the complete offer SDP to send over signalling.
export async function createOffer(stream, slots, iceServers, iceTransportPolicy = "all", quietMs = 0) {
  const pc = new RTCPeerConnection({ iceServers, iceTransportPolicy });
  const [audioTrack] = stream.getAudioTracks();
  const [videoTrack] = stream.getVideoTracks();
  pc.addTransceiver(audioTrack, { direction: "sendonly", streams: [stream] });
  preferVp8(pc.addTransceiver(videoTrack, { direction: "sendrecv", streams: [stream] }));
  for (let i = 0; i < slots; i++) {
    pc.addTransceiver("audio", { direction: "recvonly" });
    preferVp8(pc.addTransceiver("video", { direction: "recvonly" }));
  }
  await pc.setLocalDescription(await pc.createOffer());
  await gatheringComplete(pc, 5000, quietMs);
  return { pc, sdp: pc.localDescription.sdp };
}

// Applies the server's answer; returns the own processed view and each slot's [audio, video] tracks.
export async function applyAnswer(pc, sdp, slots) {
  await pc.setRemoteDescription({ type: "answer", sdp });
  const tr = pc.getTransceivers();
  const slotTracks = [];
  for (let i = 0; i < slots; i++) slotTracks.push([tr[2 + 2 * i].receiver.track, tr[3 + 2 * i].receiver.track]);
  return { selfTrack: tr[1].receiver.track, slotTracks };
}

export function signallingUrl(path) {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  return `${proto}//${location.host}${path}`;
}
