// uploads.js — Sending files from the composer: the attach button, drag and drop onto the conversation,
// pasting images, and recording a voice message (recorder.js). Each upload shows at once as your own
// pending message with its progress, and becomes the stored message when the server answers (its live
// copy and the answer are matched by client_id, as for text). Uploads need the server: they are not
// kept in the offline outbox; a failed one offers Retry and Discard.

import { describeError } from "./api.js";
import { formatDuration, formatSize, uploadFile } from "./attachments.js";
import { canRecord, extensionOf, VoiceRecorder } from "./recorder.js";
import { setPending } from "./render.js";

const $ = (id) => document.getElementById(id);

function newClientId() {
  return globalThis.crypto && crypto.randomUUID ? crypto.randomUUID() : `u${Date.now()}${Math.random()}`;
}

export class Uploads {
  constructor(chat) {
    this.chat = chat;
    this.recorder = new VoiceRecorder({
      onTick: (ms) => { $("recording-time").textContent = formatDuration(ms); },
      onLimit: () => this.finishRecording(),
    });
  }

  bind() {
    const input = $("file-input");
    $("attach").addEventListener("click", () => input.click());
    input.addEventListener("change", () => {
      const files = [...input.files];
      input.value = "";
      this.send(files);
    });
    const box = $("message");
    box.addEventListener("paste", (ev) => {
      const files = [...(ev.clipboardData ? ev.clipboardData.files : [])];
      if (!files.length) return;
      ev.preventDefault();
      this.send(files);
    });
    const area = $("chat-main") || document.querySelector("main");
    const carriesFiles = (ev) => ev.dataTransfer && [...ev.dataTransfer.types].includes("Files");
    area.addEventListener("dragover", (ev) => {
      if (!carriesFiles(ev) || !this.roomOpen()) return;
      ev.preventDefault();
      area.classList.add("dropping");
    });
    area.addEventListener("dragleave", (ev) => {
      if (!area.contains(ev.relatedTarget)) area.classList.remove("dropping");
    });
    area.addEventListener("drop", (ev) => {
      area.classList.remove("dropping");
      if (!carriesFiles(ev) || !this.roomOpen()) return;
      ev.preventDefault();
      this.send([...ev.dataTransfer.files]);
    });
    const record = $("record");
    record.hidden = !canRecord();
    record.addEventListener("click", () => this.startRecording());
    $("recording-cancel").addEventListener("click", () => this.cancelRecording());
    $("recording-send").addEventListener("click", () => this.finishRecording());
  }

  roomOpen() {
    const room = this.chat.rooms.get(this.chat.active);
    return room && !$("message").disabled ? room : null;
  }

  /** Upload `files` to the open room; the composer's text goes with the first as its caption. */
  send(files) {
    const room = this.roomOpen();
    if (!room || !files.length) return;
    const limit = this.chat.info.max_upload;
    const box = $("message");
    let caption = box.value.trim();
    for (const file of files) {
      if (typeof limit === "number" && file.size > limit) {
        this.chat.notify(`${file.name} is ${formatSize(file.size)}: files may be at most ${formatSize(limit)}.`);
        continue;
      }
      if (file.size === 0) {
        this.chat.notify(`${file.name} is empty.`);
        continue;
      }
      if (caption) {
        box.value = "";
        this.chat.autosize();
      }
      this.upload(room, file, { text: caption });
      caption = "";
    }
  }

  upload(room, file, { text = "", name = file.name, voice = false, durationMs = null } = {}) {
    const entry = { client_id: newClientId(), room: room.name, text, created: Date.now(), reply_to: room.replyTo };
    this.chat.setReply(room, null);
    room.clearMarker();
    room.addPending(entry, "Uploading…");
    const el = room.pending.get(entry.client_id);
    const attempt = () => {
      if (el) {
        el.classList.add("uploading");
        setPending(el, `Uploading ${name}…`);
      }
      uploadFile({
        token: this.chat.token, room: room.name, file, name, clientId: entry.client_id, text, replyTo: entry.reply_to,
        voice, durationMs,
        // (the stored message may come over the socket before the last progress event: keep it confirmed)
        onProgress: (p) => el && el.classList.contains("uploading") && setPending(el, `Uploading ${name}… ${Math.round(p * 100)}%`),
      }).then(
        (msg) => room.confirm(entry.client_id, msg),
        (err) => {
          if (this.chat.restFailed(err)) return;
          room.markFailed(entry.client_id, describeError(err, `couldn't send ${name}`), {
            onRetry: attempt,
            onDiscard: () => room.removePending(entry.client_id),
          });
        },
      );
    };
    attempt();
  }

  // ---- voice messages ------------------------------------------------------------------------------

  async startRecording() {
    if (!this.roomOpen() || this.recorder.recording) return;
    try {
      await this.recorder.start();
    } catch (err) {
      this.chat.notify(`Can't record: ${err && err.message ? err.message : "the microphone is not available"}.`);
      return;
    }
    $("recording-time").textContent = "0:00";
    $("composer").hidden = true;
    $("recording").hidden = false;
    $("recording-send").focus();
  }

  closeRecording() {
    $("recording").hidden = true;
    $("composer").hidden = !this.chat.active;
    $("message").focus();
  }

  cancelRecording() {
    this.recorder.cancel();
    this.closeRecording();
  }

  async finishRecording() {
    if (!this.recorder.recording) return;
    const room = this.roomOpen();
    const { blob, durationMs, type } = await this.recorder.finish();
    this.closeRecording();
    if (!room || !blob.size) return;
    this.upload(room, blob, { name: `voice-message.${extensionOf(type)}`, voice: true, durationMs });
  }

  /** The room changed or the page is leaving: a recording in progress is dropped. */
  stop() {
    if (this.recorder.recording) this.cancelRecording();
  }
}
