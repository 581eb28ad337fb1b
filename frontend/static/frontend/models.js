// The model registry: champion beside its candidates, every version with its metrics, promotion
// (with an admin's reasoned override when a candidate does not beat the champion), and the jobs
// that make new versions (retrain, re-score the worklist, propose for unreviewed cases).
import { escapeHTML, getJSON, sendJSON, when } from "./api.js";
import { ask } from "./case/dialog.js";
import { applyRoles, atLeast, errorText, fmt, jobLink, listOf, notify, startJob, startOutcome } from "./project/common.js";
import { delta, flatTable, perLabelTable, reportTable } from "./project/metrics.js";

const root = document.getElementById("models-app");
const projectId = root.dataset.projectId;
const role = root.dataset.role;
const tbody = document.querySelector("#models tbody");
const cards = document.getElementById("model-cards");
const detail = document.getElementById("model-detail");
const listMessage = document.getElementById("models-message");
const jobMessage = document.getElementById("job-message");
const STAGE_ORDER = { champion: 0, candidate: 1, retired: 2 };

const state = { models: [], schema: null, selected: root.dataset.selected ? Number(root.dataset.selected) : null };
window.brainscribe = { state };

const champion = () => state.models.find((m) => m.stage === "champion") || null;
const mayPromote = (m) => atLeast(role, "reviewer") && m.stage !== "champion";

async function loadAll(url) {
  const out = [];
  while (url) {
    const data = await getJSON(url);
    out.push(...listOf(data));
    url = Array.isArray(data) ? null : data.next;
  }
  return out;
}

function labelsOf(kind) {
  return state.schema ? state.schema.labels.filter((l) => l.kind === kind) : [];
}

function metric(m, key) {
  return m.metrics && typeof m.metrics === "object" ? m.metrics[key] : undefined;
}

function stageBadge(stage) {
  return `<span class="stage stage-${escapeHTML(stage)}">${escapeHTML(stage)}</span>`;
}

function promoteButton(m) {
  return mayPromote(m) ? `<button type="button" data-promote="${m.id}">Promote</button>` : "";
}

function card(m, champ) {
  const vs = (value, ref, key) => (champ && m !== champ ? delta(value, ref, key) : "");
  const row = (name, key, value, ref) =>
    `<div class="kv"><span class="muted">${name}</span><span class="num">${fmt(value)} ${vs(value, ref, key)}</span></div>`;
  return `<article class="model-card ${m.stage === "champion" ? "champion" : ""}" data-model-id="${m.id}">
    <header>${stageBadge(m.stage)} <a href="/models/${m.id}/" data-select="${m.id}">${escapeHTML(m.name)}</a></header>
    ${row("validation", "val_score", m.validation_score, champ && champ.validation_score)}
    ${row("lesion Dice", "val_lesion_dice", metric(m, "val_lesion_dice"), champ && metric(champ, "val_lesion_dice"))}
    ${row("structure Dice", "val_structure_dice", metric(m, "val_structure_dice"), champ && metric(champ, "val_structure_dice"))}
    <footer class="small muted">${m.stage === "champion" && m.promoted_at ? `champion since ${when(m.promoted_at)}` : `created ${when(m.created_at)}`}
      ${promoteButton(m)}</footer>
  </article>`;
}

function renderCards() {
  const champ = champion();
  const candidates = state.models
    .filter((m) => m.stage === "candidate")
    .sort((a, b) => (b.validation_score ?? -Infinity) - (a.validation_score ?? -Infinity));
  const shown = [...(champ ? [champ] : []), ...candidates];
  cards.innerHTML = shown.length
    ? (champ ? "" : '<p class="muted no-champion">No champion yet: the first promoted candidate becomes one.</p>') +
      shown.map((m) => card(m, champ)).join("")
    : '<p class="muted">No model version yet. Retrain, or register a checkpoint with the API.</p>';
}

function promotedCell(m) {
  if (!m.promoted_at) return '<span class="muted">–</span>';
  const by = m.promoted_by ? ` by ${escapeHTML(m.promoted_by.username)}` : "";
  return `<span title="${escapeHTML(m.promotion_reason || "")}">${when(m.promoted_at)}${by}</span>`;
}

function row(m) {
  const selected = m.id === state.selected ? " selected" : "";
  return `<tr data-model-id="${m.id}" class="stage-row-${escapeHTML(m.stage)}${selected}">
    <td><a href="/models/${m.id}/" data-select="${m.id}">${escapeHTML(m.name)}</a> <span class="muted small">#${m.id}</span></td>
    <td>${stageBadge(m.stage)}</td>
    <td class="num">${fmt(m.validation_score)}</td>
    <td class="num">${fmt(metric(m, "val_lesion_dice"))}</td>
    <td class="num">${fmt(metric(m, "val_structure_dice"))}</td>
    <td>${when(m.created_at)}</td>
    <td>${promotedCell(m)}</td>
    <td>${m.training_job ? jobLink(m.training_job) : '<span class="muted">upload</span>'}</td>
    <td>${promoteButton(m)}</td>
  </tr>`;
}

function renderTable() {
  const models = [...state.models].sort(
    (a, b) => (STAGE_ORDER[a.stage] ?? 9) - (STAGE_ORDER[b.stage] ?? 9) || b.created_at.localeCompare(a.created_at),
  );
  tbody.innerHTML = models.length
    ? models.map(row).join("")
    : '<tr><td colspan="9" class="muted">No model version yet.</td></tr>';
}

function fact(name, value) {
  return value ? `<dt>${name}</dt><dd>${value}</dd>` : "";
}

function renderDetail() {
  const m = state.models.find((x) => x.id === state.selected);
  if (!m) {
    detail.hidden = true;
    if (state.selected) notify(listMessage, { text: `Model ${state.selected} is not in this project.`, kind: "error" });
    return;
  }
  const champ = champion();
  const compare = champ && champ.id !== m.id ? champ : null;
  const metrics = m.metrics && typeof m.metrics === "object" ? m.metrics : {};
  const cm = compare ? compare.metrics || {} : null;
  const perLabel = metrics.per_label && typeof metrics.per_label === "object" ? metrics.per_label : {};
  const cPerLabel = cm && cm.per_label && typeof cm.per_label === "object" ? cm.per_label : {};
  const parent = m.parent ? state.models.find((x) => x.id === m.parent) : null;
  detail.hidden = false;
  detail.innerHTML = `
    <header class="page-head">
      <h2>${escapeHTML(m.name)} ${stageBadge(m.stage)}</h2>
      <span class="spacer"></span>${promoteButton(m)}
      <button type="button" class="link" data-close-detail>close</button>
    </header>
    <dl class="facts">
      ${fact("Version", `#${m.id}`)}
      ${fact("Checkpoint", m.sha256 ? `<code title="${escapeHTML(m.sha256)}">${escapeHTML(m.sha256.slice(0, 12))}</code>` : "")}
      ${fact("Created", when(m.created_at))}
      ${fact("Training job", m.training_job ? jobLink(m.training_job) : "uploaded checkpoint")}
      ${fact("Dataset snapshot", m.snapshot ? `snapshot ${Number(m.snapshot)}` : "")}
      ${fact("Trained from", m.parent ? `<a href="/models/${Number(m.parent)}/" data-select="${Number(m.parent)}">${parent ? escapeHTML(parent.name) : `model ${Number(m.parent)}`}</a>` : "")}
      ${fact("Promoted", m.promoted_at ? `${when(m.promoted_at)}${m.promoted_by ? ` by ${escapeHTML(m.promoted_by.username)}` : ""}` : "")}
      ${fact("Reason", m.promotion_reason ? escapeHTML(m.promotion_reason) : "")}
    </dl>
    ${compare ? `<p class="small muted">Compared with the champion, ${escapeHTML(compare.name)}.</p>` : ""}
    <div class="metric-grid">
      <section><h3>Summary</h3>${flatTable(metrics, cm)}</section>
      <section><h3>Report generation</h3>${reportTable(metrics.report, cm ? cm.report : null)}</section>
    </div>
    <div class="metric-grid">
      <section class="per-label-lesion"><h3>Lesion labels</h3>${perLabelTable(perLabel.lesion, labelsOf("lesion"), compare ? cPerLabel.lesion || {} : null)}</section>
      <section class="per-label-structure"><h3>Structure labels</h3>${perLabelTable(perLabel.structure, labelsOf("structure"), compare ? cPerLabel.structure || {} : null)}</section>
    </div>`;
}

function render() {
  renderCards();
  renderTable();
  renderDetail();
}

function select(id) {
  state.selected = id;
  const url = id ? `/models/${id}/` : `/projects/${projectId}/models/`;
  history.replaceState(null, "", url);
  renderTable();
  renderDetail();
  if (id) detail.scrollIntoView({ behavior: "smooth", block: "start" });
}

async function load() {
  try {
    const [models, schema] = await Promise.all([
      loadAll(`/api/projects/${projectId}/models/`),
      state.schema ? Promise.resolve(state.schema) : getJSON(`/api/label-schemas/${encodeURIComponent(root.dataset.schema)}/`),
    ]);
    state.models = models;
    state.schema = schema;
    notify(listMessage, {});
    render();
  } catch (err) {
    notify(listMessage, { text: errorText(err), kind: "error" });
  }
}

// --- promotion -----------------------------------------------------------------------------------

async function askReason(title, sentence, confirmLabel) {
  let warning = "";
  for (;;) {
    const choice = await ask({
      title,
      id: "promote-dialog",
      html: `<p>${escapeHTML(sentence)}</p>
        <label class="stacked">Reason for the override (recorded in the audit trail)
          <textarea id="override-reason" rows="3" required></textarea></label>
        <p class="error small" role="alert">${escapeHTML(warning)}</p>`,
      actions: [
        { label: "Cancel", value: "cancel" },
        { label: confirmLabel, value: "ok", kind: "danger" },
      ],
      onOpen: (dialog) => dialog.querySelector("textarea").focus(),
    });
    if (choice !== "ok") return null;
    const reason = document.getElementById("override-reason").value.trim();
    if (reason) return reason;
    warning = "An override needs a reason.";
  }
}

async function promote(id) {
  const m = state.models.find((x) => x.id === id);
  if (!m) return;
  const champ = champion();
  const choice = await ask({
    title: `Promote ${m.name}?`,
    id: "promote-dialog",
    html: `<p>${champ ? `It replaces ${escapeHTML(champ.name)} as champion if it scores higher on the validation split (${fmt(m.validation_score)} against ${fmt(champ.validation_score)}).` : "It becomes the project's first champion."}</p>
      <p class="muted small">The new champion then proposes masks and reports for every case nobody has started on, and the worklist is re-scored.</p>`,
    actions: [
      { label: "Cancel", value: "cancel" },
      { label: "Promote", value: "ok", kind: "primary" },
    ],
  });
  if (choice !== "ok") return;
  try {
    await post(id, "");
  } catch (err) {
    if (err.status === 409 && /does not beat the champion/i.test(err.message) && atLeast(role, "admin")) {
      const reason = await askReason("Promote anyway?", err.message, "Promote anyway");
      if (reason === null) {
        notify(jobMessage, { text: err.message, kind: "error" });
        return;
      }
      try {
        await post(id, reason);
      } catch (again) {
        notify(jobMessage, { text: errorText(again), kind: "error" });
      }
    } else {
      notify(jobMessage, { text: errorText(err), kind: "error" });
    }
  }
}

async function post(id, reason) {
  const { data } = await sendJSON(`/api/models/${id}/promote`, "POST", { reason });
  notify(jobMessage, {
    html: `${escapeHTML(data.name)} is now the champion${data.promotion_reason ? ` (${escapeHTML(data.promotion_reason)})` : ""}. Unreviewed cases are being re-proposed: see <a href="/projects/${projectId}/jobs/">jobs</a>.`,
    kind: "ok",
  });
  await load();
}

// --- jobs ----------------------------------------------------------------------------------------

function jobParams(type) {
  if (type === "scoring") return { strategy: document.getElementById("scoring-strategy").value };
  if (type === "inference") return { cases: "unreviewed" };
  return {};
}

async function start(button) {
  const type = button.dataset.job;
  button.disabled = true;
  try {
    notify(jobMessage, startOutcome(await startJob(projectId, type, jobParams(type))));
  } catch (err) {
    notify(jobMessage, startOutcome(null, err));
  } finally {
    button.disabled = false;
  }
}

// --- wiring --------------------------------------------------------------------------------------

applyRoles(root, role);
if (!atLeast(role, "reviewer")) document.getElementById("job-actions").hidden = true;
root.addEventListener("click", (e) => {
  const promoteBtn = e.target.closest("button[data-promote]");
  if (promoteBtn) {
    promote(Number(promoteBtn.dataset.promote));
    return;
  }
  const jobBtn = e.target.closest("button[data-job]");
  if (jobBtn) {
    start(jobBtn);
    return;
  }
  if (e.target.closest("[data-close-detail]")) {
    select(null);
    return;
  }
  const link = e.target.closest("a[data-select]");
  if (link && !e.ctrlKey && !e.metaKey && !e.shiftKey && e.button === 0) {
    e.preventDefault();
    select(Number(link.dataset.select));
    return;
  }
  const tr = e.target.closest("#models tbody tr[data-model-id]");
  if (tr && !e.target.closest("a, button")) select(Number(tr.dataset.modelId));
});

load();
