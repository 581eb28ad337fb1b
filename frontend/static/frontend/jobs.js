// The project's jobs, newest first, refreshed every two seconds while one of them is still active.
import { escapeHTML, getJSON, when } from "./api.js";
import { ACTIVE, errorText, jobLink, listOf, notify, progressBar, statusBadge } from "./project/common.js";
import { poll } from "./project/poll.js";

const root = document.getElementById("jobs-app");
const projectId = root.dataset.projectId;
const form = document.getElementById("job-filters");
const tbody = document.querySelector("#jobs tbody");
const pager = document.getElementById("pager");
const message = document.getElementById("jobs-message");
const PAGE_SIZE = 50; // the API's page size

let page = 1;
let poller = null;

function fromURL() {
  const params = new URLSearchParams(location.search);
  form.elements.type.value = params.get("type") || "";
  page = Number(params.get("page") || 1);
}

function row(job) {
  return `<tr data-job-id="${job.id}" data-status="${escapeHTML(job.status)}">
    <td>${jobLink(job.id, `#${job.id}`)}</td>
    <td>${escapeHTML(job.type)}</td>
    <td>${statusBadge(job.status)}${job.attempts > 1 ? ` <span class="muted small" title="Times a worker started it">×${job.attempts}</span>` : ""}</td>
    <td>${progressBar(job.progress, { small: true })}</td>
    <td class="message-cell">${escapeHTML(job.error ? job.error : job.message)}</td>
    <td>${job.created_by ? escapeHTML(job.created_by.username) : '<span class="muted">system</span>'}</td>
    <td>${when(job.created_at)}</td>
    <td>${when(job.finished_at)}</td>
  </tr>`;
}

async function refresh() {
  const params = new URLSearchParams();
  if (form.elements.type.value) params.set("type", form.elements.type.value);
  if (page > 1) params.set("page", String(page));
  history.replaceState(null, "", `${location.pathname}${params.toString() ? "?" + params : ""}`);
  try {
    const data = await getJSON(`/api/projects/${projectId}/jobs/?${params}`);
    const jobs = listOf(data);
    tbody.innerHTML = jobs.length ? jobs.map(row).join("") : '<tr><td colspan="8" class="muted">No job yet.</td></tr>';
    const count = Array.isArray(data) ? jobs.length : data.count;
    const pages = Math.max(1, Math.ceil(count / PAGE_SIZE));
    pager.innerHTML =
      `<span>${count} job${count === 1 ? "" : "s"}</span>` +
      (pages > 1
        ? ` <button type="button" data-page="${page - 1}" ${page <= 1 ? "disabled" : ""}>‹ Newer</button>
           <span>page ${page} of ${pages}</span>
           <button type="button" data-page="${page + 1}" ${page >= pages ? "disabled" : ""}>Older ›</button>`
        : "");
    notify(message, {});
    return jobs.some((j) => ACTIVE.has(j.status));
  } catch (err) {
    notify(message, { text: errorText(err), kind: "error" });
    throw err;
  }
}

function restart() {
  if (poller) poller.stop();
  poller = poll(refresh);
}

form.addEventListener("change", () => {
  page = 1;
  restart();
});
pager.addEventListener("click", (e) => {
  const button = e.target.closest("button[data-page]");
  if (!button) return;
  page = Number(button.dataset.page);
  restart();
});
tbody.addEventListener("click", (e) => {
  const tr = e.target.closest("tr[data-job-id]");
  if (tr && !e.target.closest("a")) location.href = `/jobs/${tr.dataset.jobId}/`;
});

fromURL();
restart();
