// Review: submit, approve, reject with a comment, reopen — offered by role and case state — and
// what changed since the model's draft (mask diff overlay, text diff), the review history.
import { ApiError, escapeHTML, getJSON, sendJSON, when } from "../api.js";
import { toast } from "./dialog.js";
import { diffCodes, labelDiff, toRAS } from "./geometry.js";
import { diffSummary, fetchMask, maskVersions } from "./maskeditor.js";
import { reportVersions } from "./report.js";
import { diffHTML } from "./textdiff.js";

const RANK = { viewer: 0, annotator: 1, reviewer: 2, admin: 3 };
const ACTIONS = {
  submit: { label: "Submit for review", from: ["new", "predicted", "in_progress", "rejected"], role: "annotator", kind: "primary" },
  approve: { label: "Approve", from: ["submitted"], role: "reviewer", kind: "primary" },
  reject: { label: "Reject…", from: ["submitted"], role: "reviewer", kind: "danger", comment: true },
  reopen: { label: "Reopen", from: ["approved", "rejected", "submitted"], role: "reviewer" },
};

/** The earliest version the model wrote (or the first version when none came from a model). */
function draftOf(versions) {
  const sorted = [...versions].sort((a, b) => a.version - b.version);
  return sorted.find((v) => v.source === "model") || sorted[0] || null;
}

export class ReviewPanel extends EventTarget {
  constructor({ caseId, role, root, viewer, masks, report, schema }) {
    super();
    this.caseId = caseId;
    this.role = role || "viewer";
    this.root = root;
    this.viewer = viewer;
    this.masks = masks;
    this.report = report;
    this.schema = schema;
    this.status = null;
    this.diffKind = null;
  }

  el(sel) {
    return this.root.querySelector(sel);
  }

  bind() {
    this.root.addEventListener("click", (e) => {
      const b = e.target.closest("[data-review]");
      if (b) this.act(b.dataset.review);
      const d = e.target.closest("[data-mask-diff]");
      if (d) this.toggleMaskDiff(d.dataset.maskDiff);
    });
    this.el("#text-diff-toggle").addEventListener("click", () => this.textDiff());
  }

  allowed(action) {
    const a = ACTIONS[action];
    return RANK[this.role] >= RANK[a.role];
  }

  render(status) {
    this.status = status;
    const buttons = Object.entries(ACTIONS)
      .filter(([, a]) => a.from.includes(status))
      .map(([name, a]) => {
        const ok = this.allowed(name);
        const why = ok ? "" : `Only a ${a.role} or above can ${name}; you are ${this.role === "admin" ? "an" : "a"} ${this.role}.`;
        return `<button type="button" class="${a.kind || ""}" data-review="${name}" ${ok ? "" : "disabled"} title="${escapeHTML(why)}">${escapeHTML(a.label)}</button>`;
      });
    this.el("#review-actions").innerHTML = buttons.join("") || '<span class="muted">No review action applies to this case now.</span>';
    const blocked = Object.entries(ACTIONS).find(([n, a]) => a.from.includes(status) && !this.allowed(n));
    this.el("#review-note").textContent = blocked
      ? `Approving and rejecting are for reviewers; you are ${this.role === "admin" ? "an" : "a"} ${this.role}.`
      : "";
  }

  async act(action) {
    const a = ACTIONS[action];
    const comment = this.el("#review-comment").value.trim();
    if (a.comment && !comment) {
      this.el("#review-comment").focus();
      toast("Write what needs fixing: the comment is what the annotator reads.", "error");
      return false;
    }
    if (action === "submit" && (this.masks.dirty || this.report.dirty)) {
      toast("Save your mask and report edits before submitting.", "error");
      return false;
    }
    try {
      const { data } = await sendJSON(`/api/cases/${this.caseId}/review`, "POST", { action, comment });
      this.el("#review-comment").value = "";
      toast(`Case ${data.to_status.replace("_", " ")}.`, "ok");
      this.dispatchEvent(new CustomEvent("changed", { detail: data }));
      this.history();
      return true;
    } catch (err) {
      const text = err instanceof ApiError ? err.message : String(err);
      this.el("#review-error").textContent = text;
      toast(text, "error");
      return false;
    }
  }

  async history() {
    const list = this.el("#review-history");
    try {
      const reviews = await getJSON(`/api/cases/${this.caseId}/reviews/`);
      list.innerHTML = reviews.length
        ? reviews
            .slice()
            .reverse()
            .map(
              (r) => `<li><strong>${escapeHTML(r.action)}</strong> by ${escapeHTML(r.author ? r.author.username : "—")}
            <span class="muted">${when(r.created_at)} · ${escapeHTML(r.from_status.replace("_", " "))} → ${escapeHTML(r.to_status.replace("_", " "))}</span>
            ${r.comment ? `<blockquote>${escapeHTML(r.comment)}</blockquote>` : ""}</li>`,
            )
            .join("")
        : '<li class="muted">No review yet.</li>';
    } catch (err) {
      list.innerHTML = `<li class="error">${escapeHTML(err.message)}</li>`;
    }
  }

  /** Overlay where the current mask differs from the model's draft (toggle). */
  async toggleMaskDiff(kind) {
    const out = this.el("#mask-diff-summary");
    if (this.diffKind === kind) {
      this.diffKind = null;
      this.viewer.showDiff(null);
      out.innerHTML = "";
      this.markDiffButtons();
      return;
    }
    const current = this.viewer.labelsRAS(kind);
    const draft = draftOf(await maskVersions(this.caseId, kind));
    if (!draft || !current) {
      out.innerHTML = `<p class="muted">No ${kind} draft to compare with.</p>`;
      return;
    }
    const mask = await fetchMask(this.caseId, kind, draft.version);
    const img = await this.viewer.labelImage(mask.bytes, kind);
    const before = toRAS(img, img.img);
    const { diff, changed } = labelDiff(before, current);
    this.viewer.showDiff(diffCodes(before, current));
    this.diffKind = kind;
    out.innerHTML = `<p>${escapeHTML(kind)} mask vs ${escapeHTML(draft.source)} draft (v${draft.version}): ${changed} voxel${changed === 1 ? "" : "s"} changed — ${diffSummary(this.schema, kind, diff)}</p>
      <p class="legend"><span class="swatch added"></span> added <span class="swatch removed"></span> removed <span class="swatch relabelled"></span> relabelled</p>`;
    this.markDiffButtons();
  }

  markDiffButtons() {
    this.root.querySelectorAll("[data-mask-diff]").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.maskDiff === this.diffKind)));
  }

  /** Sentence-by-sentence changes from the model's draft to the current report. */
  async textDiff() {
    const out = this.el("#text-diff");
    if (!out.hidden) {
      out.hidden = true;
      return;
    }
    const draft = draftOf(await reportVersions(this.caseId));
    if (!draft) {
      out.innerHTML = '<p class="muted">No report draft yet.</p>';
      out.hidden = false;
      return;
    }
    const before = await getJSON(`/api/cases/${this.caseId}/report?version=${draft.version}`);
    const old = new Map(before.sentences.map((s) => [s.key, s]));
    const rows = [];
    let untouched = 0;
    for (const s of this.report.sentences) {
      const o = s.key ? old.get(s.key) : null;
      if (o) old.delete(s.key);
      if (!o) rows.push(`<li class="added"><span class="tag">added</span> <ins>${escapeHTML(s.text)}</ins></li>`);
      else if (s.status === "rejected") rows.push(`<li class="rejected"><span class="tag">rejected</span> <del>${escapeHTML(o.text)}</del></li>`);
      else if (o.text !== s.text) rows.push(`<li class="edited"><span class="tag">edited</span> ${diffHTML(o.text, s.text)}</li>`);
      else if (s.status === "accepted") rows.push(`<li class="accepted"><span class="tag">accepted</span> ${escapeHTML(s.text)}</li>`);
      else untouched++;
    }
    for (const o of old.values()) rows.push(`<li class="rejected"><span class="tag">removed</span> <del>${escapeHTML(o.text)}</del></li>`);
    out.innerHTML = `<p class="muted">Against the ${escapeHTML(draft.source)} draft, version ${draft.version}.</p>
      <ol class="textdiff-list">${rows.join("") || '<li class="muted">No sentence was changed, added, accepted or rejected.</li>'}</ol>
      ${untouched ? `<p class="muted">${untouched} sentence${untouched === 1 ? "" : "s"} as the draft wrote ${untouched === 1 ? "it" : "them"}, not yet decided.</p>` : ""}`;
    out.hidden = false;
  }
}
