// menu.js — A small popup menu (role="menu") for a menu button: arrow keys (left/right too, for a row of
// emoji), Home/End and first letters
// move between items, Enter/Space choose, Escape closes and gives the focus back to the button.
// Inside a modal <dialog> the menu is placed in the dialog, since everything outside it is inert.

let current = null; // {menu, anchor, onDocDown}

export function closeMenu({ focusAnchor = false } = {}) {
  if (!current) return;
  const { menu, anchor, onDocDown } = current;
  current = null;
  document.removeEventListener("pointerdown", onDocDown, true);
  menu.remove();
  anchor.setAttribute("aria-expanded", "false");
  if (focusAnchor && anchor.isConnected) anchor.focus();
}

/**
 * Open a menu under `anchor` (a button with aria-haspopup="menu").
 * items: [{label, onSelect, danger?, ariaLabel?, checked?}] (falsy entries are skipped; an item with
 * `checked` is one of a group of choices, role="menuitemradio"); `className` styles the menu. With
 * `returnFocus`, choosing an item gives the focus back to the button first (so a dialog the item opens
 * returns it there when it closes, rather than to the page).
 */
export function openMenu(anchor, items, { label, className = "", returnFocus = false } = {}) {
  const wasOpen = current && current.anchor === anchor;
  closeMenu();
  if (wasOpen) return; // a second click on the button closes its menu
  const entries = items.filter(Boolean);
  if (!entries.length) return;
  const menu = document.createElement("div");
  menu.className = `menu ${className}`.trim();
  menu.setAttribute("role", "menu");
  if (label) menu.setAttribute("aria-label", label);
  const buttons = entries.map((item) => {
    const b = document.createElement("button");
    b.type = "button";
    b.className = item.danger ? "menu-item danger" : "menu-item";
    b.setAttribute("role", "checked" in item ? "menuitemradio" : "menuitem");
    if ("checked" in item) b.setAttribute("aria-checked", String(!!item.checked));
    b.tabIndex = -1;
    b.textContent = item.label;
    if (item.ariaLabel) {
      b.setAttribute("aria-label", item.ariaLabel);
      b.title = item.ariaLabel;
    }
    b.addEventListener("click", () => {
      closeMenu({ focusAnchor: returnFocus });
      item.onSelect();
    });
    return b;
  });
  menu.append(...buttons);
  const focusAt = (i) => buttons[(i + buttons.length) % buttons.length].focus();
  menu.addEventListener("keydown", (ev) => {
    const i = buttons.indexOf(document.activeElement);
    if (ev.key === "ArrowDown" || ev.key === "ArrowRight") focusAt(i + 1);
    else if (ev.key === "ArrowUp" || ev.key === "ArrowLeft") focusAt(i - 1);
    else if (ev.key === "Home") focusAt(0);
    else if (ev.key === "End") focusAt(buttons.length - 1);
    else if (ev.key === "Escape") closeMenu({ focusAnchor: true });
    else if (ev.key === "Tab") {
      closeMenu({ focusAnchor: true });
      return; // let the focus move on from the button
    } else if (ev.key.length === 1 && /\S/.test(ev.key)) {
      const k = ev.key.toLowerCase();
      const order = [...buttons.slice(i + 1), ...buttons.slice(0, i + 1)];
      const hit = order.find((b) => b.textContent.trim().toLowerCase().startsWith(k));
      if (hit) hit.focus();
    } else return;
    ev.preventDefault();
    ev.stopPropagation(); // Escape must not also close the dialog the menu is in
  });

  const host = anchor.closest("dialog") || document.body;
  host.append(menu);
  const r = anchor.getBoundingClientRect();
  const w = menu.offsetWidth;
  const h = menu.offsetHeight;
  const left = Math.max(8, Math.min(r.right - w, window.innerWidth - w - 8));
  const below = r.bottom + 4;
  const top = below + h > window.innerHeight - 8 ? Math.max(8, r.top - h - 4) : below;
  menu.style.left = `${left}px`;
  menu.style.top = `${top}px`;
  anchor.setAttribute("aria-expanded", "true");
  const onDocDown = (ev) => {
    if (!menu.contains(ev.target) && ev.target !== anchor && !anchor.contains(ev.target)) closeMenu();
  };
  document.addEventListener("pointerdown", onDocDown, true);
  current = { menu, anchor, onDocDown };
  focusAt(0);
}
