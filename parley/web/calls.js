// calls.js — Voice and video calls in the page: WebRTC peer connections signalled over Parley's own
// connection (docs/protocol.md "Calls": invite, answer, select_answer, candidates, negotiate, reject,
// hangup). One call at a time on a page: a DM call rings the other people's devices; a room call is a mesh
// that members join by inviting each party already in it (at most 6). A ringing banner with a ring made
// with WebAudio (and a desktop notification when the page is hidden or unfocused; pressing call while a
// call rings answers it), a call panel with a tile per person (video, name, who is speaking) and controls
// (mute, camera, screen share, device choice, hang up), ICE restarts when the network drops, and
// `window.parleyCalls` for tests (state, stats, devices, restartIce).
// Device choice: a microphone and a camera list in the call panel (enumerateDevices, kept fresh on
// `devicechange`); a choice replaces the outgoing track on every peer connection (replaceTrack, no
// renegotiation) and in the own tile, and is remembered in localStorage for the next call.

const MAX_PARTIES = 6;
const BATCH_MS = 100; // candidates after the first are sent in batches this often
const LOST_AFTER_MS = 20000; // a peer connection failing this long is given up ("Call lost")
const SPEAKING_LEVEL = 0.02; // RMS of the audio above which a tile shows its person speaking
const DEVICES_KEY = "parley.callDevices"; // {audioinput, videoinput}: the devices last chosen in a call
const RING_EVERY_MS = 3000; // the ring's cadence: two short bursts, then quiet

function loadDevices() {
  try {
    const v = JSON.parse(localStorage.getItem(DEVICES_KEY) || "{}");
    return v && typeof v === "object" ? v : {};
  } catch {
    return {};
  }
}

function saveDevice(kind, deviceId) {
  try {
    localStorage.setItem(DEVICES_KEY, JSON.stringify({ ...loadDevices(), [kind]: deviceId }));
  } catch {
    // storage full or disabled: the choice lasts for this call only
  }
}

/** getUserMedia constraints for one kind: the device chosen last time, or any (`true`) without one. */
function wanted(kind) {
  const id = loadDevices()[kind];
  return typeof id === "string" && id ? { deviceId: { exact: id } } : true;
}

/**
 * The microphone (and camera): the devices chosen last time, else the browser's defaults (a remembered
 * device may be unplugged; `ideal` is not enough, Chromium weighs it below its default camera), else, for
 * video, the microphone alone (a camera that is blocked or busy).
 */
async function openDevices(video) {
  const tries = [];
  const prefs = { audio: wanted("audioinput"), video: video && wanted("videoinput") };
  if (prefs.audio !== true || (video && prefs.video !== true)) tries.push(prefs);
  tries.push({ audio: true, video });
  if (video) tries.push({ audio: true });
  let last;
  for (const constraints of tries) {
    try {
      return await navigator.mediaDevices.getUserMedia(constraints);
    } catch (err) {
      last = err;
    }
  }
  throw last;
}

async function openCamera() {
  const pref = wanted("videoinput");
  if (pref !== true) {
    try {
      return (await navigator.mediaDevices.getUserMedia({ video: pref })).getVideoTracks()[0];
    } catch {
      // not there any more: the default camera
    }
  }
  return (await navigator.mediaDevices.getUserMedia({ video: true })).getVideoTracks()[0];
}

function trackInfo(t) {
  if (!t) return null;
  const settings = t.getSettings ? t.getSettings() : {};
  return { kind: t.kind, label: t.label, deviceId: settings.deviceId || "", enabled: t.enabled, readyState: t.readyState };
}

let refCounter = 0;

function randomId(n = 16) {
  const bytes = crypto.getRandomValues(new Uint8Array(n));
  return Array.from(bytes, (b) => "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"[b & 63]).join("");
}

function button(label, cls, onClick) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = cls;
  b.textContent = label;
  b.addEventListener("click", onClick);
  return b;
}

/** One peer connection of the call: to one device (`party`) of one person (`user`). */
class Peer {
  constructor(call, user, party) {
    this.call = call;
    this.user = user;
    this.party = party; // null until the callee's answer says which device took it
    this.pc = null;
    this.makingOffer = false;
    this.ignoreOffer = false;
    this.established = false; // the first offer/answer is done: later changes go through `negotiate`
    this.outbox = []; // candidates waiting for the next batch
    this.sentFirst = false;
    this.batchTimer = null;
    this.early = []; // remote candidates that came before the remote description
    this.failedSince = 0;
    this.restartTimer = null;
    this.stream = new MediaStream();
    this.tile = null;
  }

  get polite() {
    return this.call.calls.partyId < (this.party || "");
  }
}

class Call {
  constructor(calls, { id, room, media, dm, outgoing }) {
    this.calls = calls;
    this.id = id;
    this.room = room;
    this.media = media;
    this.dm = dm;
    this.outgoing = outgoing;
    this.peers = [];
    this.local = null;
    this.camera = null; // the camera track while screen sharing replaces it
    this.screen = null;
    this.muted = false;
    this.cameraOff = false;
    this.status = outgoing ? "calling" : "connecting";
    this.answered = false;
    this.timer = null;
    this.startedAt = 0;
  }
}

export class Calls {
  constructor(chat) {
    this.chat = chat;
    this.partyId = randomId(12);
    this.call = null; // the call this page is in
    this.ringing = new Map(); // call_id -> {room, from, party, media, sdp, candidates, el}
    this.log = new Map(); // call_id -> {room, media, by, ended, users: Map(user -> {seq, in})} from `call` events
    this.refs = new Map(); // ref -> call_id
    this.iceServers = null;
    this.audio = null; // AudioContext for the ring and the speaking meters
    this.ringTimer = null;
    this.meters = new Map(); // tile element -> {analyser, data}
    this.meterTimer = null;
    this.panel = null;
    window.parleyCalls = {
      partyId: this.partyId,
      state: () => this.debugState(),
      stats: () => this.stats(),
      restartIce: () => this.restartIce(),
      devices: () => this.listDevices(),
    };
  }

  // ---- the header buttons and the log ---------------------------------------------------------------

  bind() {
    const right = document.querySelector(".room-header .header-right");
    this.voiceButton = button("", "icon-button call-button", () => this.startOrJoin("voice"));
    this.voiceButton.id = "call-voice";
    this.voiceButton.setAttribute("aria-label", "Start a voice call");
    this.voiceButton.title = "Voice call";
    this.voiceButton.innerHTML =
      '<svg viewBox="0 0 24 24" width="19" height="19" aria-hidden="true"><path d="M6.6 3.5h2.6l1.4 4.2-2 1.4a11 11 0 0 0 6.3 6.3l1.4-2 4.2 1.4v2.6a2 2 0 0 1-2 2A16.5 16.5 0 0 1 4.6 5.5a2 2 0 0 1 2-2z" fill="none" stroke="currentColor" stroke-width="1.9" stroke-linejoin="round"/></svg>';
    this.videoButton = button("", "icon-button call-button", () => this.startOrJoin("video"));
    this.videoButton.id = "call-video";
    this.videoButton.setAttribute("aria-label", "Start a video call");
    this.videoButton.title = "Video call";
    this.videoButton.innerHTML =
      '<svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true"><rect x="3" y="6.5" width="12.5" height="11" rx="2.2" fill="none" stroke="currentColor" stroke-width="1.9"/><path d="m15.5 10.5 5-3v9l-5-3z" fill="none" stroke="currentColor" stroke-width="1.9" stroke-linejoin="round"/></svg>';
    right.prepend(this.voiceButton, this.videoButton);
    this.banners = document.createElement("div");
    this.banners.className = "call-rings";
    document.getElementById("chat-main").prepend(this.banners);
    this.panel = document.createElement("section");
    this.panel.className = "call-panel";
    this.panel.setAttribute("aria-label", "Call");
    this.panel.hidden = true;
    this.statusEl = document.createElement("p");
    this.statusEl.className = "call-status";
    this.statusEl.setAttribute("role", "status");
    this.tiles = document.createElement("div");
    this.tiles.className = "call-tiles";
    const controls = document.createElement("div");
    controls.className = "call-controls";
    this.muteButton = button("Mute", "button secondary small", () => this.toggleMute());
    this.cameraButton = button("Camera off", "button secondary small", () => this.toggleCamera());
    this.shareButton = button("Share screen", "button secondary small", () => this.toggleShare());
    this.hangupButton = button("Hang up", "button danger small", () => this.hangup());
    controls.append(this.muteButton, this.cameraButton, this.shareButton, this.hangupButton);
    this.devicesEl = document.createElement("div");
    this.devicesEl.className = "call-devices";
    this.micSelect = this.deviceSelect("audioinput", "Microphone");
    this.cameraSelect = this.deviceSelect("videoinput", "Camera");
    this.panel.append(this.statusEl, this.tiles, controls, this.devicesEl);
    document.querySelector(".room-header").after(this.panel);
    window.addEventListener("pagehide", () => {
      if (this.call) this.hangup();
    });
    navigator.mediaDevices?.addEventListener?.("devicechange", () => this.renderDevices());
  }

  /** The header buttons for the open room: hidden without one; "Join" while a call goes on there. */
  renderHeader(room) {
    if (!this.voiceButton) return;
    const show = !!room;
    this.voiceButton.hidden = !show;
    this.videoButton.hidden = !show;
    if (!room) return;
    // "Join": a room call going on that we are not in, or a call ringing here for this room (pressing
    // call then answers it; in a DM only that, as a DM call we are not in is not ours to join).
    const rung = [...this.ringing.values()].some((r) => r.room === room.name && !r.accepted);
    const live = !this.isDm(room.name) && this.liveCall(room.name);
    const inIt = this.call && this.call.room === room.name;
    this.voiceButton.disabled = !!this.call;
    this.videoButton.disabled = !!this.call;
    const join = rung || (live && !inIt);
    this.voiceButton.setAttribute("aria-label", join ? "Join the call with voice" : "Start a voice call");
    this.videoButton.setAttribute("aria-label", join ? "Join the call with video" : "Start a video call");
    this.voiceButton.classList.toggle("live", !!join);
    this.videoButton.classList.toggle("live", !!join);
  }

  /** A `call` event of a room's log, live or from history. */
  seen(ev) {
    if (typeof ev.call_id !== "string") return;
    let entry = this.log.get(ev.call_id);
    if (!entry) {
      entry = { room: ev.room, media: "voice", by: null, ended: false, users: new Map(), seq: 0 };
      this.log.set(ev.call_id, entry);
    }
    entry.seq = Math.max(entry.seq, ev.seq || 0);
    if (ev.action === "started") {
      entry.by = ev.from;
      entry.media = ev.media || "voice";
    }
    if (ev.action === "ended" || ev.action === "missed") entry.ended = true;
    const state = { started: true, joined: true, left: false, declined: false }[ev.action];
    if (state !== undefined && typeof ev.from === "string") {
      const prev = entry.users.get(ev.from);
      if (!prev || prev.seq < ev.seq) entry.users.set(ev.from, { seq: ev.seq, in: state });
    }
    // Another device of mine answered, declined, or the call is over: stop ringing here.
    const ring = this.ringing.get(ev.call_id);
    if (ring && !ring.accepted && (entry.ended || (ev.from === this.chat.me && ["joined", "declined"].includes(ev.action)))) {
      const mine = this.call && this.call.id === ev.call_id;
      if (!mine) this.stopRinging(ev.call_id, entry.ended ? "missed" : "elsewhere");
    }
    const call = this.call && this.call.id === ev.call_id ? this.call : null;
    if (call && ev.action === "declined" && call.outgoing && ev.from !== this.chat.me) {
      const peer = call.peers.find((p) => p.user === ev.from && p.party === null);
      if (peer) this.dropPeer(peer);
      if (!call.peers.length) this.finish(`${ev.from} declined the call`);
    }
    if (call && this.call === call && entry.ended) {
      this.finish(ev.action === "missed" ? (call.outgoing ? "No answer" : "Missed call") : "The call ended");
    }
    this.renderLog();
  }

  /** Users in a call according to the log (started or joined, not left since). */
  inCall(callId) {
    const entry = this.log.get(callId);
    if (!entry) return [];
    return [...entry.users].filter(([, s]) => s.in).map(([u]) => u);
  }

  /** The id of a call going on in a room (not a DM) that the log shows, if any. */
  liveCall(room) {
    let best = null;
    for (const [id, e] of this.log) {
      if (e.room === room && !e.ended && e.by && (!best || e.seq > best.seq)) best = { id, seq: e.seq };
    }
    return best ? best.id : null;
  }

  /** Show the "Join" button on the line of each started call that still goes on and that we are not in. */
  renderLog() {
    for (const b of document.querySelectorAll(".call-join[data-call-id]")) {
      const e = this.log.get(b.dataset.callId);
      b.hidden = !e || e.ended || (this.call && this.call.id === b.dataset.callId) || this.isDm(e.room);
    }
    this.renderHeader(this.chat.rooms.get(this.chat.active));
  }

  isDm(name) {
    const room = this.chat.rooms.get(name);
    return room ? !!room.isDm : name.startsWith("dm.");
  }

  /** The other people of a DM. */
  dmOthers(name) {
    const room = this.chat.rooms.get(name);
    const members = room && Array.isArray(room.info.members) ? room.info.members : [];
    return members.filter((u) => u !== this.chat.me);
  }

  // ---- starting, joining, answering --------------------------------------------------------------

  async startOrJoin(media) {
    const name = this.chat.active;
    if (!name || this.call) return;
    // Pressing call while this room's call rings here (the other side called first, or at the same
    // moment and their invite won the race): answer it rather than placing a second call.
    const ring = [...this.ringing.values()].find((r) => r.room === name && !r.accepted);
    if (ring) return this.accept(ring.id);
    const live = this.isDm(name) ? null : this.liveCall(name);
    if (live) return this.join(name, live, media);
    return this.start(name, media);
  }

  async start(room, media) {
    if (this.call) return;
    const dm = this.isDm(room);
    const others = dm ? this.dmOthers(room) : [];
    if (dm && !others.length) {
      this.chat.notify("There is nobody else in this conversation to call.");
      return;
    }
    const call = new Call(this, { id: randomId(20), room, media, dm, outgoing: true });
    this.call = call;
    this.showPanel();
    if (!(await this.openMedia(call))) return;
    if (dm) {
      // One peer connection per person called; in a DM of two the invite rings the other one's devices.
      for (const user of others) {
        const peer = this.addPeer(call, user, null);
        const offer = await this.offer(peer);
        if (!offer || this.call !== call) return;
        const frame = { kind: "invite", media, sdp: offer };
        if (others.length > 1) frame.to = user;
        this.send(call, frame);
      }
    } else {
      // A room call starts with an invite that rings nobody: members see it in the log and join it.
      const pc = new RTCPeerConnection({ iceServers: this.iceServers || [] });
      for (const t of call.local.getTracks()) pc.addTrack(t, call.local);
      const offer = await pc.createOffer();
      pc.close();
      this.send(call, { kind: "invite", media, sdp: { type: offer.type, sdp: offer.sdp } });
      call.status = "waiting";
    }
    this.render();
  }

  /** Join a room call: invite each person the log shows in it. */
  async join(room, callId, media) {
    if (this.call) return;
    const users = this.inCall(callId).filter((u) => u !== this.chat.me);
    if (users.length >= MAX_PARTIES) {
      this.chat.notify(`This call is full: at most ${MAX_PARTIES} people can take part at once.`);
      return;
    }
    const call = new Call(this, { id: callId, room, media, dm: false, outgoing: false });
    call.joining = true;
    this.call = call;
    this.showPanel();
    if (!(await this.openMedia(call))) return;
    for (const user of users) {
      const peer = this.addPeer(call, user, null);
      const offer = await this.offer(peer);
      if (!offer || this.call !== call) return;
      this.send(call, { kind: "invite", media, sdp: offer, to: user });
    }
    call.status = users.length ? "connecting" : "waiting";
    this.renderLog();
    this.render();
  }

  async openMedia(call) {
    try {
      if (!this.iceServers) this.iceServers = await this.fetchIce();
    } catch {
      this.iceServers = [];
    }
    try {
      call.local = await openDevices(call.media === "video");
    } catch {
      this.chat.notify("Can't use your microphone or camera: allow them for this site and try again.");
      this.finish(null, { quiet: true });
      return false;
    }
    if (this.call !== call) {
      for (const t of call.local.getTracks()) t.stop();
      return false;
    }
    call.camera = call.local.getVideoTracks()[0] || null;
    for (const t of call.local.getTracks()) this.watchTrack(call, t);
    this.addTile(call, null);
    this.renderDevices();
    return true;
  }

  async fetchIce() {
    const res = await fetch("/api/ice", {
      headers: { Accept: "application/json", Authorization: `Bearer ${this.chat.token}` },
      cache: "no-store",
    });
    if (!res.ok) return [];
    const data = await res.json();
    return Array.isArray(data.ice_servers) ? data.ice_servers : [];
  }

  addPeer(call, user, party) {
    const peer = new Peer(call, user, party);
    const pc = new RTCPeerConnection({ iceServers: this.iceServers || [] });
    peer.pc = pc;
    for (const t of call.local.getTracks()) pc.addTrack(t, call.local);
    pc.onicecandidate = (e) => this.queueCandidate(peer, e.candidate ? e.candidate.toJSON() : { candidate: "" });
    pc.ontrack = (e) => {
      if (!peer.stream.getTracks().includes(e.track)) peer.stream.addTrack(e.track);
      e.track.onunmute = () => this.renderTile(peer);
      this.renderTile(peer);
      if (e.track.kind === "audio") this.meter(peer.tile, peer.stream);
    };
    pc.onconnectionstatechange = () => this.connectionChanged(peer);
    pc.onnegotiationneeded = () => this.renegotiate(peer);
    call.peers.push(peer);
    this.addTile(call, peer);
    return peer;
  }

  async offer(peer) {
    try {
      peer.makingOffer = true;
      const offer = await peer.pc.createOffer();
      await peer.pc.setLocalDescription(offer);
      return { type: "offer", sdp: peer.pc.localDescription.sdp };
    } catch (err) {
      console.warn("call: cannot make an offer", err);
      return null;
    } finally {
      peer.makingOffer = false;
    }
  }

  /** An invite for us: a DM call rings; a room call we are in is a newcomer connecting, answered at once. */
  async invited(f) {
    const call = this.call;
    if (call && call.id === f.call_id) {
      if (f.to_party && f.to_party !== this.partyId) return;
      let peer = call.peers.find((p) => p.user === f.from && (p.party === f.party_id || p.party === null));
      if (peer && peer.party === null && peer.pc.signalingState === "have-local-offer") {
        // Both invited each other while joining: the lower party id gives way and answers.
        if (this.partyId > f.party_id) return;
        this.dropPeer(peer);
        peer = null;
      }
      if (peer && peer.established) return;
      if (!peer) peer = this.addPeer(call, f.from, f.party_id);
      peer.party = f.party_id;
      await this.answerOffer(peer, f.sdp);
      return;
    }
    const dm = this.isDm(f.room);
    if (!dm) {
      // A room call: someone joining connects to each device in it. If mine is in it elsewhere, not here.
      if (f.to_party && f.to_party !== this.partyId) return;
      if (this.inCall(f.call_id).includes(this.chat.me)) return;
    }
    // Glare: we are calling the same people in the same room: the lower call id wins.
    if (call && call.outgoing && !call.answered && call.room === f.room) {
      if (call.id < f.call_id) return; // they hang theirs up and answer ours
      this.send(call, { kind: "hangup", reason: "replaced" });
      this.finish(null, { quiet: true });
      this.ringing.set(f.call_id, { ...this.ringEntry(f), auto: true });
      await this.accept(f.call_id);
      return;
    }
    if (this.ringing.has(f.call_id)) return;
    const entry = this.ringEntry(f);
    this.ringing.set(f.call_id, entry);
    this.showRing(entry);
  }

  ringEntry(f) {
    return { id: f.call_id, room: f.room, from: f.from, party: f.party_id, media: f.media || "voice", sdp: f.sdp, candidates: [] };
  }

  async accept(callId) {
    const ring = this.ringing.get(callId);
    if (!ring || ring.accepted) return;
    // The banner goes; the entry stays (collecting the caller's candidates) until the peer connection exists.
    ring.accepted = true;
    this.hideRing(ring);
    if (this.call) this.hangup();
    const call = new Call(this, { id: callId, room: ring.room, media: ring.media, dm: this.isDm(ring.room), outgoing: false });
    this.call = call;
    if (this.chat.rooms.has(ring.room)) this.chat.select(ring.room);
    this.showPanel();
    const ok = await this.openMedia(call);
    this.ringing.delete(callId);
    if (!ok) return;
    const peer = this.addPeer(call, ring.from, ring.party);
    peer.early.push(...ring.candidates);
    await this.answerOffer(peer, ring.sdp);
  }

  decline(callId) {
    const ring = this.ringing.get(callId);
    if (!ring) return;
    this.stopRinging(callId, null);
    this.sendRaw({ room: ring.room, call_id: callId, kind: "reject" });
  }

  async answerOffer(peer, sdp) {
    const call = peer.call;
    try {
      await peer.pc.setRemoteDescription(sdp);
      await this.applyEarly(peer);
      await peer.pc.setLocalDescription(await peer.pc.createAnswer());
    } catch (err) {
      console.warn("call: cannot answer", err);
      return;
    }
    if (this.call !== call) return;
    peer.established = true;
    this.send(call, { kind: "answer", sdp: { type: "answer", sdp: peer.pc.localDescription.sdp }, to: peer.user, to_party: peer.party });
    this.flushCandidates(peer);
    call.status = "connecting";
    this.render();
  }

  async applyEarly(peer) {
    const early = peer.early.splice(0);
    for (const c of early) await this.addCandidate(peer, c);
  }

  async addCandidate(peer, c) {
    try {
      await peer.pc.addIceCandidate(c.candidate ? c : null);
    } catch (err) {
      if (!peer.ignoreOffer) console.warn("call: bad candidate", err);
    }
  }

  // ---- signalling in --------------------------------------------------------------------------------

  /** A `signal` frame from the server. */
  async handle(f) {
    if (typeof f.call_id !== "string" || typeof f.kind !== "string") return;
    if (f.from === this.chat.me && f.party_id === this.partyId) return;
    const call = this.call && this.call.id === f.call_id ? this.call : null;
    switch (f.kind) {
      case "invite":
        if (f.sdp && f.sdp.type === "offer") await this.invited(f);
        return;
      case "answer": {
        if (!call || (f.to_party && f.to_party !== this.partyId)) return;
        const peer = call.peers.find((p) => p.user === f.from && p.party === null);
        if (!peer) {
          // Another device of someone we already connected to answered too: tell it it was not chosen.
          if (call.peers.some((p) => p.user === f.from)) {
            this.send(call, { kind: "select_answer", to: f.from, selected_party_id: call.peers.find((p) => p.user === f.from).party });
          }
          return;
        }
        peer.party = f.party_id;
        try {
          await peer.pc.setRemoteDescription(f.sdp);
        } catch (err) {
          console.warn("call: bad answer", err);
          return;
        }
        peer.established = true;
        call.answered = true;
        this.send(call, { kind: "select_answer", to: f.from, selected_party_id: f.party_id });
        this.flushCandidates(peer);
        await this.applyEarly(peer);
        const early = (call.earlyFor || []).filter((e) => e.user === f.from && e.party === f.party_id);
        call.earlyFor = (call.earlyFor || []).filter((e) => !early.includes(e));
        for (const e of early) for (const c of e.candidates) await this.addCandidate(peer, c);
        if (call.status === "calling") call.status = "connecting";
        this.render();
        return;
      }
      case "select_answer": {
        if (f.selected_party_id === this.partyId) return;
        const ring = this.ringing.get(f.call_id);
        if (ring && !ring.accepted) this.stopRinging(f.call_id, "elsewhere");
        else if (call && !call.outgoing && call.dm && call.peers.every((p) => p.user === f.from)) {
          this.finish("Answered on another device", { quiet: true }); // not us: leave without a hangup
        }
        return;
      }
      case "candidates": {
        const list = Array.isArray(f.candidates) ? f.candidates : [];
        const ring = this.ringing.get(f.call_id);
        if (ring) {
          if (ring.from === f.from && ring.party === f.party_id) ring.candidates.push(...list);
          return;
        }
        if (!call || (f.to_party && f.to_party !== this.partyId)) return;
        const peer = call.peers.find((p) => p.user === f.from && p.party === f.party_id);
        if (!peer) {
          // From a device whose answer has not come yet: kept until it does.
          if (call.peers.some((p) => p.user === f.from && p.party === null)) {
            call.earlyFor = call.earlyFor || [];
            call.earlyFor.push({ user: f.from, party: f.party_id, candidates: list });
          }
          return;
        }
        if (!peer.pc.remoteDescription) {
          peer.early.push(...list);
          return;
        }
        for (const c of list) await this.addCandidate(peer, c);
        return;
      }
      case "negotiate": {
        if (!call || (f.to_party && f.to_party !== this.partyId)) return;
        const peer = call.peers.find((p) => p.user === f.from && p.party === f.party_id);
        if (peer && f.sdp) await this.negotiated(peer, f.sdp);
        return;
      }
      case "reject":
        if (call && call.outgoing) {
          const peer = call.peers.find((p) => p.user === f.from && p.party === null);
          if (peer) this.dropPeer(peer);
          if (!call.peers.length) this.finish(`${f.from} declined the call`);
        }
        return;
      case "hangup": {
        const ring = this.ringing.get(f.call_id);
        if (ring && !ring.accepted) {
          this.stopRinging(f.call_id, "missed");
          return;
        }
        if (!call) return;
        if (f.reason === "invite_timeout") {
          this.finish(call.outgoing && call.dm ? "No answer" : "Nobody joined the call");
          return;
        }
        for (const peer of call.peers.filter((p) => p.user === f.from && (p.party === f.party_id || p.party === null))) {
          this.dropPeer(peer);
        }
        if (!call.peers.length && (call.dm || call.answered)) this.finish(call.dm ? "Call ended" : "Everyone left the call");
        else this.render();
        return;
      }
      default:
    }
  }

  /** A `signaled` answer or an error frame for one of our signals. */
  refused(f) {
    const callId = this.refs.get(f.ref);
    this.refs.delete(f.ref);
    if (!this.call || this.call.id !== callId) return;
    if (f.code === "conflict") this.finish("This call is full: at most 6 people can take part at once.");
    else if (f.code === "not_found") this.finish("That call is over.");
    else if (f.code === "forbidden") this.finish("You can't take part in this call.");
    else if (f.code === "rate_limited") this.chat.notify("Too many calls just now: wait a little and try again.");
  }

  signaled(f) {
    this.refs.delete(f.ref);
  }

  // ---- signalling out -------------------------------------------------------------------------------

  send(call, frame) {
    return this.sendRaw({ room: call.room, call_id: call.id, ...frame });
  }

  sendRaw(frame) {
    const ref = `call:${++refCounter}`;
    const full = { type: "signal", party_id: this.partyId, ...frame, ref };
    for (const k of Object.keys(full)) if (full[k] === null || full[k] === undefined) delete full[k];
    if (frame.kind !== "candidates") {
      this.refs.set(ref, frame.call_id);
      if (this.refs.size > 500) this.refs.delete(this.refs.keys().next().value);
    }
    return this.chat.conn.ready && this.chat.conn.send(full);
  }

  /** Trickle ICE: the first candidate goes at once, the rest in batches every BATCH_MS; "" ends them. */
  queueCandidate(peer, c) {
    peer.outbox.push({ candidate: c.candidate || "", sdpMid: c.sdpMid ?? undefined, sdpMLineIndex: c.sdpMLineIndex ?? undefined });
    if (!peer.sentFirst || !c.candidate) this.flushCandidates(peer);
    else if (!peer.batchTimer) peer.batchTimer = setTimeout(() => this.flushCandidates(peer), BATCH_MS);
  }

  flushCandidates(peer) {
    clearTimeout(peer.batchTimer);
    peer.batchTimer = null;
    if (!peer.outbox.length || this.call !== peer.call) return;
    while (peer.outbox.length) {
      const batch = peer.outbox.splice(0, 50);
      this.send(peer.call, { kind: "candidates", to: peer.user, to_party: peer.party, candidates: batch });
    }
    peer.sentFirst = true;
  }

  /** Perfect negotiation: our side wants a new offer (screen share, camera added, ICE restart). */
  async renegotiate(peer) {
    if (!peer.established || this.call !== peer.call) return;
    try {
      peer.makingOffer = true;
      await peer.pc.setLocalDescription();
      this.send(peer.call, { kind: "negotiate", to: peer.user, to_party: peer.party, sdp: { type: peer.pc.localDescription.type, sdp: peer.pc.localDescription.sdp } });
    } catch (err) {
      console.warn("call: cannot renegotiate", err);
    } finally {
      peer.makingOffer = false;
    }
  }

  async negotiated(peer, sdp) {
    const pc = peer.pc;
    const collision = sdp.type === "offer" && (peer.makingOffer || pc.signalingState !== "stable");
    peer.ignoreOffer = !peer.polite && collision;
    if (peer.ignoreOffer) return;
    try {
      await pc.setRemoteDescription(sdp);
      if (sdp.type === "offer") {
        await pc.setLocalDescription();
        this.send(peer.call, { kind: "negotiate", to: peer.user, to_party: peer.party, sdp: { type: pc.localDescription.type, sdp: pc.localDescription.sdp } });
      }
    } catch (err) {
      console.warn("call: negotiation failed", err);
    }
  }

  connectionChanged(peer) {
    const state = peer.pc.connectionState;
    const call = peer.call;
    if (state === "connected") {
      peer.failedSince = 0;
      clearTimeout(peer.restartTimer);
      peer.restartTimer = null;
      if (!call.startedAt) call.startedAt = Date.now();
      call.status = "connected";
    } else if (state === "disconnected" || state === "failed") {
      if (!peer.failedSince) peer.failedSince = Date.now();
      // Try an ICE restart (the impolite side at once; both when it failed outright).
      const restart = () => {
        if (this.call === call && ["disconnected", "failed"].includes(peer.pc.connectionState)) this.restartPeer(peer);
      };
      if (state === "failed" || !peer.polite) restart();
      clearTimeout(peer.restartTimer);
      peer.restartTimer = setTimeout(() => {
        if (this.call !== call || peer.pc.connectionState === "connected") return;
        if (Date.now() - peer.failedSince >= LOST_AFTER_MS) {
          peer.lost = true;
          this.renderTile(peer);
          if (call.peers.every((p) => p.lost)) this.finish("Call lost: the connection could not be restored");
        } else restart();
      }, LOST_AFTER_MS);
    }
    this.renderTile(peer);
    this.render();
  }

  /** ICE restart: new ICE credentials, offered again through `negotiate` (onnegotiationneeded). */
  restartPeer(peer) {
    peer.restarts = (peer.restarts || 0) + 1;
    peer.pc.restartIce();
  }

  dropPeer(peer) {
    clearTimeout(peer.batchTimer);
    clearTimeout(peer.restartTimer);
    try {
      peer.pc.close();
    } catch {
      // already closed
    }
    if (peer.tile) {
      this.meters.delete(peer.tile);
      peer.tile.remove();
    }
    const call = peer.call;
    call.peers = call.peers.filter((p) => p !== peer);
  }

  // ---- in the call ----------------------------------------------------------------------------------

  hangup() {
    const call = this.call;
    if (!call) return;
    this.send(call, { kind: "hangup", reason: "user_hangup" });
    this.finish(null, { quiet: true });
  }

  /** Leave the call here (no frame sent): close everything, and say why if there is something to say. */
  finish(why, { quiet = false } = {}) {
    const call = this.call;
    if (!call) return;
    this.call = null;
    for (const peer of [...call.peers]) this.dropPeer(peer);
    for (const s of [call.local, call.screen]) if (s) for (const t of s.getTracks()) t.stop();
    if (call.camera) call.camera.stop();
    this.meters.clear();
    this.tiles.replaceChildren();
    this.panel.hidden = true;
    this.panel.dataset.state = "idle";
    if (why && !quiet) this.chat.notify(why, { kind: "info", timeout: 6000 });
    this.renderLog();
  }

  toggleMute() {
    const call = this.call;
    if (!call || !call.local) return;
    call.muted = !call.muted;
    for (const t of call.local.getAudioTracks()) t.enabled = !call.muted;
    this.render();
  }

  async toggleCamera() {
    const call = this.call;
    if (!call || !call.local) return;
    if (!call.camera) {
      // A voice call turning video on: a new track, and a renegotiation with each peer.
      let track;
      try {
        track = await openCamera();
      } catch {
        this.chat.notify("Can't use your camera.");
        return;
      }
      if (this.call !== call || call.camera) {
        track.stop(); // the call ended, or a second click got there first
        return;
      }
      call.camera = track;
      this.watchTrack(call, track);
      call.local.addTrack(call.camera);
      for (const peer of call.peers) peer.pc.addTrack(call.camera, call.local);
      call.cameraOff = false;
      this.renderDevices();
    } else {
      call.cameraOff = !call.cameraOff;
      call.camera.enabled = !call.cameraOff;
    }
    this.renderLocal();
    this.render();
  }

  // ---- devices --------------------------------------------------------------------------------------

  deviceSelect(kind, label) {
    const wrap = document.createElement("label");
    wrap.className = "call-device";
    const text = document.createElement("span");
    text.textContent = label;
    const select = document.createElement("select");
    select.dataset.kind = kind;
    select.setAttribute("aria-label", label); // the wrapping label's text would take in the chosen option's
    select.addEventListener("change", () => this.switchDevice(kind, select.value));
    wrap.append(text, select);
    wrap.hidden = true;
    this.devicesEl.append(wrap);
    return select;
  }

  async listDevices() {
    try {
      const all = await navigator.mediaDevices.enumerateDevices();
      return all.filter((d) => d.kind === "audioinput" || d.kind === "videoinput").map((d) => ({ kind: d.kind, label: d.label, deviceId: d.deviceId }));
    } catch {
      return [];
    }
  }

  /** The microphone and camera lists, each showing the device the call sends from (a camera only with video). */
  async renderDevices() {
    const call = this.call;
    if (!this.devicesEl) return;
    const devices = call && call.local ? await this.listDevices() : [];
    if (this.call !== call) return;
    const current = {
      audioinput: call && call.local ? call.local.getAudioTracks()[0] : null,
      videoinput: call ? call.camera : null,
    };
    for (const select of [this.micSelect, this.cameraSelect]) {
      const kind = select.dataset.kind;
      const track = current[kind];
      const list = devices.filter((d) => d.kind === kind && d.deviceId);
      const chosen = trackInfo(track);
      select.replaceChildren(
        ...list.map((d, i) => {
          const o = document.createElement("option");
          o.value = d.deviceId;
          o.textContent = d.label || `${kind === "audioinput" ? "Microphone" : "Camera"} ${i + 1}`;
          return o;
        }),
      );
      // The track's device by id, or else by label (the "default" entry shares its label with the real one).
      const match = chosen && (list.find((d) => d.deviceId === chosen.deviceId) || list.find((d) => d.label && d.label === chosen.label));
      if (match) select.value = match.deviceId;
      select.parentElement.hidden = !track || list.length < 2;
    }
    this.devicesEl.hidden = this.micSelect.parentElement.hidden && this.cameraSelect.parentElement.hidden;
  }

  /** A microphone or camera unplugged mid-call (its track ends by itself): carry on with another one. */
  watchTrack(call, track) {
    track.addEventListener("ended", async () => {
      const kind = track.kind === "audio" ? "audioinput" : "videoinput";
      const current = kind === "audioinput" ? call.local.getAudioTracks()[0] : call.camera;
      if (this.call !== call || current !== track) return; // replaced or stopped by the page itself
      const gone = trackInfo(track).deviceId;
      const list = (await this.listDevices()).filter((d) => d.kind === kind && d.deviceId && d.deviceId !== gone);
      const next = list.find((d) => d.deviceId === "default") || list[0];
      if (next) await this.switchDevice(kind, next.deviceId, { remember: false });
      else this.chat.notify(`Your ${kind === "audioinput" ? "microphone" : "camera"} is gone.`);
    });
  }

  /** Send from another microphone or camera: a new track in place of the old on every peer connection. */
  async switchDevice(kind, deviceId, { remember = true } = {}) {
    const call = this.call;
    if (!call || !call.local || !deviceId) return;
    const audio = kind === "audioinput";
    const old = audio ? call.local.getAudioTracks()[0] : call.camera;
    if (!old) return;
    if (trackInfo(old).deviceId === deviceId && old.readyState === "live") {
      if (remember) saveDevice(kind, deviceId);
      return;
    }
    const constraints = audio ? { audio: { deviceId: { exact: deviceId } } } : { video: { deviceId: { exact: deviceId } } };
    let track;
    try {
      track = (await navigator.mediaDevices.getUserMedia(constraints)).getTracks()[0];
    } catch {
      // Some cameras can't be open twice at once: let go of the old one and try again.
      try {
        old.stop();
        track = (await navigator.mediaDevices.getUserMedia(constraints)).getTracks()[0];
      } catch {
        this.chat.notify(`Can't use that ${audio ? "microphone" : "camera"}.`);
        this.renderDevices();
        return;
      }
    }
    if (this.call !== call) {
      track.stop();
      return;
    }
    track.enabled = audio ? !call.muted : !call.cameraOff;
    this.watchTrack(call, track);
    call.local.removeTrack(old);
    call.local.addTrack(track);
    if (!audio) call.camera = track;
    // While the screen is shared the senders carry the screen: the new camera takes over when sharing stops.
    await Promise.all(
      call.peers.map(async (peer) => {
        const sender = peer.pc.getSenders().find((x) => x.track === old);
        if (!sender) return;
        try {
          await sender.replaceTrack(track);
        } catch (err) {
          console.warn("call: cannot switch device", err);
        }
      }),
    );
    old.stop();
    if (remember) saveDevice(kind, deviceId);
    if (audio && this.localTile) {
      this.meters.delete(this.localTile);
      this.meter(this.localTile, new MediaStream([track]));
    }
    this.renderLocal();
    this.render();
    this.renderDevices();
  }

  async toggleShare() {
    const call = this.call;
    if (!call) return;
    if (call.screen) return this.stopShare();
    let s;
    try {
      s = await navigator.mediaDevices.getDisplayMedia({ video: true });
    } catch {
      return;
    }
    if (this.call !== call) return;
    call.screen = s;
    const track = s.getVideoTracks()[0];
    track.onended = () => this.stopShare();
    for (const peer of call.peers) {
      const sender = peer.pc.getSenders().find((x) => x.track && x.track.kind === "video");
      if (sender) await sender.replaceTrack(track);
      else peer.pc.addTrack(track, call.local); // a voice call: renegotiated (perfect negotiation)
    }
    this.renderLocal();
    this.render();
  }

  async stopShare() {
    const call = this.call;
    if (!call || !call.screen) return;
    const track = call.screen.getVideoTracks()[0];
    for (const peer of call.peers) {
      const sender = peer.pc.getSenders().find((x) => x.track === track);
      if (!sender) continue;
      if (call.camera) await sender.replaceTrack(call.camera);
      else peer.pc.removeTrack(sender);
    }
    for (const t of call.screen.getTracks()) t.stop();
    call.screen = null;
    this.renderLocal();
    this.render();
  }

  // ---- ringing --------------------------------------------------------------------------------------

  showRing(entry) {
    const el = document.createElement("div");
    el.className = "call-ring";
    el.setAttribute("role", "alertdialog");
    el.setAttribute("aria-label", "Incoming call");
    el.dataset.callId = entry.id;
    const text = document.createElement("span");
    text.className = "call-ring-text";
    const where = this.isDm(entry.room) ? "" : ` in #${entry.room}`;
    text.textContent = `${entry.from} is calling you${where} (${entry.media === "video" ? "video" : "voice"})`;
    el.append(
      text,
      button("Accept", "button primary small", () => this.accept(entry.id)),
      button("Decline", "button danger small", () => this.decline(entry.id)),
    );
    entry.el = el;
    this.banners.append(el);
    this.renderLog();
    this.startRingSound();
    // Someone not looking at the page (another tab, another window) gets a desktop notification.
    entry.note = this.chat.desktopNotifyCall?.(entry) || null;
  }

  hideRing(ring) {
    if (ring.el) ring.el.remove();
    ring.el = null;
    if (ring.note) {
      try {
        ring.note.close();
      } catch {
        // already gone
      }
      ring.note = null;
    }
    if (![...this.ringing.values()].some((r) => r.el)) this.stopRingSound();
    this.renderLog();
  }

  stopRinging(callId, why) {
    const ring = this.ringing.get(callId);
    if (!ring) return;
    this.ringing.delete(callId);
    this.hideRing(ring);
    if (why === "missed") this.chat.notify(`Missed call from ${ring.from}`, { kind: "info", timeout: 8000 });
  }

  audioContext() {
    if (!this.audio) {
      try {
        this.audio = new AudioContext();
      } catch {
        return null;
      }
    }
    if (this.audio.state === "suspended") this.audio.resume().catch(() => {});
    return this.audio;
  }

  /**
   * The ring, made with WebAudio (no sound file): two short bursts of a 440 + 480 Hz tone every few
   * seconds, through one gain node that is cut off the moment the ringing stops. A browser that has not
   * let the page play sound yet (no click so far) keeps the context suspended: the first click or key
   * press on the page resumes it while the call still rings.
   */
  startRingSound() {
    if (this.ringTimer) return;
    const ctx = this.audioContext();
    if (!ctx) return;
    const out = ctx.createGain();
    out.gain.value = 1;
    out.connect(ctx.destination);
    this.ringOut = out;
    const burst = () => {
      if (this.ringOut !== out) return;
      const t0 = ctx.currentTime + 0.02;
      for (const at of [0, 0.5]) {
        const env = ctx.createGain();
        env.gain.setValueAtTime(0, t0 + at);
        env.gain.linearRampToValueAtTime(0.07, t0 + at + 0.03);
        env.gain.setValueAtTime(0.07, t0 + at + 0.37);
        env.gain.linearRampToValueAtTime(0, t0 + at + 0.4);
        env.connect(out);
        for (const freq of [440, 480]) {
          const osc = ctx.createOscillator();
          osc.frequency.value = freq;
          osc.connect(env);
          osc.start(t0 + at);
          osc.stop(t0 + at + 0.42);
        }
      }
    };
    burst();
    this.ringTimer = setInterval(burst, RING_EVERY_MS);
    if (ctx.state !== "running") {
      this.unlockAudio = () => {
        if (this.audio && this.audio.state !== "running") this.audio.resume().catch(() => {});
      };
      for (const type of ["pointerdown", "keydown"]) window.addEventListener(type, this.unlockAudio, { once: true, capture: true });
    }
  }

  stopRingSound() {
    clearInterval(this.ringTimer);
    this.ringTimer = null;
    if (this.ringOut) {
      try {
        this.ringOut.disconnect();
      } catch {
        // already disconnected
      }
      this.ringOut = null;
    }
    if (this.unlockAudio) {
      for (const type of ["pointerdown", "keydown"]) window.removeEventListener(type, this.unlockAudio, { capture: true });
      this.unlockAudio = null;
    }
  }

  // ---- the call panel -------------------------------------------------------------------------------

  showPanel() {
    this.panel.hidden = false;
    this.render();
  }

  addTile(call, peer) {
    const tile = document.createElement("figure");
    tile.className = "call-tile";
    const video = document.createElement("video");
    video.autoplay = true;
    video.playsInline = true;
    const name = document.createElement("figcaption");
    name.className = "call-tile-name";
    const state = document.createElement("span");
    state.className = "call-tile-state";
    tile.append(video, name, state);
    if (peer) {
      peer.tile = tile;
      tile.dataset.user = peer.user;
      video.srcObject = peer.stream;
      name.textContent = peer.user;
      this.tiles.append(tile);
      this.renderTile(peer);
    } else {
      tile.classList.add("me");
      tile.dataset.user = this.chat.me;
      video.muted = true;
      video.srcObject = call.local;
      name.textContent = `${this.chat.me} (you)`;
      this.tiles.prepend(tile);
      this.localTile = tile;
      if (call.local.getAudioTracks().length) this.meter(tile, call.local);
    }
    video.play?.().catch(() => {});
    return tile;
  }

  renderLocal() {
    const call = this.call;
    if (!call || !this.localTile) return;
    const video = this.localTile.querySelector("video");
    const showing = call.screen || (call.camera && !call.cameraOff) ? new MediaStream([...call.local.getAudioTracks(), call.screen ? call.screen.getVideoTracks()[0] : call.camera]) : call.local;
    video.srcObject = showing;
    this.localTile.classList.toggle("no-video", !call.screen && (!call.camera || call.cameraOff));
  }

  renderTile(peer) {
    const tile = peer.tile;
    if (!tile) return;
    const state = peer.pc ? peer.pc.connectionState : "new";
    tile.dataset.state = state;
    const text =
      peer.lost ? "Call lost" :
      state === "disconnected" || state === "failed" ? "Reconnecting…" :
      state === "connected" ? "" :
      peer.party === null && peer.call.outgoing ? "Ringing…" : "Connecting…";
    tile.querySelector(".call-tile-state").textContent = text;
    const hasVideo = peer.stream.getVideoTracks().some((t) => !t.muted);
    tile.classList.toggle("no-video", !hasVideo);
  }

  render() {
    const call = this.call;
    if (!call) return;
    const peers = call.peers;
    const connected = peers.filter((p) => p.pc.connectionState === "connected").length;
    const trouble = peers.some((p) => ["disconnected", "failed"].includes(p.pc.connectionState));
    let text;
    const where = call.dm ? this.chat.rooms.get(call.room)?.title || "" : `#${call.room}`;
    if (trouble) text = "Reconnecting…";
    else if (call.status === "calling" && !call.answered) text = `Calling ${where}…`;
    else if (!peers.length) text = `In the call in ${where}: waiting for others to join`;
    else if (connected) text = `${call.media === "video" ? "Video" : "Voice"} call · ${where} · ${connected + 1} in the call`;
    else text = "Connecting…";
    this.statusEl.textContent = text;
    this.panel.dataset.state = trouble ? "reconnecting" : connected ? "connected" : call.status;
    this.panel.dataset.callId = call.id;
    this.muteButton.textContent = call.muted ? "Unmute" : "Mute";
    this.muteButton.setAttribute("aria-pressed", String(call.muted));
    this.cameraButton.textContent = !call.camera ? "Camera on" : call.cameraOff ? "Camera on" : "Camera off";
    this.cameraButton.setAttribute("aria-pressed", String(!call.camera || call.cameraOff));
    this.shareButton.textContent = call.screen ? "Stop sharing" : "Share screen";
    this.shareButton.hidden = !navigator.mediaDevices || !navigator.mediaDevices.getDisplayMedia;
    if (this.localTile) this.localTile.classList.toggle("muted", call.muted);
  }

  /** A speaking meter on a tile: the RMS level of its audio, checked a few times a second. */
  meter(tile, stream) {
    const ctx = this.audioContext();
    if (!ctx || !tile || this.meters.has(tile)) return;
    try {
      const src = ctx.createMediaStreamSource(stream);
      const analyser = ctx.createAnalyser();
      analyser.fftSize = 512;
      src.connect(analyser);
      this.meters.set(tile, { analyser, data: new Float32Array(analyser.fftSize) });
    } catch {
      return;
    }
    if (!this.meterTimer) {
      this.meterTimer = setInterval(() => {
        if (!this.meters.size) {
          clearInterval(this.meterTimer);
          this.meterTimer = null;
          return;
        }
        for (const [el, m] of this.meters) {
          m.analyser.getFloatTimeDomainData(m.data);
          let sum = 0;
          for (const v of m.data) sum += v * v;
          const rms = Math.sqrt(sum / m.data.length);
          const muted = el.classList.contains("me") && this.call && this.call.muted;
          el.classList.toggle("speaking", !muted && rms > SPEAKING_LEVEL);
        }
      }, 200);
    }
  }

  // ---- for tests and debugging ------------------------------------------------------------------------

  debugState() {
    const call = this.call;
    return {
      partyId: this.partyId,
      ringing: [...this.ringing.keys()],
      // The ring sound: on while a call rings here; audible once the browser lets the page play sound.
      ringSound: { playing: !!this.ringTimer, audio: this.audio ? this.audio.state : "none" },
      log: [...this.log].map(([id, e]) => ({ id, room: e.room, by: e.by, ended: e.ended })),
      devices: loadDevices(),
      call: call && {
        id: call.id,
        room: call.room,
        status: call.status,
        outgoing: call.outgoing,
        muted: call.muted,
        local: {
          audio: trackInfo(call.local && call.local.getAudioTracks()[0]),
          video: trackInfo(call.camera),
        },
        peers: call.peers.map((p) => ({
          user: p.user,
          party: p.party,
          connectionState: p.pc.connectionState,
          iceUfrag: (/^a=ice-ufrag:(\S+)/m.exec(p.pc.localDescription ? p.pc.localDescription.sdp : "") || [])[1] || null,
          restarts: p.restarts || 0,
          senders: p.pc.getSenders().filter((x) => x.track).map((x) => trackInfo(x.track)),
        })),
      },
    };
  }

  /** The page's own ICE restart (what a network drop triggers), for tests: new ICE credentials renegotiated. */
  restartIce() {
    const call = this.call;
    if (!call) return 0;
    for (const peer of call.peers) this.restartPeer(peer);
    return call.peers.length;
  }

  async stats() {
    const call = this.call;
    if (!call) return [];
    const out = [];
    for (const peer of call.peers) {
      const row = {
        user: peer.user,
        party: peer.party,
        connectionState: peer.pc.connectionState,
        inboundAudioBytes: 0,
        inboundVideoBytes: 0,
        outboundAudioBytes: 0,
        outboundVideoBytes: 0,
        inboundAudioLevel: 0,
        inboundAudioEnergy: 0,
      };
      const report = await peer.pc.getStats();
      report.forEach((s) => {
        const kind = s.kind || s.mediaType;
        if (s.type === "inbound-rtp") {
          if (kind === "audio") {
            row.inboundAudioBytes += s.bytesReceived || 0;
            row.inboundAudioLevel = Math.max(row.inboundAudioLevel, s.audioLevel || 0);
            row.inboundAudioEnergy += s.totalAudioEnergy || 0;
          } else if (kind === "video") row.inboundVideoBytes += s.bytesReceived || 0;
        } else if (s.type === "outbound-rtp") {
          if (kind === "audio") row.outboundAudioBytes += s.bytesSent || 0;
          else if (kind === "video") row.outboundVideoBytes += s.bytesSent || 0;
        }
      });
      out.push(row);
    }
    return out;
  }
}
