// calls.js — Voice and video calls in the page: WebRTC peer connections signalled over Parley's own
// connection (docs/protocol.md "Calls": invite, answer, select_answer, candidates, negotiate, reject,
// hangup). One call at a time on a page: a DM call rings the other people's devices; a room call is a mesh
// that members join by inviting each party already in it (at most 6). A ringing banner with a beep loop,
// a call panel with a tile per person (video, name, who is speaking) and controls (mute, camera, screen
// share, hang up), ICE restarts when the network drops, and `window.parleyCalls` for tests.

const MAX_PARTIES = 6;
const BATCH_MS = 100; // candidates after the first are sent in batches this often
const LOST_AFTER_MS = 20000; // a peer connection failing this long is given up ("Call lost")
const SPEAKING_LEVEL = 0.02; // RMS of the audio above which a tile shows its person speaking

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
    this.panel.append(this.statusEl, this.tiles, controls);
    document.querySelector(".room-header").after(this.panel);
    window.addEventListener("pagehide", () => {
      if (this.call) this.hangup();
    });
  }

  /** The header buttons for the open room: hidden without one; "Join" while a call goes on there. */
  renderHeader(room) {
    if (!this.voiceButton) return;
    const show = !!room;
    this.voiceButton.hidden = !show;
    this.videoButton.hidden = !show;
    if (!room) return;
    const live = this.liveCall(room.name);
    const inIt = this.call && this.call.room === room.name;
    this.voiceButton.disabled = !!this.call;
    this.videoButton.disabled = !!this.call;
    const join = live && !inIt;
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
      call.local = await navigator.mediaDevices.getUserMedia({ audio: true, video: call.media === "video" });
    } catch (err) {
      try {
        if (call.media !== "video") throw err;
        call.local = await navigator.mediaDevices.getUserMedia({ audio: true });
      } catch {
        this.chat.notify("Can't use your microphone or camera: allow them for this site and try again.");
        this.finish(null, { quiet: true });
        return false;
      }
    }
    if (this.call !== call) {
      for (const t of call.local.getTracks()) t.stop();
      return false;
    }
    call.camera = call.local.getVideoTracks()[0] || null;
    this.addTile(call, null);
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
        if (this.call === call && ["disconnected", "failed"].includes(peer.pc.connectionState)) peer.pc.restartIce();
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
      try {
        const s = await navigator.mediaDevices.getUserMedia({ video: true });
        call.camera = s.getVideoTracks()[0];
      } catch {
        this.chat.notify("Can't use your camera.");
        return;
      }
      call.local.addTrack(call.camera);
      for (const peer of call.peers) peer.pc.addTrack(call.camera, call.local);
      call.cameraOff = false;
    } else {
      call.cameraOff = !call.cameraOff;
      call.camera.enabled = !call.cameraOff;
    }
    this.renderLocal();
    this.render();
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
    this.startRingSound();
    this.chat.desktopNotifyCall?.(entry);
  }

  hideRing(ring) {
    if (ring.el) ring.el.remove();
    ring.el = null;
    if (![...this.ringing.values()].some((r) => r.el)) this.stopRingSound();
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

  startRingSound() {
    if (this.ringTimer) return;
    const beep = () => {
      const ctx = this.audioContext();
      if (!ctx) return;
      for (const at of [0, 0.35]) {
        const osc = ctx.createOscillator();
        const gain = ctx.createGain();
        osc.frequency.value = 660;
        gain.gain.value = 0.08;
        osc.connect(gain).connect(ctx.destination);
        osc.start(ctx.currentTime + at);
        osc.stop(ctx.currentTime + at + 0.25);
      }
    };
    beep();
    this.ringTimer = setInterval(beep, 2000);
  }

  stopRingSound() {
    clearInterval(this.ringTimer);
    this.ringTimer = null;
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
      call: call && {
        id: call.id,
        room: call.room,
        status: call.status,
        muted: call.muted,
        peers: call.peers.map((p) => ({ user: p.user, party: p.party, connectionState: p.pc.connectionState })),
      },
    };
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
