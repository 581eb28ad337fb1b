// The report editor: sentences grouped by region or lesion, each with its status, the model's
// original wording beside the edit, consistency warnings, and its grounding (regions, lesion).
// Saving sends the whole report with If-Match; a 409 opens the conflict dialog.
import { ApiError, escapeHTML, getJSON, request, sendJSON, versionFromETag, when } from "../api.js";
import { ask, toast } from "./dialog.js";
import { diffHTML } from "./textdiff.js";
import { labelsOf } from "./labels.js";

const KIND_LABELS = { lesion: "lesion finding", normal: "normal region", global: "global finding", impression: "impression" };

/** What the server needs to store a sentence (status only when the clinician decided it). */
function toWrite(s) {
  const out = {
    text: s.text.trim(),
    kind: s.kind,
    modality: s.modality || "",
    region_label_ids: s.region_label_ids,
    lesion_component: s.lesion_component ?? null,
  };
  if (s.key) out.key = s.key;
  if (s.decided) out.status = s.status;
  return out;
}

function snapshot(sentences) {
  return JSON.stringify(sentences.map(toWrite));
}

export class ReportEditor extends EventTarget {
  constructor({ caseId, schema, root }) {
    super();
    this.caseId = caseId;
    this.schema = schema;
    this.root = root;
    this.structures = labelsOf(schema, "structure");
    this.byIndex = new Map(this.structures.map((l) => [l.index, l]));
    this.version = 0;
    this.sentences = [];
    this.saved = "[]";
    this.editable = false;
    this.activeKey = null;
    this.editing = null; // sentence object in edit mode
    this.nextLocal = 1;
  }

  el(sel) {
    return this.root.querySelector(sel);
  }

  async load(version = null) {
    const url = `/api/cases/${this.caseId}/report${version ? `?version=${version}` : ""}`;
    const response = await request(url);
    const data = await response.json();
    this.apply(data, versionFromETag(response.headers.get("ETag")) ?? data.version);
    if (!this.bound) this.bind();
  }

  apply(data, version) {
    this.version = version;
    this.meta = data;
    this.sentences = data.sentences.map((s) => ({ ...s, local: this.nextLocal++, decided: false }));
    this.saved = snapshot(this.sentences);
    this.editing = null;
    this.render();
  }

  get dirty() {
    return snapshot(this.sentences) !== this.saved || (this.editing && this.editing.draft !== undefined && this.editing.draft !== this.editing.text);
  }

  setEditable(editable) {
    this.editable = editable;
    this.root.classList.toggle("read-only", !editable);
    this.render();
  }

  bind() {
    this.bound = true;
    const root = this.root;
    root.addEventListener("click", (e) => this.onClick(e));
    root.addEventListener("keydown", (e) => {
      if (e.target.matches("textarea.edit-text")) {
        if (e.key === "Escape") {
          e.preventDefault();
          this.finishEdit(false);
        } else if (e.key === "Enter" && !e.shiftKey) {
          e.preventDefault();
          this.finishEdit(true);
        }
      } else if (e.target.matches(".text") && (e.key === "Enter" || e.key === " ")) {
        e.preventDefault();
        this.focus(this.find(e.target.closest("[data-local]").dataset.local));
      }
    });
    root.addEventListener("input", (e) => {
      if (e.target.matches("textarea.edit-text") && this.editing) {
        this.editing.draft = e.target.value;
        this.renderState();
      } else if (e.target.matches(".region-filter")) {
        this.filterRegions(e.target);
      }
    });
    root.addEventListener("change", (e) => {
      const s = e.target.closest("[data-local]") && this.find(e.target.closest("[data-local]").dataset.local);
      if (!s) return;
      if (e.target.matches("input[data-region]")) {
        const id = Number(e.target.dataset.region);
        const ids = new Set(s.region_label_ids);
        if (e.target.checked) ids.add(id);
        else ids.delete(id);
        s.region_label_ids = [...ids].sort((a, b) => a - b);
        this.renderSentence(s);
        this.renderState();
      } else if (e.target.matches("select.kind")) {
        s.kind = e.target.value;
        this.renderState();
      }
    });
    this.el("#save-report").addEventListener("click", () => this.save());
    this.el("#add-sentence").addEventListener("click", () => this.add());
  }

  find(local) {
    return this.sentences.find((s) => String(s.local) === String(local));
  }

  onClick(e) {
    const row = e.target.closest("[data-local]");
    const action = e.target.closest("[data-action]");
    if (action && row) {
      const s = this.find(row.dataset.local);
      const name = action.dataset.action;
      if (name === "accept") this.decide(s, "accepted");
      else if (name === "reject") this.decide(s, "rejected");
      else if (name === "restore") this.decide(s, s.source === "human" ? "added" : "proposed");
      else if (name === "edit") this.startEdit(s);
      else if (name === "done") this.finishEdit(true);
      else if (name === "cancel") this.finishEdit(false);
      else if (name === "regions") this.toggleRegions(s);
      else if (name === "delete") this.remove(s);
      return;
    }
    const group = e.target.closest("[data-add-to]");
    if (group) {
      this.add(JSON.parse(group.dataset.addTo));
      return;
    }
    if (row && e.target.closest(".text, .grounding")) this.focus(this.find(row.dataset.local));
  }

  decide(s, status) {
    if (!this.editable) return;
    if (this.editing === s) this.finishEdit(true);
    s.status = status;
    s.decided = status === "accepted" || status === "rejected" || s.key !== null;
    this.renderSentence(s);
    this.renderState();
  }

  startEdit(s) {
    if (!this.editable) return;
    if (this.editing && this.editing !== s) this.finishEdit(true);
    this.editing = s;
    s.draft = s.text;
    this.renderSentence(s);
    const area = this.root.querySelector(`[data-local="${s.local}"] textarea.edit-text`);
    if (area) {
      area.focus();
      area.setSelectionRange(area.value.length, area.value.length);
    }
  }

  finishEdit(keep) {
    const s = this.editing;
    if (!s) return;
    this.editing = null;
    if (keep && s.draft !== undefined && s.draft.trim()) {
      if (s.draft.trim() !== s.text) {
        s.text = s.draft.trim();
        if (s.key) {
          s.status = "edited"; // the server derives the same from the changed text
          s.decided = false;
        }
      }
    } else if (!s.key && !s.text.trim()) {
      delete s.draft;
      this.remove(s);
      return;
    }
    delete s.draft;
    this.renderSentence(s);
    this.renderState();
  }

  add(template = {}) {
    if (!this.editable) return;
    const s = {
      key: null,
      local: this.nextLocal++,
      text: "",
      kind: template.kind || "lesion",
      modality: "",
      region_label_ids: template.region_label_ids || [],
      lesion_component: template.lesion_component ?? null,
      source: "human",
      status: "added",
      original_text: "",
      warnings: [],
      decided: false,
      showRegions: true,
    };
    const after = template.after ? this.sentences.findIndex((x) => String(x.local) === String(template.after)) : -1;
    if (after >= 0) this.sentences.splice(after + 1, 0, s);
    else this.sentences.push(s);
    this.render();
    this.startEdit(s);
  }

  remove(s) {
    this.sentences = this.sentences.filter((x) => x !== s);
    if (this.editing === s) this.editing = null;
    this.render();
  }

  toggleRegions(s) {
    s.showRegions = !s.showRegions;
    this.renderSentence(s);
  }

  focus(s) {
    if (!s) return;
    this.activeKey = s.local;
    this.root.querySelectorAll(".sentence.active").forEach((el) => el.classList.remove("active"));
    this.root.querySelector(`[data-local="${s.local}"]`)?.classList.add("active");
    this.dispatchEvent(new CustomEvent("focus", { detail: s }));
  }

  regionNames(ids) {
    return ids.map((id) => this.byIndex.get(id)?.name || `#${id}`);
  }

  groupOf(s) {
    if (s.kind === "impression") return { id: "impression", title: "Impression", order: 1e9 };
    if (s.kind === "global") return { id: "global", title: "Global findings", order: 1e8 };
    if (s.kind === "lesion" && s.lesion_component) {
      const regions = [...new Set(s.region_label_ids.map((id) => this.byIndex.get(id)?.coarse_region).filter(Boolean))];
      return { id: `lesion-${s.lesion_component}`, title: `Lesion ${s.lesion_component}${regions.length ? " · " + regions.slice(0, 3).join(", ") : ""}`, component: s.lesion_component };
    }
    const coarse = [...new Set(s.region_label_ids.map((id) => this.byIndex.get(id)?.coarse_region).filter(Boolean))].sort();
    if (!coarse.length) return { id: `other-${s.kind}`, title: s.kind === "lesion" ? "Findings without a region" : "Other" };
    const title = coarse.length > 3 ? `${coarse.slice(0, 3).join(", ")} +${coarse.length - 3} more` : coarse.join(", ");
    return { id: `${s.kind}-${coarse.join("|")}`, title: s.kind === "lesion" ? `Lesions · ${title}` : title };
  }

  render() {
    const groups = new Map();
    this.sentences.forEach((s, i) => {
      const g = this.groupOf(s);
      if (!groups.has(g.id)) groups.set(g.id, { ...g, order: g.order ?? i, items: [] });
      groups.get(g.id).items.push(s);
    });
    const list = [...groups.values()].sort((a, b) => a.order - b.order);
    const body = this.el("#sentences");
    body.innerHTML = list.length
      ? list
          .map((g) => {
            const first = g.items[0];
            const template = JSON.stringify({ kind: first.kind, region_label_ids: first.region_label_ids, lesion_component: first.lesion_component, after: g.items[g.items.length - 1].local });
            return `<section class="sentence-group" data-group="${escapeHTML(g.id)}">
              <h3>${escapeHTML(g.title)}<button type="button" class="link add-to" data-add-to="${escapeHTML(template)}" title="Add a sentence to this group">+ sentence</button></h3>
              <ol>${g.items.map((s) => `<li class="sentence" data-local="${s.local}"></li>`).join("")}</ol>
            </section>`;
          })
          .join("")
      : '<p class="muted">This case has no report yet. Add the first sentence.</p>';
    this.sentences.forEach((s) => this.renderSentence(s));
    this.renderState();
  }

  renderSentence(s) {
    const li = this.root.querySelector(`[data-local="${s.local}"]`);
    if (!li) return;
    li.className = `sentence status-${s.status}${this.activeKey === s.local ? " active" : ""}`;
    li.dataset.key = s.key || "";
    const editing = this.editing === s;
    const warnings = (s.warnings || []).map((w) => (typeof w === "string" ? { message: w } : w));
    const changed = s.original_text && s.original_text !== s.text;
    const regions = this.regionNames(s.region_label_ids);
    const ed = this.editable;
    li.innerHTML = `
      <div class="sentence-head">
        <span class="status-badge">${escapeHTML(s.status)}</span>
        <span class="kind" title="${escapeHTML(KIND_LABELS[s.kind] || s.kind)}">${escapeHTML(s.kind)}</span>
        ${s.lesion_component ? `<span class="chip">lesion ${s.lesion_component}</span>` : ""}
        <span class="spacer"></span>
        ${ed && s.status !== "accepted" && s.status !== "rejected" ? `<button type="button" class="icon ok" data-action="accept" title="Accept (A)">✓</button>` : ""}
        ${ed && s.status !== "rejected" ? `<button type="button" class="icon danger" data-action="reject" title="Reject (R)">✕</button>` : ""}
        ${ed && (s.status === "rejected" || s.status === "accepted") ? `<button type="button" class="icon" data-action="restore" title="Undo the decision">↺</button>` : ""}
        ${ed && !editing ? `<button type="button" class="icon" data-action="edit" title="Edit (E)">✎</button>` : ""}
        ${ed ? `<button type="button" class="icon" data-action="regions" title="Choose the regions this sentence describes">regions</button>` : ""}
        ${ed && !s.key ? `<button type="button" class="icon" data-action="delete" title="Remove this new sentence">delete</button>` : ""}
      </div>
      ${editing
        ? `<textarea class="edit-text" rows="3" aria-label="Sentence text">${escapeHTML(s.draft ?? s.text)}</textarea>
           <div class="edit-actions"><button type="button" data-action="cancel">Cancel</button><button type="button" class="primary" data-action="done">Done</button>
           ${s.key ? "" : `<select class="kind">${Object.entries(KIND_LABELS).map(([k, v]) => `<option value="${k}" ${k === s.kind ? "selected" : ""}>${v}</option>`).join("")}</select>`}</div>`
        : `<p class="text" tabindex="0" title="Show in the viewer">${escapeHTML(s.text) || '<span class="muted">(empty)</span>'}</p>`}
      ${changed ? this.originalHTML(s) : ""}
      ${warnings.length ? `<ul class="warnings">${warnings.map((w) => `<li title="${escapeHTML(w.kind || "consistency")}">⚠ ${escapeHTML(w.message || JSON.stringify(w))}</li>`).join("")}</ul>` : ""}
      <div class="grounding" title="Click to show in the viewer">${regions.length ? regions.map((r) => `<span class="chip region">${escapeHTML(r)}</span>`).join(" ") : '<span class="muted">no region</span>'}</div>
      ${s.showRegions && ed ? this.regionPicker(s) : ""}`;
  }

  /** The model's wording beside the clinician's, and the words that changed. */
  originalHTML(s) {
    return `<div class="original" title="The model's wording, and what changed">
      <div><span class="label">Model:</span> ${escapeHTML(s.original_text)}</div>
      <div class="textdiff"><span class="label">Change:</span> ${diffHTML(s.original_text, s.text)}</div></div>`;
  }

  regionPicker(s) {
    const chosen = new Set(s.region_label_ids);
    const byCoarse = new Map();
    for (const l of this.structures) {
      const c = l.coarse_region || "other";
      if (!byCoarse.has(c)) byCoarse.set(c, []);
      byCoarse.get(c).push(l);
    }
    return `<div class="region-picker"><input type="search" class="region-filter" placeholder="Filter regions…" aria-label="Filter regions">
      <div class="region-list">${[...byCoarse.entries()]
        .map(([c, labels]) => `<fieldset><legend>${escapeHTML(c)}</legend>${labels
          .map((l) => `<label data-name="${escapeHTML(l.name.toLowerCase())}"><input type="checkbox" data-region="${l.index}" ${chosen.has(l.index) ? "checked" : ""}> ${escapeHTML(l.name)}</label>`)
          .join("")}</fieldset>`)
        .join("")}</div></div>`;
  }

  filterRegions(input) {
    const q = input.value.trim().toLowerCase();
    input.closest(".region-picker").querySelectorAll("label[data-name]").forEach((l) => {
      l.hidden = q && !l.dataset.name.includes(q);
    });
  }

  renderState() {
    const dirty = this.dirty;
    const state = this.el("#report-state");
    state.textContent = dirty ? `unsaved edits on version ${this.version}` : `version ${this.version}, saved`;
    state.dataset.dirty = String(Boolean(dirty));
    this.el("#save-report").disabled = !dirty || !this.editable;
    this.el("#add-sentence").disabled = !this.editable;
    const counts = {};
    for (const s of this.sentences) counts[s.status] = (counts[s.status] || 0) + 1;
    this.el("#report-counts").textContent = Object.entries(counts).map(([k, v]) => `${v} ${k}`).join(" · ");
    this.dispatchEvent(new CustomEvent("dirty", { detail: Boolean(dirty) }));
  }

  async put(version) {
    const comment = this.el("#report-comment").value;
    return sendJSON(`/api/cases/${this.caseId}/report`, "PUT", { sentences: this.sentences.map(toWrite), comment }, { "If-Match": `"${version}"` });
  }

  async save() {
    if (this.editing) this.finishEdit(true);
    if (!this.dirty || !this.editable) return !this.dirty;
    const empty = this.sentences.find((s) => !s.text.trim());
    if (empty) {
      toast("A sentence has no text: write it or remove it before saving.", "error");
      return false;
    }
    try {
      const { data, etag } = await this.put(this.version);
      this.stored(data, etag);
      return true;
    } catch (err) {
      if (err instanceof ApiError && err.status === 409 && err.body.code === "stale") return this.conflict();
      toast(err.message, "error");
      return false;
    }
  }

  stored(data, etag) {
    this.apply(data, versionFromETag(etag) ?? data.version);
    this.el("#report-comment").value = "";
    toast(`Saved report version ${data.version}.`, "ok");
    this.dispatchEvent(new CustomEvent("saved", { detail: { version: data.version } }));
  }

  async conflict() {
    const response = await request(`/api/cases/${this.caseId}/report`);
    const theirs = await response.json();
    const theirVersion = versionFromETag(response.headers.get("ETag")) ?? theirs.version;
    const theirByKey = new Map(theirs.sentences.map((s) => [s.key, s]));
    const rows = [];
    for (const s of this.sentences) {
      const t = s.key ? theirByKey.get(s.key) : null;
      if (!t) rows.push(`<li><span class="plus">only yours</span> ${escapeHTML(s.text)}</li>`);
      else if (t.text !== s.text || t.status !== s.status) rows.push(`<li>${diffHTML(t.text, s.text)} <span class="muted">(theirs ${escapeHTML(t.status)}, yours ${escapeHTML(s.status)})</span></li>`);
      if (t) theirByKey.delete(s.key);
    }
    for (const t of theirByKey.values()) rows.push(`<li><span class="minus">only theirs</span> ${escapeHTML(t.text)}</li>`);
    const by = theirs.author ? `${theirs.author.username} at ${when(theirs.created_at)}` : "someone else";
    const choice = await ask({
      id: "conflict-dialog",
      title: "The report was saved by someone else first",
      html: `<p>You were editing version ${this.version}; ${escapeHTML(by)} saved version ${theirVersion}.</p>
        <p>Differences between theirs and yours (<del>theirs</del> <ins>yours</ins>):</p>
        <ul class="conflict-list">${rows.join("") || '<li class="muted">The sentences are the same.</li>'}</ul>`,
      actions: [
        { label: "Decide later", value: "later" },
        { label: "Reload theirs (drop my edits)", value: "theirs", kind: "danger" },
        { label: `Keep mine as version ${theirVersion + 1}`, value: "mine", kind: "primary" },
      ],
    });
    if (choice === "theirs") {
      this.apply(theirs, theirVersion);
      toast(`Loaded report version ${theirVersion}.`, "ok");
      return false;
    }
    if (choice === "mine") {
      try {
        const { data, etag } = await this.put(theirVersion);
        this.stored(data, etag);
        return true;
      } catch (err) {
        if (err instanceof ApiError && err.status === 409 && err.body.code === "stale") return this.conflict();
        toast(err.message, "error");
      }
    }
    return false;
  }

  /** The active sentence, for keyboard shortcuts. */
  get active() {
    return this.sentences.find((s) => s.local === this.activeKey) || null;
  }
}

export async function reportVersions(caseId) {
  const page = await getJSON(`/api/cases/${caseId}/report/versions/?page_size=100`);
  return Array.isArray(page) ? page : page.results;
}
