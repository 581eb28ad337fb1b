// A model version's metrics as tables. The contract (ModelVersion.metrics) is loose on purpose:
// flat floats (val_score, val_lesion_dice, …), optional `per_label` {lesion|structure: {index:
// {dice, precision, sensitivity, …}}} and optional `report` {bleu1…, rouge1, rougeL, …}. Any key
// may be missing; unknown keys are shown after the known ones rather than hidden.
import { escapeHTML } from "../api.js";
import { fmt, isNumber } from "./common.js";

export const FLAT_NAMES = {
  val_score: "validation score",
  val_lesion_dice: "validation lesion Dice",
  val_structure_dice: "validation structure Dice",
  val_lesion_precision: "validation lesion precision",
  val_lesion_sensitivity: "validation lesion sensitivity",
  val_lesion_hd95: "validation lesion HD95 (mm)",
  val_structure_hd95: "validation structure HD95 (mm)",
  train_loss: "final training loss",
};

export const REPORT_NAMES = {
  bleu1: "BLEU-1",
  bleu2: "BLEU-2",
  bleu3: "BLEU-3",
  bleu4: "BLEU-4",
  rouge1: "ROUGE-1",
  rougeL: "ROUGE-L",
  embedding_similarity: "embedding similarity",
  entity_f1: "clinical-entity F1",
  entity_precision: "clinical-entity precision",
  entity_recall: "clinical-entity recall",
  ratescore: "RaTEScore",
};

const LABEL_COLUMNS = ["dice", "precision", "sensitivity", "hd95"];
const COLUMN_NAMES = { dice: "Dice", precision: "precision", sensitivity: "sensitivity", hd95: "HD95 (mm)" };
// Lower is better for distances and losses; a delta's colour must say "better", not "bigger".
const LOWER_IS_BETTER = /hd95|loss|distance/i;

function ordered(keys, known) {
  const names = Object.keys(known);
  return [...names.filter((k) => keys.includes(k)), ...keys.filter((k) => !names.includes(k)).sort()];
}

function isObject(value) {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** The numeric top-level metrics, known names first. */
export function flatMetrics(metrics) {
  const m = isObject(metrics) ? metrics : {};
  const keys = Object.keys(m).filter((k) => isNumber(m[k]));
  return ordered(keys, FLAT_NAMES).map((key) => ({ key, name: FLAT_NAMES[key] || key.replaceAll("_", " "), value: m[key] }));
}

export function delta(value, reference, key = "") {
  if (!isNumber(value) || !isNumber(reference)) return "";
  const d = value - reference;
  if (Math.abs(d) < 1e-12) return '<span class="delta muted">±0</span>';
  const better = LOWER_IS_BETTER.test(key) ? d < 0 : d > 0;
  return `<span class="delta ${better ? "plus" : "minus"}">${d > 0 ? "+" : "−"}${fmt(Math.abs(d))}</span>`;
}

function compareHead(champion) {
  return champion ? "<th class=\"num\">Champion</th><th class=\"num\">Δ</th>" : "";
}

function compareCells(value, reference, key, champion) {
  return champion ? `<td class="num">${fmt(reference)}</td><td class="num">${delta(value, reference, key)}</td>` : "";
}

/** Top-level metrics, with the champion's value and the difference when comparing. */
export function flatTable(metrics, championMetrics = null) {
  const rows = flatMetrics(metrics);
  if (!rows.length) return '<p class="muted">No summary metrics were recorded for this version.</p>';
  const champ = isObject(championMetrics) ? championMetrics : null;
  return `<table class="list compact metrics"><thead><tr><th>Metric</th><th class="num">Value</th>${compareHead(champ)}</tr></thead><tbody>${rows
    .map(
      (r) =>
        `<tr data-metric="${escapeHTML(r.key)}"><td>${escapeHTML(r.name)}</td><td class="num">${fmt(r.value)}</td>${compareCells(r.value, champ ? champ[r.key] : null, r.key, champ)}</tr>`,
    )
    .join("")}</tbody></table>`;
}

/** Report-generation metrics (BLEU, ROUGE, embedding similarity, entity F1). */
export function reportTable(report, championReport = null) {
  const r = isObject(report) ? report : {};
  const keys = ordered(Object.keys(r).filter((k) => isNumber(r[k])), REPORT_NAMES);
  if (!keys.length) return '<p class="muted">No report metrics were recorded for this version.</p>';
  const champ = isObject(championReport) ? championReport : null;
  return `<table class="list compact metrics report-metrics"><thead><tr><th>Metric</th><th class="num">Value</th>${compareHead(champ)}</tr></thead><tbody>${keys
    .map(
      (k) =>
        `<tr data-metric="${escapeHTML(k)}"><td>${escapeHTML(REPORT_NAMES[k] || k)}</td><td class="num">${fmt(r[k])}</td>${compareCells(r[k], champ ? champ[k] : null, k, champ)}</tr>`,
    )
    .join("")}</tbody></table>`;
}

/**
 * Per-label scores of one mask kind, named and coloured from the label schema. `labels` are the
 * schema's labels of that kind; an index the schema does not know is shown as "label N".
 */
export function perLabelTable(perLabel, labels, championPerLabel = null) {
  const scores = isObject(perLabel) ? perLabel : {};
  const indices = Object.keys(scores)
    .filter((k) => isObject(scores[k]))
    .sort((a, b) => Number(a) - Number(b));
  if (!indices.length) return '<p class="muted">No per-label scores were recorded.</p>';
  const byIndex = new Map((labels || []).map((l) => [String(l.index), l]));
  const present = new Set(indices.flatMap((i) => Object.keys(scores[i]).filter((k) => isNumber(scores[i][k]))));
  const columns = [...LABEL_COLUMNS.filter((c) => present.has(c)), ...[...present].filter((c) => !LABEL_COLUMNS.includes(c)).sort()];
  const champ = isObject(championPerLabel) ? championPerLabel : null;
  const head = columns.map((c) => `<th class="num">${escapeHTML(COLUMN_NAMES[c] || c)}</th>`).join("");
  const body = indices
    .map((i) => {
      const label = byIndex.get(i);
      const name = label
        ? `<span class="swatch" style="background:${/^#[0-9a-f]{6}$/i.test(label.color) ? label.color : "#808080"}"></span> ${escapeHTML(label.name)}`
        : `<span class="swatch"></span> label ${escapeHTML(i)}`;
      const cells = columns.map((c) => `<td class="num">${fmt(scores[i][c])}</td>`).join("");
      const ref = champ && isObject(champ[i]) ? champ[i].dice : null;
      const cmp = champ ? `<td class="num">${delta(scores[i].dice, ref, "dice")}</td>` : "";
      return `<tr data-label="${escapeHTML(i)}"><td class="label-name">${name}</td>${cells}${cmp}</tr>`;
    })
    .join("");
  return `<table class="list compact metrics per-label"><thead><tr><th>Label</th>${head}${champ ? '<th class="num" title="Dice difference to the champion">Δ Dice</th>' : ""}</tr></thead><tbody>${body}</tbody></table>`;
}
