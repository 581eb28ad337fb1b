// A modal question with buttons; resolves with the chosen button's value (null on Escape).
import { escapeHTML } from "../api.js";

export function ask({ title, html = "", actions, id = "dialog", onOpen = null }) {
  let dialog = document.getElementById(id);
  if (!dialog) {
    dialog = document.createElement("dialog");
    dialog.id = id;
    document.body.appendChild(dialog);
  }
  dialog.className = "modal";
  dialog.innerHTML = `<h2>${escapeHTML(title)}</h2><div class="modal-body">${html}</div>
    <footer class="modal-actions">${actions
      .map((a) => `<button type="button" class="${a.kind || ""}" data-value="${escapeHTML(a.value)}">${escapeHTML(a.label)}</button>`)
      .join("")}</footer>`;
  return new Promise((resolve) => {
    const done = (value) => {
      dialog.removeEventListener("cancel", cancel);
      dialog.close();
      resolve(value);
    };
    const cancel = (e) => {
      e.preventDefault();
      done(null);
    };
    dialog.addEventListener("cancel", cancel);
    dialog.querySelectorAll("button[data-value]").forEach((b) => b.addEventListener("click", () => done(b.dataset.value)));
    dialog.showModal();
    if (onOpen) onOpen(dialog);
  });
}

/** A short message that fades away (saves, errors that need no decision). */
export function toast(text, kind = "info", ms = 4000) {
  let box = document.getElementById("toasts");
  if (!box) {
    box = document.createElement("div");
    box.id = "toasts";
    box.setAttribute("role", "status");
    document.body.appendChild(box);
  }
  const item = document.createElement("div");
  item.className = `toast toast-${kind}`;
  item.textContent = text;
  box.appendChild(item);
  setTimeout(() => item.remove(), kind === "error" ? ms * 2 : ms);
}
