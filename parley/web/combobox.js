// combobox.js — A text box that suggests usernames as you type (GET /api/users?prefix=), following
// the ARIA combobox pattern: the list is a listbox, the arrow keys move the active option
// (aria-activedescendant), Enter picks it, Escape closes the list. Mouse and touch pick by click.

let nextId = 0;

export class UserPicker {
  /**
   * @param {HTMLInputElement} input        role="combobox", aria-controls = the listbox
   * @param {HTMLElement} listbox           role="listbox"
   * @param {object} opts
   * @param {(prefix: string) => Promise<string[]>} opts.search
   * @param {() => Set<string>} opts.exclude   names not to offer (yourself, people already chosen)
   * @param {(name: string) => void} opts.onPick
   */
  constructor(input, listbox, { search, exclude, onPick }) {
    this.input = input;
    this.listbox = listbox;
    this.search = search;
    this.exclude = exclude;
    this.onPick = onPick;
    this.options = [];
    this.active = -1;
    this.timer = null;
    this.query = 0;
    this.prefix = `opt-${++nextId}`;

    input.addEventListener("input", () => this._schedule());
    input.addEventListener("focus", () => {
      if (input.value.trim()) this._schedule();
    });
    input.addEventListener("blur", () => setTimeout(() => this.close(), 150));
    input.addEventListener("keydown", (ev) => this._key(ev));
  }

  get isOpen() {
    return !this.listbox.hidden;
  }

  reset() {
    this.input.value = "";
    this.close();
  }

  close() {
    clearTimeout(this.timer);
    this.query += 1; // answers still on their way are stale now
    this.listbox.hidden = true;
    this.listbox.replaceChildren();
    this.options = [];
    this.active = -1;
    this.input.setAttribute("aria-expanded", "false");
    this.input.removeAttribute("aria-activedescendant");
  }

  _schedule() {
    clearTimeout(this.timer);
    const prefix = this.input.value.trim();
    if (!prefix) {
      this.close();
      return;
    }
    this.timer = setTimeout(() => this._lookup(prefix), 150);
  }

  async _lookup(prefix) {
    const q = ++this.query;
    let names;
    try {
      names = await this.search(prefix);
    } catch {
      return; // suggestions are a convenience: typing the whole name still works
    }
    if (q !== this.query || this.input.value.trim() !== prefix) return;
    const skip = this.exclude();
    this._show(names.filter((n) => !skip.has(n)).slice(0, 8));
  }

  _show(names) {
    this.options = names;
    this.active = -1;
    this.input.removeAttribute("aria-activedescendant");
    if (!names.length) {
      this.listbox.hidden = true;
      this.listbox.replaceChildren();
      this.input.setAttribute("aria-expanded", "false");
      return;
    }
    this.listbox.replaceChildren(
      ...names.map((name, i) => {
        const li = document.createElement("li");
        li.id = `${this.prefix}-${i}`;
        li.className = "option";
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", "false");
        li.textContent = name;
        li.addEventListener("mousedown", (ev) => ev.preventDefault()); // keep the focus in the box
        li.addEventListener("click", () => this._pick(name));
        return li;
      }),
    );
    this.listbox.hidden = false;
    this.input.setAttribute("aria-expanded", "true");
  }

  _setActive(i) {
    const items = this.listbox.children;
    if (this.active >= 0 && items[this.active]) items[this.active].setAttribute("aria-selected", "false");
    this.active = i;
    if (i >= 0 && items[i]) {
      items[i].setAttribute("aria-selected", "true");
      items[i].scrollIntoView({ block: "nearest" });
      this.input.setAttribute("aria-activedescendant", items[i].id);
    } else {
      this.input.removeAttribute("aria-activedescendant");
    }
  }

  _pick(name) {
    this.close();
    this.onPick(name);
  }

  _key(ev) {
    if (ev.isComposing) return;
    const n = this.options.length;
    if (ev.key === "ArrowDown" && n) {
      if (!this.isOpen) this._show(this.options);
      this._setActive((this.active + 1) % n);
    } else if (ev.key === "ArrowUp" && n) {
      this._setActive(this.active <= 0 ? n - 1 : this.active - 1);
    } else if (ev.key === "Enter" && this.isOpen && this.active >= 0) {
      this._pick(this.options[this.active]);
    } else if (ev.key === "Escape" && this.isOpen) {
      this.close(); // and keep the dialog open
    } else {
      return;
    }
    ev.preventDefault();
    ev.stopPropagation();
  }
}
