// Mask correction: which mask and label to paint, pen / eraser / filled outline, pen size, undo,
// save with If-Match, the conflict dialog, the unsaved-edits state and the version history.
//
// What is painted is NiiVue's drawing (RAS order over the reference grid). Saving writes it through
// the reference NVImage, which puts the voxels back in the stored order under the reference header,
// so the server receives the mask on exactly the grid it served.
import { ApiError, escapeHTML, getJSON, request, versionFromETag, when } from "../api.js";
import { ask, toast } from "./dialog.js";
import { checksum, labelDiff, diffCodes, toRAS } from "./geometry.js";
import { hexToRGB, labelsOf } from "./labels.js";

export const KINDS = ["lesion", "structure"];

export async function fetchMask(caseId, kind, version = null) {
  const url = `/api/cases/${caseId}/masks/${kind}${version ? `?version=${version}` : ""}`;
  const response = await request(url, { headers: { Accept: "*/*" } });
  const bytes = await response.arrayBuffer();
  return { kind, bytes, version: versionFromETag(response.headers.get("ETag")) ?? 0 };
}

export async function maskVersions(caseId, kind) {
  const page = await getJSON(`/api/cases/${caseId}/masks/${kind}/versions/?page_size=100`);
  return Array.isArray(page) ? page : page.results;
}

function labelName(schema, kind, index) {
  const label = schema.labels.find((l) => l.kind === kind && l.index === Number(index));
  return label ? label.name : `label ${index}`;
}

/** "+120 edema, −30 necrosis" from {label: {added, removed}} (API) or a Map (browser). */
export function diffSummary(schema, kind, diff) {
  const entries = diff instanceof Map ? [...diff.entries()] : Object.entries(diff || {});
  const parts = [];
  for (const [label, d] of entries.sort((a, b) => Number(a[0]) - Number(b[0]))) {
    const name = labelName(schema, kind, label);
    if (d.added) parts.push(`<span class="plus">+${d.added}</span> ${escapeHTML(name)}`);
    if (d.removed) parts.push(`<span class="minus">−${d.removed}</span> ${escapeHTML(name)}`);
  }
  return parts.length ? parts.join(", ") : '<span class="muted">no voxel changed</span>';
}

export class MaskEditor extends EventTarget {
  constructor({ viewer, caseId, schema, root }) {
    super();
    this.viewer = viewer;
    this.nv = viewer.nv;
    this.caseId = caseId;
    this.schema = schema;
    this.root = root;
    this.masks = {};
    this.kind = "lesion";
    this.label = { lesion: labelsOf(schema, "lesion")[0]?.index ?? 1, structure: labelsOf(schema, "structure")[0]?.index ?? 1 };
    this.tool = "navigate";
    this.penSize = 1;
    this.savedSum = null;
    this.undoDepth = 0;
    this.editable = false;
    this.saving = false;
  }

  el(sel) {
    return this.root.querySelector(sel);
  }

  async load() {
    const [lesion, structure] = await Promise.all(KINDS.map((k) => fetchMask(this.caseId, k)));
    this.masks = { lesion, structure };
    await this.showKind(this.kind);
    this.bind();
    this.renderPalette();
    this.history();
  }

  async showKind(kind) {
    const other = kind === "lesion" ? "structure" : "lesion";
    await this.viewer.setMasks({ drawing: this.masks[kind], overlay: this.masks[other] });
    this.kind = kind;
    this.savedSum = checksum(this.nv.drawBitmap);
    this.undoDepth = 0;
    this.applyTool();
    this.renderState();
  }

  /** A stroke (or a loaded version) was recorded in NiiVue's undo ring. */
  recorded() {
    // The ring holds maxDrawUndoBitmaps states, the current one included.
    this.undoDepth = Math.min(this.undoDepth + 1, this.nv.opts.maxDrawUndoBitmaps - 1);
  }

  bind() {
    const root = this.root;
    root.querySelectorAll("input[name=mask-kind]").forEach((r) => r.addEventListener("change", () => this.switchKind(r.value)));
    root.querySelectorAll("[data-tool]").forEach((b) => b.addEventListener("click", () => this.setTool(b.dataset.tool)));
    this.el("#pen-size").addEventListener("input", (e) => this.setPenSize(Number(e.target.value)));
    this.el("#undo").addEventListener("click", () => this.undo());
    this.el("#save-mask").addEventListener("click", () => this.save());
    this.el("#label-filter").addEventListener("input", () => this.renderPalette());
    this.el("#labels").addEventListener("click", (e) => {
      const item = e.target.closest("[data-label]");
      if (item) this.setLabel(Number(item.dataset.label));
    });
    this.el("#mask-history").addEventListener("click", (e) => {
      const open = e.target.closest("[data-open-version]");
      if (open) this.openVersion(Number(open.dataset.openVersion));
    });
    const canvas = this.viewer.canvas;
    // NiiVue 0.69's pen paints each segment from the previous point up to, but not including, the
    // newest one, so the voxel under the pointer when the button is released would stay unpainted.
    // Paint it before NiiVue's own mouseup handler records the stroke for undo.
    canvas.addEventListener(
      "mouseup",
      () => {
        const nv = this.nv;
        const at = nv.drawPenLocation;
        if (nv.opts.drawingEnabled && nv.opts.penType === 0 && !nv.opts.isFilledPen && at && Number.isFinite(at[0])) {
          nv.drawPt(at[0], at[1], at[2], nv.opts.penValue);
          nv.refreshDrawing(true);
        }
      },
      { capture: true },
    );
    const later = () => setTimeout(() => this.renderState(), 0);
    canvas.addEventListener("pointerup", later);
    canvas.addEventListener("mouseup", later);
    this.nv.onDrawingChanged = (action) => {
      if (action === "draw") this.recorded();
      later();
    };
  }

  setEditable(editable, reason = "") {
    this.editable = editable;
    this.root.classList.toggle("read-only", !editable);
    this.el("#edit-reason").textContent = editable ? "" : reason;
    if (!editable) this.setTool("navigate");
    this.renderState();
  }

  get dirty() {
    return this.nv.drawBitmap ? checksum(this.nv.drawBitmap) !== this.savedSum : false;
  }

  setTool(tool) {
    if (tool !== "navigate" && !this.editable) return;
    this.tool = tool;
    this.applyTool();
    this.root.querySelectorAll("[data-tool]").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.tool === tool)));
    this.dispatchEvent(new CustomEvent("tool", { detail: tool }));
  }

  applyTool() {
    const nv = this.nv;
    const drawing = this.tool !== "navigate";
    nv.opts.penSize = this.penSize;
    if (drawing) {
      nv.setPenValue(this.tool === "eraser" ? 0 : this.label[this.kind], this.tool === "fill");
    }
    nv.setDrawingEnabled(drawing);
  }

  setLabel(index) {
    this.label[this.kind] = index;
    if (this.tool === "navigate" || this.tool === "eraser") this.setTool(this.editable ? "pen" : "navigate");
    this.applyTool();
    this.renderPalette();
  }

  setPenSize(n) {
    this.penSize = Math.max(1, Math.min(25, n));
    this.el("#pen-size").value = String(this.penSize);
    this.el("#pen-size-value").textContent = String(this.penSize);
    this.applyTool();
  }

  /** Step back one stroke. NiiVue's undo is a ring that wraps to the newest state (or throws on an
   * empty slot) when asked for more than it holds, so count what it holds and stop there. */
  undo() {
    if (!this.undoDepth) {
      toast("Nothing to undo.");
      return;
    }
    try {
      this.nv.drawUndo();
      this.undoDepth--;
    } catch {
      this.undoDepth = 0;
    }
    this.renderState();
  }

  async switchKind(kind) {
    if (kind === this.kind) return;
    if (this.dirty) {
      const choice = await ask({
        title: `Unsaved ${this.kind} edits`,
        html: `<p>You changed the ${this.kind} mask. Save before switching to the ${kind} mask?</p>`,
        actions: [
          { label: "Cancel", value: "cancel" },
          { label: "Discard my edits", value: "discard", kind: "danger" },
          { label: "Save", value: "save", kind: "primary" },
        ],
      });
      if (choice === "save") {
        await this.save();
        if (this.dirty) return this.renderState(true);
      } else if (choice !== "discard") {
        return this.renderState(true);
      }
    }
    await this.showKind(kind);
    this.renderPalette();
    this.history();
    this.dispatchEvent(new CustomEvent("kind", { detail: kind }));
  }

  renderState(resetRadios = false) {
    const dirty = this.dirty;
    const mask = this.masks[this.kind];
    this.root.querySelectorAll("input[name=mask-kind]").forEach((r) => {
      if (resetRadios || r.checked !== (r.value === this.kind)) r.checked = r.value === this.kind;
    });
    const state = this.el("#mask-state");
    state.textContent = dirty ? `unsaved edits on version ${mask.version}` : `version ${mask.version}${mask.version ? "" : " (empty)"}, saved`;
    state.dataset.dirty = String(dirty);
    this.el("#save-mask").disabled = !dirty || !this.editable || this.saving;
    this.el("#undo").disabled = !this.undoDepth || !this.editable;
    this.dispatchEvent(new CustomEvent("dirty", { detail: dirty }));
  }

  renderPalette() {
    const filter = this.el("#label-filter");
    const q = filter.value.trim().toLowerCase();
    filter.hidden = this.kind !== "structure";
    const labels = labelsOf(this.schema, this.kind).filter((l) => !q || l.name.toLowerCase().includes(q) || String(l.index) === q);
    const current = this.label[this.kind];
    this.el("#labels").innerHTML = labels
      .map((l, i) => {
        const [r, g, b] = hexToRGB(l.color);
        const key = i < 9 && !q ? `<kbd>${i + 1}</kbd>` : "";
        return `<li data-label="${l.index}" class="${l.index === current ? "selected" : ""}" title="${escapeHTML(l.coarse_region || "")}">
          <span class="swatch" style="background: rgb(${r},${g},${b})"></span><span class="name">${escapeHTML(l.name)}</span>${key}</li>`;
      })
      .join("");
    this.el("#current-label").textContent = labelName(this.schema, this.kind, current);
  }

  /** Select the n-th label of the palette (keyboard 1–9). */
  pickNth(n) {
    const items = [...this.el("#labels").querySelectorAll("[data-label]")];
    if (items[n]) this.setLabel(Number(items[n].dataset.label));
  }

  async upload(version) {
    const bytes = await this.viewer.reference.saveToUint8Array(`${this.kind}.nii.gz`, this.nv.drawBitmap);
    const response = await request(`/api/cases/${this.caseId}/masks/${this.kind}`, {
      method: "PUT",
      body: bytes,
      headers: { "Content-Type": "application/gzip", "If-Match": `"${version}"` },
    });
    return { result: await response.json(), bytes: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) };
  }

  /** Save the drawing as a new version; true when it was stored. */
  async save() {
    if (!this.editable || this.saving || !this.dirty) return !this.dirty;
    this.saving = true;
    this.renderState();
    const kind = this.kind;
    const sumAtSave = checksum(this.nv.drawBitmap);
    try {
      const { result, bytes } = await this.upload(this.masks[kind].version);
      this.stored(kind, result, bytes, sumAtSave);
      return true;
    } catch (err) {
      if (err instanceof ApiError && err.status === 409 && err.body.code === "stale") {
        return await this.conflict(err.body.current_version);
      }
      toast(err.message, "error");
      return false;
    } finally {
      this.saving = false;
      this.renderState();
    }
  }

  stored(kind, result, bytes, sum) {
    this.masks[kind] = { kind, bytes, version: result.version };
    this.savedSum = sum;
    const what = result.created ? diffSummary(this.schema, kind, result.diff).replace(/<[^>]+>/g, "") : "no change";
    toast(`Saved ${kind} mask version ${result.version}: ${what}.`, "ok");
    this.history();
    this.dispatchEvent(new CustomEvent("saved", { detail: { kind, version: result.version } }));
  }

  /** Someone saved first: show what they and you changed, then reload theirs or keep yours on top. */
  async conflict(currentVersion) {
    const kind = this.kind;
    const base = this.masks[kind];
    const [theirs, versions] = await Promise.all([fetchMask(this.caseId, kind), maskVersions(this.caseId, kind)]);
    const [theirsImg, baseImg] = await Promise.all([this.viewer.labelImage(theirs.bytes, kind), this.viewer.labelImage(base.bytes, kind)]);
    const theirsRAS = toRAS(theirsImg, theirsImg.img);
    const mine = this.nv.drawBitmap;
    const theirChange = labelDiff(toRAS(baseImg, baseImg.img), theirsRAS);
    const myChange = labelDiff(theirsRAS, mine);
    const who = versions.find((v) => v.version === theirs.version);
    const by = who ? `${who.author ? who.author.username : who.source} at ${when(who.created_at)}` : "someone else";
    this.viewer.showDiff(diffCodes(theirsRAS, mine));
    const choice = await ask({
      id: "conflict-dialog",
      title: `The ${kind} mask was saved by someone else first`,
      html: `<p>You were editing version ${base.version}; ${escapeHTML(by)} saved version ${theirs.version}.</p>
        <table class="list compact">
          <tr><th>Their changes (v${base.version} → v${theirs.version})</th><td>${diffSummary(this.schema, kind, theirChange.diff)}</td></tr>
          <tr><th>Yours compared with theirs</th><td>${diffSummary(this.schema, kind, myChange.diff)}</td></tr>
        </table>
        <p class="muted">The viewer shows where your mask differs from theirs: <span class="plus">green</span> you add,
        <span class="minus">magenta</span> you remove, <span class="warn">yellow</span> you relabel.</p>`,
      actions: [
        { label: "Decide later", value: "later" },
        { label: "Reload theirs (drop my edits)", value: "theirs", kind: "danger" },
        { label: `Keep mine as version ${theirs.version + 1}`, value: "mine", kind: "primary" },
      ],
    });
    this.viewer.showDiff(null);
    if (choice === "theirs") {
      this.masks[kind] = theirs;
      await this.showKind(kind);
      this.history();
      toast(`Loaded version ${theirs.version} of the ${kind} mask.`, "ok");
      return false;
    }
    if (choice === "mine") {
      const sum = checksum(this.nv.drawBitmap);
      try {
        const { result, bytes } = await this.upload(theirs.version);
        this.stored(kind, result, bytes, sum);
        return true;
      } catch (err) {
        if (err instanceof ApiError && err.status === 409 && err.body.code === "stale") return this.conflict(err.body.current_version);
        toast(err.message, "error");
      }
    }
    return false;
  }

  async history() {
    const list = this.el("#mask-history");
    const kind = this.kind;
    try {
      const versions = await maskVersions(this.caseId, kind);
      if (kind !== this.kind) return;
      list.innerHTML = versions.length
        ? versions
            .map(
              (v) => `<li data-version="${v.version}">
            <div><strong>v${v.version}</strong> <span class="source source-${escapeHTML(v.source)}">${escapeHTML(v.source)}</span>
              ${v.author ? escapeHTML(v.author.username) : ""} <span class="muted">${when(v.created_at)}</span>
              <button type="button" class="link" data-open-version="${v.version}" title="Load this version into the editor (save to make it current)">open</button></div>
            <div class="diff">${v.parent_version === null ? `<span class="muted">first version</span>` : diffSummary(this.schema, kind, v.diff)}</div>
          </li>`,
            )
            .join("")
        : '<li class="muted">No saved version yet.</li>';
    } catch (err) {
      list.innerHTML = `<li class="error">${escapeHTML(err.message)}</li>`;
    }
  }

  /** Load an older version into the editor as unsaved edits on top of the current one. */
  async openVersion(version) {
    if (this.dirty) {
      const ok = await ask({
        title: "Replace your unsaved edits?",
        html: `<p>Opening version ${version} replaces what you painted since the last save.</p>`,
        actions: [{ label: "Cancel", value: "no" }, { label: `Open version ${version}`, value: "yes", kind: "danger" }],
      });
      if (ok !== "yes") return;
    }
    const old = await fetchMask(this.caseId, this.kind, version);
    const img = await this.viewer.labelImage(old.bytes, this.kind);
    this.nv.drawBitmap.set(toRAS(img, img.img));
    this.nv.drawAddUndoBitmap();
    this.recorded();
    this.nv.refreshDrawing(true);
    this.renderState();
    toast(`Version ${version} is loaded; save to make it the current version.`);
  }
}
