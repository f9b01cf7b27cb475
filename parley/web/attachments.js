// attachments.js — Files, images and voice messages in the page: uploading one as a message (with
// progress; multipart/form-data, fields first and the file last, as the server wants), and showing a
// message's attachment: an image's thumbnail (click for the full image), a voice message's player with
// its duration, a file's name, size and a download button. The server serves files only with the
// Authorization header, which <img src> cannot send, so every file is fetched and shown through an
// object URL, fetched once per page.

import { ApiError } from "./api.js";

/** Upload `file` as a message of `room`. Resolves to the stored message; rejects with ApiError. */
export function uploadFile({ token, room, file, name, clientId, text = "", replyTo = null, voice = false,
  durationMs = null, onProgress = null, signal = null }) {
  const form = new FormData();
  form.append("client_id", clientId);
  if (text) form.append("text", text);
  if (replyTo != null) form.append("reply_to", String(replyTo));
  if (voice) {
    form.append("voice", "1");
    form.append("duration_ms", String(Math.max(1, Math.round(durationMs || 1))));
  }
  form.append("file", file, name || file.name || "file");
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest(); // fetch cannot report upload progress
    xhr.open("POST", `/api/rooms/${encodeURIComponent(room)}/files`);
    xhr.setRequestHeader("Authorization", `Bearer ${token}`);
    xhr.responseType = "json";
    if (onProgress) xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
    xhr.onload = () => {
      const data = xhr.response;
      if (xhr.status === 200 || xhr.status === 201) resolve(data);
      else {
        const err = new ApiError(xhr.status, (data && data.error) || "http",
          (data && data.message) || `The server answered ${xhr.status}.`);
        err.token = token;
        reject(err);
      }
    };
    xhr.onerror = () => reject(new ApiError(0, "network", "Can't reach the server. Check your connection and try again."));
    xhr.onabort = () => reject(new ApiError(0, "aborted", "The upload was cancelled."));
    if (signal) signal.addEventListener("abort", () => xhr.abort(), { once: true });
    xhr.send(form);
  });
}

/** "1.4 MB", "820 KB", "12 bytes". */
export function formatSize(bytes) {
  if (bytes < 1000) return `${bytes} byte${bytes === 1 ? "" : "s"}`;
  const units = ["KB", "MB", "GB"];
  let value = bytes / 1000;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${value >= 10 ? Math.round(value) : value.toFixed(1)} ${units[unit]}`;
}

/** "0:07", "1:02:03". */
export function formatDuration(ms) {
  const total = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

/** What a message says in one line (a quote, a notification): its text, or what it carries. */
export function messageSummary(text, file) {
  if (text || !file || typeof file !== "object") return text || "";
  if (file.kind === "image") return `📷 ${file.name}`;
  if (file.kind === "voice") return `🎤 Voice message (${formatDuration(file.duration_ms || 0)})`;
  return `📄 ${file.name}`;
}

/** Object URLs of fetched files, one fetch per file and page. */
export class FileCache {
  constructor(getToken) {
    this.getToken = getToken;
    this.urls = new Map(); // path -> Promise<string>
  }

  /** An object URL for `/api/files/<id>` (or its thumbnail); rejects with ApiError. */
  url(id, thumb = false) {
    const path = `/api/files/${encodeURIComponent(id)}${thumb ? "/thumb" : ""}`;
    let url = this.urls.get(path);
    if (!url) {
      url = this.fetchBlob(path).then((blob) => URL.createObjectURL(blob));
      url.catch(() => this.urls.delete(path)); // a failed fetch may be retried later
      this.urls.set(path, url);
    }
    return url;
  }

  async fetchBlob(path) {
    const token = this.getToken();
    let res;
    try {
      res = await fetch(path, { headers: { Authorization: `Bearer ${token}` }, credentials: "same-origin" });
    } catch {
      throw new ApiError(0, "network", "Can't reach the server.");
    }
    if (!res.ok) {
      const err = new ApiError(res.status, res.status === 404 ? "not_found" : "http",
        res.status === 404 ? "This file is no longer available." : `The server answered ${res.status}.`);
      err.token = token;
      throw err;
    }
    return res.blob();
  }

  /** Save the file under its name (an <a download> of its object URL). */
  async download(file) {
    const url = await this.url(file.id);
    const a = document.createElement("a");
    a.href = url;
    a.download = file.name || "file";
    a.rel = "noopener";
    document.body.append(a);
    a.click();
    a.remove();
  }

  forget() {
    for (const url of this.urls.values()) url.then((u) => URL.revokeObjectURL(u), () => {});
    this.urls.clear();
  }
}

/** The one cache of the page; chat.js tells it where the token is. */
export const fileCache = new FileCache(() => "");

/** Show an image full size in the page's image dialog (index.html), or a new tab without one. */
export function openImage(file, url) {
  const dialog = document.getElementById("image-dialog");
  if (!dialog) {
    window.open(url, "_blank", "noopener");
    return;
  }
  const img = dialog.querySelector("img");
  img.src = url;
  img.alt = file.name;
  dialog.querySelector(".image-dialog-name").textContent = file.name;
  dialog.showModal();
}

function failed(box, text) {
  const note = document.createElement("span");
  note.className = "att-failed";
  note.textContent = text;
  box.replaceChildren(note);
}

/**
 * The element showing a message's `file` (fetched through `cache`); a click on an image opens it full
 * size; errors show in place.
 */
export function attachmentElement(file, cache = fileCache) {
  const box = document.createElement("div");
  box.className = `att att-${file.kind}`;
  box.dataset.fileId = file.id;
  if (file.kind === "image") {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "att-thumb";
    button.setAttribute("aria-label", `Open image ${file.name}`);
    const img = document.createElement("img");
    img.alt = file.name;
    if (file.width && file.height) {
      // Reserve the thumbnail's box before it loads, so the log does not jump.
      const scale = Math.min(1, 320 / Math.max(file.width, file.height));
      img.width = Math.max(1, Math.round(file.width * scale));
      img.height = Math.max(1, Math.round(file.height * scale));
    }
    button.append(img);
    box.append(button);
    cache.url(file.id, file.thumb).then((url) => { img.src = url; }, (err) => failed(box, err.message));
    button.addEventListener("click", () => {
      cache.url(file.id).then((url) => openImage(file, url), (err) => failed(box, err.message));
    });
    return box;
  }
  if (file.kind === "voice") {
    const label = document.createElement("span");
    label.className = "att-voice-label";
    label.textContent = `Voice message · ${formatDuration(file.duration_ms || 0)}`;
    const audio = document.createElement("audio");
    audio.controls = true;
    audio.preload = "metadata";
    audio.setAttribute("aria-label", `Voice message, ${formatDuration(file.duration_ms || 0)}`);
    box.append(label, audio);
    cache.url(file.id).then((url) => { audio.src = url; }, (err) => failed(box, err.message));
    return box;
  }
  const icon = document.createElement("span");
  icon.className = "att-icon";
  icon.setAttribute("aria-hidden", "true");
  icon.textContent = "📄";
  const name = document.createElement("span");
  name.className = "att-name";
  name.textContent = file.name;
  name.dir = "auto";
  const size = document.createElement("span");
  size.className = "att-size";
  size.textContent = formatSize(file.size);
  const save = document.createElement("button");
  save.type = "button";
  save.className = "button secondary small att-download";
  save.textContent = "Download";
  save.setAttribute("aria-label", `Download ${file.name}`);
  save.addEventListener("click", () => cache.download(file).catch((err) => failed(box, err.message)));
  box.append(icon, name, size, save);
  return box;
}
