// The case page: viewer, mask correction, report editor and review, wired together, with the
// keyboard shortcuts and the guard against leaving with unsaved edits.
import { ApiError, escapeHTML, getJSON, request } from "../api.js";
import { Viewer } from "./viewer.js";
import { MaskEditor } from "./maskeditor.js";
import { ReportEditor } from "./report.js";
import { ReviewPanel } from "./review.js";
import { ask, toast } from "./dialog.js";
import { focusVoxel, lesionComponents, checksum } from "./geometry.js";

const boot = JSON.parse(document.getElementById("case-boot").textContent);
const app = document.getElementById("case-app");
const caseId = boot.case.id;
const RANK = { viewer: 0, annotator: 1, reviewer: 2, admin: 3 };
const role = boot.role || "viewer";
const timings = { start: performance.now() };

const viewer = new Viewer(document.getElementById("gl"), boot.case, boot.schema);
const masks = new MaskEditor({ viewer, caseId, schema: boot.schema, root: document.getElementById("mask-editor") });
const report = new ReportEditor({ caseId, schema: boot.schema, root: document.getElementById("report-panel") });
const review = new ReviewPanel({ caseId, role, root: document.getElementById("review-panel"), viewer, masks, report, schema: boot.schema });
let detail = boot.case;

window.brainscribe = { nv: viewer.nv, viewer, masks, report, review, timings, boot };

// --- who may edit --------------------------------------------------------------------------------
function editability(status) {
  if (status === "approved") return [false, "Approved: a reviewer must reopen the case before anything changes."];
  if (RANK[role] < RANK.annotator) return [false, `Read only: you are a ${role} of this project.`];
  if (status === "submitted" && RANK[role] < RANK.reviewer) return [false, "Submitted for review: only a reviewer can change it now."];
  return [true, ""];
}

function renderHeader() {
  const status = document.getElementById("case-status");
  status.className = `status status-${detail.status}`;
  status.textContent = detail.status.replace("_", " ");
  document.getElementById("case-assignee").textContent = detail.assignee ? `assigned to ${detail.assignee.username}` : "unassigned";
  const [editable, reason] = editability(detail.status);
  report.setEditable(editable);
  if (editable && viewer.offGrid) {
    // The drawing lives on the reference grid, under the resampled overlay: painting would be blind.
    const why =
      `${viewer.offGrid} is on another grid than ${viewer.referenceModality}; it is shown resampled ` +
      "and painting is off until you pick a modality on the reference grid.";
    masks.setEditable(false, why);
  } else {
    masks.setEditable(editable, reason);
  }
  review.render(detail.status);
}

async function refreshDetail() {
  try {
    detail = await getJSON(`/api/cases/${caseId}/`);
    renderHeader();
  } catch (err) {
    toast(err.message, "error");
  }
}

// --- display controls ----------------------------------------------------------------------------
function renderModalities() {
  const box = document.getElementById("modalities");
  box.innerHTML = viewer.modalities
    .map((m, i) => {
      const ref = m === viewer.referenceModality ? " (reference grid)" : "";
      const off = viewer.onReferenceGrid(m) ? "" : " — on another grid, shown as an overlay";
      const title = escapeHTML(`${m}${ref}${off} (M cycles)`);
      return `<button type="button" data-modality="${escapeHTML(m)}" aria-pressed="${m === viewer.background}"
        title="${title}">${escapeHTML(m)}</button>`;
    })
    .join("");
}

async function showModality(m) {
  const button = document.querySelector(`[data-modality="${m}"]`);
  button?.classList.add("loading");
  try {
    await viewer.showBackground(m);
  } catch (err) {
    toast(`Could not load ${m}: ${err.message}`, "error");
  } finally {
    button?.classList.remove("loading");
    renderModalities();
    renderHeader();
  }
}

function cycleModality(step) {
  const list = viewer.modalities;
  const i = list.indexOf(viewer.background);
  showModality(list[(i + step + list.length) % list.length]);
}

const VIEWS = ["axial", "coronal", "sagittal", "multiplanar", "render"];
let view = "multiplanar";
function setView(v) {
  view = v;
  viewer.setSliceType(v);
  document.querySelectorAll("[data-view]").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.view === v)));
}

let overlaysHidden = null;
function toggleOverlays() {
  const les = document.getElementById("opacity-lesion");
  const str = document.getElementById("opacity-structure");
  if (overlaysHidden) {
    [les.value, str.value] = overlaysHidden;
    overlaysHidden = null;
  } else {
    overlaysHidden = [les.value, str.value];
    les.value = "0";
    str.value = "0";
  }
  viewer.setOpacity("lesion", Number(les.value));
  viewer.setOpacity("structure", Number(str.value));
}

function bindDisplay() {
  document.getElementById("modalities").addEventListener("click", (e) => {
    const b = e.target.closest("[data-modality]");
    if (b) showModality(b.dataset.modality);
  });
  document.getElementById("views").addEventListener("click", (e) => {
    const b = e.target.closest("[data-view]");
    if (b) setView(b.dataset.view);
  });
  for (const kind of ["lesion", "structure"]) {
    const input = document.getElementById(`opacity-${kind}`);
    let pending = false;
    input.addEventListener("input", () => {
      if (pending) return;
      pending = true;
      requestAnimationFrame(() => {
        pending = false;
        viewer.setOpacity(kind, Number(input.value));
      });
    });
  }
  document.getElementById("radiological").addEventListener("change", (e) => viewer.setRadiological(e.target.checked));
  document.getElementById("highlight-clear").addEventListener("click", () => viewer.highlight(null));
  viewer.addEventListener("highlight", (e) => {
    const names = e.detail.map((id) => boot.schema.labels.find((l) => l.kind === "structure" && l.index === id)?.name || `#${id}`);
    document.getElementById("highlight-note").hidden = !names.length;
    document.getElementById("highlight-names").textContent = names.join(", ");
  });
}

// --- crosshair and hover -------------------------------------------------------------------------
function labelText(labels) {
  return ["structure", "lesion"]
    .filter((k) => labels[k])
    .map((k) => `<span class="chip ${k}">${escapeHTML(labels[k].name)}</span>`)
    .join(" ");
}

function bindViewerEvents() {
  viewer.addEventListener("location", (e) => {
    const { mm, vox } = e.detail;
    const fmt = (v) => (v >= 0 ? " " : "") + v.toFixed(1);
    document.getElementById("crosshair-mm").textContent = `x ${fmt(mm[0])}  y ${fmt(mm[1])}  z ${fmt(mm[2])} mm`;
    const native = viewer.nativeVoxel(mm);
    document.getElementById("crosshair-voxel").textContent = `voxel [${native.join(", ")}]`;
    const value = viewer.nv.back ? viewer.nv.back.getValue(...viewer.nv.back.mm2vox(mm)) : null;
    const labels = viewer.labelsAt(Array.from(vox));
    document.getElementById("crosshair-labels").innerHTML =
      `${value !== null && Number.isFinite(value) ? `<span class="muted">${escapeHTML(viewer.background)} ${Math.round(value)}</span> ` : ""}${labelText(labels)}`;
  });
  const tip = document.getElementById("hover-tip");
  viewer.addEventListener("hover", (e) => {
    const d = e.detail;
    const html = d ? labelText(d.labels) : "";
    tip.hidden = !html;
    if (html) {
      tip.innerHTML = html;
      tip.style.left = `${d.x + 14}px`;
      tip.style.top = `${d.y + 12}px`;
    }
  });
}

// --- sentence → viewer ---------------------------------------------------------------------------
let componentCache = { sum: null, list: [] };
function lesionComponentVoxel(component) {
  const lesion = viewer.labelsRAS("lesion");
  if (!lesion) return null;
  const sum = checksum(lesion);
  if (componentCache.sum !== sum) componentCache = { sum, list: lesionComponents(lesion, viewer.dims) };
  return componentCache.list.find((c) => c.component === component)?.voxel || null;
}

function focusSentence(s) {
  let vox = null;
  if (s.lesion_component) vox = lesionComponentVoxel(s.lesion_component);
  if (!vox && s.region_label_ids.length) {
    const structure = viewer.labelsRAS("structure");
    if (structure) vox = focusVoxel(structure, viewer.dims, s.region_label_ids);
  }
  if (!vox && s.kind === "lesion") {
    const lesion = viewer.labelsRAS("lesion");
    if (lesion) vox = lesionComponentVoxel(1);
  }
  viewer.highlight(s.region_label_ids);
  if (s.kind === "lesion" && viewer.opacity.lesion < 0.3) {
    document.getElementById("opacity-lesion").value = "0.7";
    viewer.setOpacity("lesion", 0.7);
  }
  if (s.region_label_ids.length && viewer.opacity.structure < 0.25) {
    document.getElementById("opacity-structure").value = "0.5";
    viewer.setOpacity("structure", 0.5);
  }
  if (vox) viewer.goToVoxel(vox);
}

// --- keyboard ------------------------------------------------------------------------------------
const SHORTCUTS = [
  ["M / Shift+M", "next / previous background modality"],
  ["V", "cycle axial, coronal, sagittal, multiplanar, 3D"],
  ["O", "hide / show the mask overlays"],
  ["K", "edit the other mask (lesion ↔ structure)"],
  ["N / P / E / F", "navigate, pen, eraser, filled outline"],
  ["1–9", "label to paint"],
  ["[ / ]", "smaller / larger pen"],
  ["Ctrl+Z", "undo the last stroke"],
  ["Ctrl+S", "save mask and report"],
  [", / .", "previous / next sentence (shows it in the viewer)"],
  ["A / R / Enter", "accept, reject, edit the selected sentence"],
  ["Esc", "leave the text box; show all structures"],
];

function showShortcuts() {
  ask({
    title: "Keyboard shortcuts",
    html: `<table class="list compact">${SHORTCUTS.map(([k, v]) => `<tr><th><kbd>${escapeHTML(k)}</kbd></th><td>${escapeHTML(v)}</td></tr>`).join("")}</table>`,
    actions: [{ label: "Close", value: "close", kind: "primary" }],
  });
}

function stepSentence(step) {
  const visible = report.sentences;
  if (!visible.length) return;
  const i = visible.findIndex((s) => s.local === report.activeKey);
  const next = visible[Math.max(0, Math.min(visible.length - 1, i < 0 ? 0 : i + step))];
  report.focus(next);
  report.root.querySelector(`[data-local="${next.local}"]`)?.scrollIntoView({ block: "nearest" });
}

async function saveAll() {
  const results = [];
  if (masks.dirty) results.push(await masks.save());
  if (report.dirty) results.push(await report.save());
  return results.every(Boolean);
}

function onKey(e) {
  if (e.target.closest("input, textarea, select, [contenteditable]")) {
    if (e.key === "Escape") e.target.blur();
    return;
  }
  if (document.querySelector("dialog[open]")) return;
  const ctrl = e.ctrlKey || e.metaKey;
  const key = e.key;
  if (ctrl && key.toLowerCase() === "s") {
    e.preventDefault();
    saveAll();
    return;
  }
  if (ctrl && key.toLowerCase() === "z") {
    e.preventDefault();
    masks.undo();
    return;
  }
  if (ctrl || e.altKey) return;
  const active = report.active;
  const actions = {
    m: () => cycleModality(1),
    M: () => cycleModality(-1),
    v: () => setView(VIEWS[(VIEWS.indexOf(view) + 1) % VIEWS.length]),
    o: toggleOverlays,
    k: () => masks.switchKind(masks.kind === "lesion" ? "structure" : "lesion"),
    n: () => masks.setTool("navigate"),
    p: () => masks.setTool("pen"),
    e: () => masks.setTool("eraser"),
    f: () => masks.setTool("fill"),
    "[": () => masks.setPenSize(masks.penSize - 1),
    "]": () => masks.setPenSize(masks.penSize + 1),
    ".": () => stepSentence(1),
    ",": () => stepSentence(-1),
    a: () => active && report.decide(active, "accepted"),
    r: () => active && report.decide(active, "rejected"),
    Enter: () => active && report.startEdit(active),
    Escape: () => viewer.highlight(null),
    "?": showShortcuts,
  };
  if (/^[1-9]$/.test(key)) {
    masks.pickNth(Number(key) - 1);
    e.preventDefault();
  } else if (actions[key]) {
    actions[key]();
    e.preventDefault();
  }
}

// --- leaving with unsaved edits ------------------------------------------------------------------
function unsaved() {
  return masks.dirty || report.dirty;
}

let leaving = false;
window.addEventListener("beforeunload", (e) => {
  if (!leaving && unsaved()) {
    e.preventDefault();
    e.returnValue = "";
  }
});

async function nextCase() {
  if (unsaved()) {
    const choice = await ask({
      title: "Unsaved edits",
      html: "<p>You have unsaved edits on this case. Save them before opening the next case?</p>",
      actions: [
        { label: "Stay here", value: "stay" },
        { label: "Leave without saving", value: "leave", kind: "danger" },
        { label: "Save and continue", value: "save", kind: "primary" },
      ],
    });
    if (choice === "stay" || choice === null) return;
    if (choice === "save" && !(await saveAll())) return;
  }
  try {
    const response = await request(`/api/projects/${boot.project.id}/next-case`);
    if (response.status === 204) {
      toast("The worklist is empty: no open case is waiting for you.");
      return;
    }
    const next = await response.json();
    if (next.id === caseId) {
      toast("This is your next case: it is still open. Submit it to move on.");
      return;
    }
    leaving = true; // the user chose to leave (saved, or said to drop the edits)
    location.href = `/cases/${next.id}/`;
  } catch (err) {
    toast(err instanceof ApiError ? err.message : String(err), "error");
  }
}

// --- tabs ----------------------------------------------------------------------------------------
function bindTabs() {
  document.querySelectorAll("[data-tab]").forEach((tab) =>
    tab.addEventListener("click", () => {
      document.querySelectorAll("[data-tab]").forEach((t) => t.setAttribute("aria-selected", String(t === tab)));
      document.querySelectorAll(".tab-panel").forEach((p) => (p.hidden = p.id !== tab.dataset.tab));
    }),
  );
}

// --- start ---------------------------------------------------------------------------------------
async function start() {
  const message = document.getElementById("viewer-message");
  bindTabs();
  bindDisplay();
  renderModalities();
  document.addEventListener("keydown", onKey);
  document.getElementById("shortcuts-help").addEventListener("click", showShortcuts);
  document.getElementById("next-case").addEventListener("click", nextCase);
  document.getElementById("next-case").hidden = RANK[role] < RANK.annotator;
  const reportLoaded = report.load().catch((err) => toast(`Report: ${err.message}`, "error"));
  try {
    await viewer.start();
  } catch (err) {
    message.textContent = `The viewer could not start: ${err.message}`;
    message.classList.add("error");
    throw err;
  }
  timings.firstFrame = performance.now();
  message.hidden = true;
  bindViewerEvents();
  viewer.nv.opts.viewModeHotKey = "None"; // the page's own V shortcut cycles views
  viewer.nv.opts.clipPlaneHotKey = "None";
  viewer.nv.opts.cycleClipPlaneHotKey = "None";
  await masks.load();
  timings.masksLoaded = performance.now();
  masks.addEventListener("saved", refreshDetail);
  report.addEventListener("saved", refreshDetail);
  report.addEventListener("focus", (e) => focusSentence(e.detail));
  review.bind();
  review.addEventListener("changed", refreshDetail);
  renderHeader();
  review.history();
  await reportLoaded;
  viewer.nv.createOnLocationChange();
  timings.ready = performance.now();
  await viewer.prefetch();
  timings.allModalities = performance.now();
}

window.brainscribe.ready = start();
