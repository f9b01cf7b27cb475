// composerlimit.js — The composer's length limit, made visible. The text box has no maxlength (a paste
// past the limit used to be cut silently): from 90 % of the server's limit (/api/info and "ready" say
// `max_text`) a counter shows "3,950 / 4,000"; past it the counter turns to the error colour, says by how
// much, and Send is off until the text is short enough. What is counted is what would be sent
// (composerText): the server counts characters (code points), not UTF-16 units.

const SHOW_FROM = 0.9;

const $ = (id) => document.getElementById(id);

/**
 * The text a composer value sends: trailing whitespace and leading blank lines go, the first line keeps
 * its indentation (pasted code stays aligned). "" when there is nothing but whitespace.
 */
export function composerText(value) {
  const text = value.replace(/\s+$/u, "");
  return text.replace(/^(?:[^\S\r\n]*(?:\r\n|\n|\r))+/u, "");
}

/** Characters as the server counts them (code points). */
export function charCount(text) {
  let n = 0;
  for (const _ of text) n += 1;
  return n;
}

export class ComposerLimit {
  constructor(chat) {
    this.chat = chat;
    this.over = false;
  }

  bind() {
    const box = $("message");
    box.removeAttribute("maxlength");
    box.addEventListener("input", () => this.update());
    $("send").setAttribute("aria-describedby", "composer-limit-reason");
  }

  /** Show or hide the counter for the composer's text now, and turn Send off while it is too long. */
  update() {
    const box = $("message");
    const max = this.chat.maxText;
    const n = charCount(composerText(box.value));
    this.over = n > max;
    const el = $("composer-limit");
    const show = n >= Math.floor(max * SHOW_FROM);
    el.hidden = !show;
    el.classList.toggle("over", this.over);
    $("composer-count").textContent = show ? `${n.toLocaleString()} / ${max.toLocaleString()}` : "";
    const extra = n - max;
    $("composer-limit-reason").textContent = this.over
      ? `${extra.toLocaleString()} character${extra === 1 ? "" : "s"} too long: shorten it to send.`
      : "";
    const send = $("send");
    send.disabled = box.disabled || this.over;
    send.title = this.over ? `Too long: at most ${max.toLocaleString()} characters` : "";
  }
}
