// recorder.js — Recording a voice message in the page with MediaRecorder: start (asks for the
// microphone), a running timer, cancel (nothing is kept) or finish (a Blob and its duration).

const PREFERRED = ["audio/webm;codecs=opus", "audio/ogg;codecs=opus", "audio/webm", "audio/mp4"];
export const MAX_RECORDING_MS = 15 * 60 * 1000; // a voice message stops by itself after this long

export function canRecord() {
  return Boolean(window.MediaRecorder && navigator.mediaDevices && navigator.mediaDevices.getUserMedia);
}

export class VoiceRecorder {
  /** `onTick(ms)` is called while recording; `onLimit()` when MAX_RECORDING_MS is reached. */
  constructor({ onTick = () => {}, onLimit = () => {} } = {}) {
    this.onTick = onTick;
    this.onLimit = onLimit;
    this.stream = null;
    this.recorder = null;
    this.chunks = [];
    this.started = 0;
    this.timer = null;
  }

  get recording() {
    return this.recorder !== null;
  }

  /** Ask for the microphone and start; rejects if the user or the browser says no. */
  async start() {
    this.stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    const mimeType = PREFERRED.find((t) => MediaRecorder.isTypeSupported(t));
    this.recorder = new MediaRecorder(this.stream, mimeType ? { mimeType } : undefined);
    this.chunks = [];
    this.recorder.ondataavailable = (e) => e.data && e.data.size && this.chunks.push(e.data);
    this.recorder.start(250);
    this.started = performance.now();
    this.timer = setInterval(() => {
      const ms = this.elapsed();
      this.onTick(ms);
      if (ms >= MAX_RECORDING_MS) this.onLimit();
    }, 200);
  }

  elapsed() {
    return this.started ? performance.now() - this.started : 0;
  }

  /** Stop and hand back {blob, durationMs, type}. */
  finish() {
    const recorder = this.recorder;
    if (!recorder) return Promise.reject(new Error("not recording"));
    const durationMs = this.elapsed();
    return new Promise((resolve) => {
      recorder.onstop = () => {
        const type = recorder.mimeType || "audio/webm";
        const blob = new Blob(this.chunks, { type });
        this.release();
        resolve({ blob, durationMs, type });
      };
      recorder.stop();
    });
  }

  /** Stop and keep nothing. */
  cancel() {
    if (this.recorder && this.recorder.state !== "inactive") {
      this.recorder.onstop = null;
      this.recorder.stop();
    }
    this.release();
  }

  release() {
    clearInterval(this.timer);
    this.timer = null;
    if (this.stream) for (const track of this.stream.getTracks()) track.stop();
    this.stream = null;
    this.recorder = null;
    this.chunks = [];
    this.started = 0;
  }
}

/** The extension a recording of `type` is saved with. */
export function extensionOf(type) {
  if (type.includes("ogg")) return "ogg";
  if (type.includes("mp4")) return "m4a";
  return "webm";
}
