// What the project pages (models, jobs, job, exports) share: roles, notices, number formats, job
// status badges and progress bars, and starting a job with the server's sentences on refusal.
import { ApiError, escapeHTML, sendJSON } from "../api.js";

const RANK = { viewer: 0, annotator: 1, reviewer: 2, admin: 3 };
export const ACTIVE = new Set(["queued", "running"]);

/** Does `role` reach `minimum`? (The server decides; this only hides buttons that would be refused.) */
export function atLeast(role, minimum) {
  return role in RANK && RANK[role] >= RANK[minimum];
}

/** Hide every `[data-min-role]` element under `root` that `role` does not reach. */
export function applyRoles(root, role) {
  for (const el of root.querySelectorAll("[data-min-role]")) el.hidden = !atLeast(role, el.dataset.minRole);
}

/** Show a sentence (plain text) or trusted markup in a `.notice` element; empty hides it. */
export function notify(el, { text = "", html = "", kind = "info" } = {}) {
  el.hidden = !text && !html;
  if (html) el.innerHTML = html;
  else el.textContent = text;
  el.dataset.kind = kind;
}

export function errorText(err) {
  return err instanceof ApiError ? err.message : String(err && err.message ? err.message : err);
}

/** DRF list answers are paginated ({count, next, results}) or plain arrays. */
export function listOf(data) {
  return Array.isArray(data) ? data : (data && data.results) || [];
}

export function isNumber(value) {
  return typeof value === "number" && Number.isFinite(value);
}

/** Scores in 0–1 get three decimals, larger figures (BLEU on 0–100, losses) two; missing is a dash. */
export function fmt(value) {
  if (!isNumber(value)) return "–";
  return Math.abs(value) <= 1 ? value.toFixed(3) : value.toFixed(2);
}

export function bytes(n) {
  if (!isNumber(n)) return "–";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i += 1;
  }
  return `${i ? n.toFixed(1) : n} ${units[i]}`;
}

export function duration(seconds) {
  if (!isNumber(seconds) || seconds < 0) return "";
  if (seconds < 60) return `${Math.round(seconds)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min`;
}

export function statusBadge(status) {
  return `<span class="status status-${escapeHTML(status)}">${escapeHTML(String(status || "").replace("_", " "))}</span>`;
}

export function progressBar(fraction, { small = false } = {}) {
  const pct = Math.round(100 * Math.max(0, Math.min(1, Number(fraction) || 0)));
  return `<span class="progress${small ? " small" : ""}" role="progressbar" aria-valuemin="0" aria-valuemax="100"
    aria-valuenow="${pct}" title="${pct} %"><span class="bar" style="width:${pct}%"></span></span>`;
}

export function jobLink(id, text = `job ${id}`) {
  return `<a href="/jobs/${Number(id)}/">${escapeHTML(text)}</a>`;
}

/**
 * POST a job for the project. Resolves with the job; rejects with an ApiError whose message is the
 * server's sentence (400 unknown type or bad params, 403 role, 409 duplicate with `body.job_id`).
 */
export async function startJob(projectId, type, params = {}) {
  const { data } = await sendJSON(`/api/projects/${projectId}/jobs/`, "POST", { type, params });
  return data;
}

/** Markup for the outcome of startJob: a link to the new job, or the refusal with a link to the running duplicate. */
export function startOutcome(job, err) {
  if (job) {
    return { kind: "ok", html: `Started ${escapeHTML(job.type)} ${jobLink(job.id)} (${escapeHTML(job.status)}).` };
  }
  const runningId = err instanceof ApiError ? err.body.job_id : null;
  const html = escapeHTML(errorText(err)) + (runningId ? ` ${jobLink(runningId, `Open job ${runningId} ›`)}` : "");
  return { kind: "error", html };
}
