// Exports: start one (format and its options), follow its job until the archive is ready, and list
// every archive of the project with its download link.
import { escapeHTML, getJSON, request, when } from "./api.js";
import {
  ACTIVE,
  atLeast,
  bytes,
  errorText,
  jobLink,
  listOf,
  notify,
  progressBar,
  startJob,
  startOutcome,
  statusBadge,
} from "./project/common.js";
import { poll } from "./project/poll.js";

const root = document.getElementById("exports-app");
const projectId = root.dataset.projectId;
const role = root.dataset.role;
const options = JSON.parse(document.getElementById("export-options").textContent);
const form = document.getElementById("export-form");
const formMessage = document.getElementById("export-message");
const active = document.getElementById("active-exports");
const tbody = document.querySelector("#exports tbody");
const pager = document.getElementById("pager");
const listMessage = document.getElementById("exports-message");
const PAGE_SIZE = 50;

const trackers = new Map(); // job id → poller
let page = 1;
let listPoller = null;
window.brainscribe = { trackers };

// --- the form --------------------------------------------------------------------------------------

function showOptions() {
  const format = form.elements.format.value;
  const accepted = options.formats[format] || {};
  for (const el of form.querySelectorAll("[data-option]")) el.hidden = !(el.dataset.option in accepted);
  const selected = form.elements.format.selectedOptions[0];
  document.getElementById("format-description").textContent = selected ? selected.title : "";
}

function params() {
  const format = form.elements.format.value;
  const accepted = options.formats[format] || {};
  const out = { format, cases: form.elements.cases.value };
  if ("mask" in accepted) out.mask = form.elements.mask.value;
  if ("modalities" in accepted) {
    const ticked = [...form.querySelectorAll("input[name=modalities]:checked")].map((el) => el.value);
    if (ticked.length) out.modalities = ticked;
  }
  if ("dataset_id" in accepted && form.elements.dataset_id.value) out.dataset_id = Number(form.elements.dataset_id.value);
  if ("dataset_name" in accepted && form.elements.dataset_name.value.trim()) out.dataset_name = form.elements.dataset_name.value.trim();
  return out;
}

async function submit(e) {
  e.preventDefault();
  const button = document.getElementById("start-export");
  button.disabled = true;
  try {
    const job = await startJob(projectId, "export", params());
    notify(formMessage, startOutcome(job));
    track(job);
  } catch (err) {
    notify(formMessage, startOutcome(null, err));
    if (err.status === 409 && err.body.job_id) track({ id: err.body.job_id, status: "queued", progress: 0, params: {} });
  } finally {
    button.disabled = false;
  }
}

// --- exports in progress -----------------------------------------------------------------------------

function trackerHTML(job) {
  const result = job.result || {};
  const format = (job.params && job.params.format) || result.format || "";
  let body;
  if (job.status === "succeeded" && result.download_url) {
    const skipped = result.skipped && Object.keys(result.skipped).length;
    body = `<a class="download button primary" href="${escapeHTML(result.download_url)}" download>Download ${escapeHTML(format)} archive</a>
      <span class="muted small">${result.n_cases ?? "?"} cases · ${result.n_files ?? "?"} files · ${bytes(result.total_bytes)}${skipped ? ` · ${skipped} skipped (see the job)` : ""}</span>`;
  } else if (job.status === "failed" || job.status === "cancelled") {
    body = `<span class="error">${escapeHTML(job.error || job.message || job.status)}</span>`;
  } else {
    body = `${progressBar(job.progress)} <span class="muted small">${escapeHTML(job.message || (job.status === "queued" ? "waiting for a worker…" : ""))}</span>`;
  }
  return `<header>${escapeHTML(format)} export ${statusBadge(job.status)} ${jobLink(job.id)}
      <button type="button" class="link" data-dismiss="${job.id}" title="Hide">×</button></header>
    <div class="tracker-body">${body}</div>`;
}

function track(job) {
  if (trackers.has(job.id)) return;
  const card = document.createElement("article");
  card.className = "export-tracker";
  card.dataset.jobId = job.id;
  card.innerHTML = trackerHTML(job);
  active.prepend(card);
  const poller = poll(async () => {
    const current = await getJSON(`/api/jobs/${job.id}/`);
    card.dataset.status = current.status;
    card.innerHTML = trackerHTML(current);
    if (ACTIVE.has(current.status)) return true;
    refreshList();
    return false;
  });
  trackers.set(job.id, poller);
}

active.addEventListener("click", (e) => {
  const button = e.target.closest("button[data-dismiss]");
  if (!button) return;
  const id = Number(button.dataset.dismiss);
  trackers.get(id)?.stop();
  trackers.delete(id);
  button.closest(".export-tracker").remove();
});

async function trackRunning() {
  try {
    const data = await getJSON(`/api/projects/${projectId}/jobs/?type=export`);
    listOf(data)
      .filter((j) => ACTIVE.has(j.status))
      .reverse()
      .forEach(track);
  } catch (err) {
    notify(formMessage, { text: errorText(err), kind: "error" });
  }
}

// --- the archive list ------------------------------------------------------------------------------

function row(x) {
  let link = x.download_url
    ? `<a class="download" href="${escapeHTML(x.download_url)}" download>Download</a>`
    : x.job
      ? jobLink(x.job, "job ›")
      : "";
  if (x.files_deleted_at) {
    const who = x.files_deleted_by ? x.files_deleted_by.username : "retention policy";
    link = `<span class="muted small" title="The record and its manifest are kept; the snapshot can be exported again.">files deleted ${when(x.files_deleted_at)} by ${escapeHTML(who)}</span>`;
  } else if (x.download_url && atLeast(role, "admin")) {
    link += ` <button type="button" class="delete-files small" data-export-id="${x.id}">Delete files</button>`;
  }
  const optionsText = Object.entries(x.params || {})
    .filter(([k]) => k !== "format")
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join(",") : v}`)
    .join(" ");
  return `<tr data-export-id="${x.id}" data-status="${escapeHTML(x.status)}">
    <td>#${x.id} <span class="muted small" title="Snapshot checksum">${x.snapshot ? escapeHTML(x.snapshot.checksum.slice(0, 10)) : ""}</span></td>
    <td>${escapeHTML(x.format)} <span class="muted small">${escapeHTML(optionsText)}</span></td>
    <td>${statusBadge(x.status)}</td>
    <td class="num">${x.snapshot ? x.snapshot.n_cases : "–"}</td>
    <td class="num">${x.download_url ? x.n_files : "–"}</td>
    <td class="num">${x.download_url ? bytes(x.total_bytes) : "–"}</td>
    <td>${when(x.created_at)}</td>
    <td>${x.created_by ? escapeHTML(x.created_by.username) : '<span class="muted">–</span>'}</td>
    <td>${link}</td>
  </tr>`;
}

async function loadList() {
  const query = page > 1 ? `?page=${page}` : "";
  try {
    const data = await getJSON(`/api/projects/${projectId}/exports/${query}`);
    const exports = listOf(data);
    tbody.innerHTML = exports.length
      ? exports.map(row).join("")
      : '<tr><td colspan="9" class="muted">No export yet.</td></tr>';
    const count = Array.isArray(data) ? exports.length : data.count;
    const pages = Math.max(1, Math.ceil(count / PAGE_SIZE));
    pager.innerHTML =
      `<span>${count} export${count === 1 ? "" : "s"}</span>` +
      (pages > 1
        ? ` <button type="button" data-page="${page - 1}" ${page <= 1 ? "disabled" : ""}>‹ Newer</button>
           <span>page ${page} of ${pages}</span>
           <button type="button" data-page="${page + 1}" ${page >= pages ? "disabled" : ""}>Older ›</button>`
        : "");
    notify(listMessage, {});
    return exports.some((x) => ACTIVE.has(x.status));
  } catch (err) {
    notify(listMessage, { text: errorText(err), kind: "error" });
    throw err;
  }
}

function refreshList() {
  if (listPoller) listPoller.stop();
  listPoller = poll(loadList, { interval: 3000 });
}

tbody.addEventListener("click", async (e) => {
  const button = e.target.closest("button.delete-files");
  if (!button) return;
  const id = button.dataset.exportId;
  if (!window.confirm(`Delete the files of export #${id}? Its record and manifest stay; the snapshot can be exported again.`)) return;
  button.disabled = true;
  try {
    await request(`/api/exports/${id}/`, { method: "DELETE" });
    refreshList();
  } catch (err) {
    button.disabled = false;
    notify(listMessage, { text: errorText(err), kind: "error" });
  }
});

pager.addEventListener("click", (e) => {
  const button = e.target.closest("button[data-page]");
  if (!button) return;
  page = Number(button.dataset.page);
  refreshList();
});

// --- start -----------------------------------------------------------------------------------------

if (!atLeast(role, "reviewer")) {
  document.getElementById("start-export").disabled = true;
  document.getElementById("export-role-note").hidden = false;
}
form.elements.format.addEventListener("change", showOptions);
form.addEventListener("submit", submit);
showOptions();
refreshList();
trackRunning();
