// One job: status, progress, message, log tail, result, error; polled every two seconds while it
// is queued or running. Training jobs draw their learning curves from `result.history` as it grows.
import { escapeHTML, getJSON, sendJSON, when } from "./api.js";
import { ACTIVE, atLeast, bytes, duration, errorText, fmt, isNumber, notify, statusBadge } from "./project/common.js";
import { curvesSVG, epochs, legendHTML, SERIES } from "./project/curves.js";
import { poll } from "./project/poll.js";

const root = document.getElementById("job-app");
const jobId = root.dataset.jobId;
const role = root.dataset.role;
const $ = (id) => document.getElementById(id);
const state = { job: null, polls: 0, historyKey: "" };
window.brainscribe = { state };

function seconds(from, to) {
  if (!from) return null;
  return ((to ? new Date(to) : new Date()) - new Date(from)) / 1000;
}

function renderHeader(job) {
  $("job-type").textContent = job.type;
  const badge = $("job-status");
  badge.className = `status job-status status-${job.status}`;
  badge.textContent = job.cancel_requested && ACTIVE.has(job.status) ? `${job.status} (cancelling)` : job.status;
  const pct = Math.round(100 * Math.max(0, Math.min(1, Number(job.progress) || 0)));
  const bar = $("job-progress");
  bar.setAttribute("aria-valuenow", String(pct));
  bar.querySelector(".bar").style.width = `${pct}%`;
  bar.dataset.status = job.status;
  $("job-percent").textContent = `${pct} %`;
  $("job-message").textContent = job.message || (job.status === "queued" ? "Waiting for a worker…" : "");
  // Project jobs may be cancelled by whoever may start them (the server says so otherwise);
  // a project-less job by its owner.
  const mayCancel = root.dataset.projectId ? atLeast(role, "annotator") : true;
  $("cancel-job").hidden = !(ACTIVE.has(job.status) && mayCancel && !job.cancel_requested);
}

function renderFacts(job) {
  const facts = [
    ["Started by", job.created_by ? escapeHTML(job.created_by.username) : "the system"],
    ["Created", when(job.created_at)],
    ["Queue", job.status === "queued" && !job.dispatched ? '<span class="warn">not dispatched yet (job queue unreachable)</span>' : ""],
    ["Started", when(job.started_at)],
    ["Last report", ACTIVE.has(job.status) ? when(job.heartbeat_at) : ""],
    ["Finished", when(job.finished_at)],
    ["Run time", job.started_at ? duration(seconds(job.started_at, job.finished_at)) : ""],
    [
      "Attempts",
      job.attempts > 1
        ? `${job.attempts} <span class="muted">(a worker stopped; the job resumed)</span>`
        : String(job.attempts ?? ""),
    ],
  ];
  $("job-facts").innerHTML = facts
    .filter(([, v]) => v)
    .map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`)
    .join("");
}

function epochTable(rows) {
  const cols = [
    ["epoch", "Epoch"],
    ...SERIES.map((s) => [s.key, s.label]),
    ["learning_rate", "learning rate"],
    ["seconds", "seconds"],
  ];
  const cell = (key, v) => (!isNumber(v) ? "–" : key === "learning_rate" ? v.toExponential(2) : key === "epoch" ? v : key === "seconds" ? v.toFixed(1) : v.toFixed(4));
  return `<table class="list compact"><thead><tr>${cols.map(([, n]) => `<th class="num">${n}</th>`).join("")}</tr></thead>
    <tbody>${rows.map((r) => `<tr>${cols.map(([k]) => `<td class="num">${cell(k, r[k])}</td>`).join("")}</tr>`).join("")}</tbody></table>`;
}

function renderCurves(job) {
  const history = job.result && Array.isArray(job.result.history) ? job.result.history : null;
  const box = $("curves-box");
  box.hidden = !(history || job.type === "training");
  if (box.hidden) return;
  const key = JSON.stringify(history || []);
  if (key === state.historyKey && $("curves").childElementCount) return; // unchanged: keep hover state
  state.historyKey = key;
  $("curves").innerHTML = curvesSVG(history || []) + legendHTML();
  const rows = epochs(history || []);
  $("epochs").innerHTML = rows.length ? epochTable(rows) : '<p class="muted">No epoch has finished yet.</p>';
}

function value(key, v) {
  if (key === "model" && isNumber(v)) return `<a href="/models/${v}/">model ${v}</a> <span class="muted">(in the registry)</span>`;
  if ((key === "snapshot" || key === "snapshot_id") && isNumber(v)) return `snapshot ${v}`;
  if (key === "download_url" && typeof v === "string" && v.startsWith("/")) {
    return `<a class="download" href="${escapeHTML(v)}" download>Download archive</a>`;
  }
  if (key === "export_id" && isNumber(v)) return `export ${v} <a href="/projects/${root.dataset.projectId}/exports/">all exports ›</a>`;
  if (key === "total_bytes" && isNumber(v)) return bytes(v);
  if (isNumber(v)) return Number.isInteger(v) ? String(v) : fmt(v);
  if (typeof v === "string") return escapeHTML(v);
  if (typeof v === "boolean") return v ? "yes" : "no";
  if (v === null || v === undefined) return "–";
  if (typeof v === "object" && !Array.isArray(v) && Object.values(v).every((x) => typeof x !== "object")) {
    const entries = Object.entries(v);
    return entries.length ? entries.map(([k, x]) => `${escapeHTML(k)}: ${escapeHTML(x)}`).join(" · ") : "none";
  }
  return `<pre class="mono small">${escapeHTML(JSON.stringify(v, null, 2))}</pre>`;
}

const RESULT_NAMES = {
  model: "Model",
  snapshot: "Dataset snapshot",
  snapshot_id: "Dataset snapshot",
  snapshot_checksum: "Snapshot checksum",
  download_url: "Archive",
  export_id: "Export",
  n_cases: "Cases",
  n_files: "Files",
  total_bytes: "Size",
  manifest_sha256: "Manifest sha256",
  resumed_from_epoch: "Resumed from epoch",
  cases: "Training cases",
  skipped: "Skipped",
};

function renderResult(job) {
  const result = job.result && typeof job.result === "object" ? job.result : {};
  const keys = Object.keys(result).filter((k) => k !== "history");
  const order = Object.keys(RESULT_NAMES);
  keys.sort((a, b) => (order.indexOf(a) + 1 || 99) - (order.indexOf(b) + 1 || 99) || a.localeCompare(b));
  $("result-box").hidden = !keys.length;
  $("job-result").innerHTML = keys
    .map((k) => `<dt>${escapeHTML(RESULT_NAMES[k] || k.replaceAll("_", " "))}</dt><dd data-key="${escapeHTML(k)}">${value(k, result[k])}</dd>`)
    .join("");
}

function renderLog(job) {
  const log = $("job-log");
  const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 24;
  if (log.textContent !== (job.log || "")) {
    log.textContent = job.log || "";
    if (atBottom) log.scrollTop = log.scrollHeight;
  }
  log.classList.toggle("empty", !job.log);
}

function render(job) {
  state.job = job;
  renderHeader(job);
  renderFacts(job);
  renderCurves(job);
  renderResult(job);
  $("error-box").hidden = !job.error;
  $("job-error").textContent = job.error || "";
  $("job-params").textContent = JSON.stringify(job.params || {}, null, 2);
  renderLog(job);
  document.title = `Job ${job.id} · ${job.type} · ${job.status} · Brainscribe`;
}

async function refresh() {
  try {
    const job = await getJSON(`/api/jobs/${jobId}/`);
    state.polls += 1;
    render(job);
    notify($("job-notice"), {});
    return ACTIVE.has(job.status);
  } catch (err) {
    notify($("job-notice"), { text: errorText(err), kind: "error" });
    throw err;
  }
}

const poller = poll(refresh);

$("cancel-job").addEventListener("click", async () => {
  const button = $("cancel-job");
  button.disabled = true;
  try {
    const { data } = await sendJSON(`/api/jobs/${jobId}/cancel`, "POST", {});
    render(data);
    notify($("job-notice"), {
      text: data.status === "cancelled" ? "Cancelled." : "Asked the worker to stop; it stops at its next progress report.",
      kind: "ok",
    });
    poller.now();
  } catch (err) {
    notify($("job-notice"), { text: errorText(err), kind: "error" });
  } finally {
    button.disabled = false;
  }
});
