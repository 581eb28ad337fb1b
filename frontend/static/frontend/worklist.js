// The project worklist: cases with status, assignee, active-learning priority and last editor;
// filters live in the URL so a filtered list can be bookmarked; "Next case" asks the server.
import { ApiError, escapeHTML, getJSON, request, when } from "./api.js";

const root = document.getElementById("worklist");
const projectId = root.dataset.projectId;
const form = document.getElementById("filters");
const tbody = document.querySelector("#cases tbody");
const pager = document.getElementById("pager");
const message = document.getElementById("worklist-message");
const PAGE_SIZE = 50;

function say(text, kind = "info") {
  message.hidden = !text;
  message.textContent = text || "";
  message.dataset.kind = kind;
}

function filtersFromURL() {
  const params = new URLSearchParams(location.search);
  for (const el of form.elements) {
    if (el.name && params.has(el.name)) el.value = params.get(el.name);
  }
  return Number(params.get("page") || 1);
}

function query(page) {
  const params = new URLSearchParams();
  for (const el of form.elements) {
    if (el.name && el.value) params.set(el.name, el.value);
  }
  if (page > 1) params.set("page", String(page));
  return params;
}

function statusBadge(status) {
  return `<span class="status status-${escapeHTML(status)}">${escapeHTML(status.replace("_", " "))}</span>`;
}

function priorityCell(c) {
  const priority = c.priority === null || c.priority === undefined ? "–" : Number(c.priority).toFixed(3);
  const strategy = c.priority_strategy
    ? ` <span class="chip strategy" title="Set by the ${escapeHTML(c.priority_strategy)} strategy">${escapeHTML(c.priority_strategy)}</span>`
    : "";
  return `<td class="num priority">${priority}${strategy}</td>`;
}

// The preview is every sequence in three planes through the largest lesion; the cell shows the
// centre of its first tile (axial, first sequence) and the whole picture on hover.
function thumbnail(c) {
  return `<span class="thumb"><img loading="lazy" decoding="async" src="/api/cases/${c.id}/preview.png?size=64" alt=""
    title="Axial, coronal and sagittal slices through the largest lesion"></span>`;
}

function row(c) {
  return `<tr data-case-id="${c.id}">
    <td class="case-cell"><div>${thumbnail(c)}<a href="/cases/${c.id}/">${escapeHTML(c.external_id)}</a></div></td>
    <td>${statusBadge(c.status)}</td>
    <td>${c.assignee ? escapeHTML(c.assignee.username) : '<span class="muted">unassigned</span>'}</td>
    ${priorityCell(c)}
    <td>${c.modalities.map((m) => `<span class="chip">${escapeHTML(m)}</span>`).join(" ")}</td>
    <td>${escapeHTML(c.split)}</td>
    <td>${c.last_editor ? escapeHTML(c.last_editor.username) : '<span class="muted">–</span>'}</td>
    <td>${when(c.updated_at)}</td>
  </tr>`;
}

async function load(page = 1) {
  const params = query(page);
  history.replaceState(null, "", `${location.pathname}${params.toString() ? "?" + params : ""}`);
  params.set("page_size", String(PAGE_SIZE));
  if (!params.has("ordering")) params.set("ordering", "priority");
  try {
    const data = await getJSON(`/api/projects/${projectId}/cases/?${params}`);
    tbody.innerHTML = data.results.length
      ? data.results.map(row).join("")
      : '<tr><td colspan="8" class="muted">No case matches these filters.</td></tr>';
    const pages = Math.max(1, Math.ceil(data.count / PAGE_SIZE));
    pager.innerHTML = `<span>${data.count} case${data.count === 1 ? "" : "s"}</span>` +
      (pages > 1
        ? ` <button type="button" data-page="${page - 1}" ${page <= 1 ? "disabled" : ""}>‹ Previous</button>
           <span>page ${page} of ${pages}</span>
           <button type="button" data-page="${page + 1}" ${page >= pages ? "disabled" : ""}>Next ›</button>`
        : "");
    say("");
  } catch (err) {
    tbody.innerHTML = "";
    say(err.message, "error");
  }
}

const strategySelect = document.getElementById("next-strategy");
const STRATEGY_KEY = `brainscribe.next-strategy.${projectId}`;

async function nextCase() {
  const button = document.getElementById("next-case");
  button.disabled = true;
  try {
    const strategy = strategySelect.value;
    const query = strategy ? `?strategy=${encodeURIComponent(strategy)}` : "";
    const response = await request(`/api/projects/${projectId}/next-case${query}`);
    if (response.status === 204) {
      say("The worklist is empty: no open case is waiting for you.");
      return;
    }
    const c = await response.json();
    location.href = `/cases/${c.id}/`;
  } catch (err) {
    say(err instanceof ApiError ? err.message : String(err), "error");
  } finally {
    button.disabled = false;
  }
}

form.addEventListener("change", () => load(1));
form.addEventListener("submit", (e) => {
  e.preventDefault();
  load(1);
});
let typing;
form.elements.external_id.addEventListener("input", () => {
  clearTimeout(typing);
  typing = setTimeout(() => load(1), 300);
});
pager.addEventListener("click", (e) => {
  const page = e.target.closest("button[data-page]");
  if (page) load(Number(page.dataset.page));
});
document.getElementById("next-case").addEventListener("click", nextCase);
document.getElementById("next-case").hidden = root.dataset.role === "viewer";
document.getElementById("next-strategy-label").hidden = root.dataset.role === "viewer";
try {
  const saved = localStorage.getItem(STRATEGY_KEY);
  if (saved && [...strategySelect.options].some((o) => o.value === saved)) strategySelect.value = saved;
} catch {
  // storage may be disabled; the default strategy is fine
}
strategySelect.addEventListener("change", () => {
  try {
    localStorage.setItem(STRATEGY_KEY, strategySelect.value);
  } catch {
    // ignore
  }
});
// A case whose preview cannot be drawn keeps its row; only the picture goes.
tbody.addEventListener("error", (e) => {
  if (e.target.tagName === "IMG") e.target.closest(".thumb").classList.add("missing");
}, true);
document.addEventListener("keydown", (e) => {
  if (e.key === "n" && !e.ctrlKey && !e.metaKey && !/INPUT|SELECT|TEXTAREA/.test(e.target.tagName)) nextCase();
});

load(filtersFromURL());
