// Learning curves as inline SVG: training loss on the left axis, validation Dice (0–1) on the right,
// one point per epoch. Pure functions of the job's `result.history`, so Node can test them.

export const SERIES = [
  { key: "train_loss", label: "training loss", axis: "loss", color: "#f5b642" },
  { key: "val_lesion_dice", label: "validation lesion Dice", axis: "dice", color: "#ff6b6b" },
  { key: "val_structure_dice", label: "validation structure Dice", axis: "dice", color: "#4aa3ff" },
];

const SIZE = { width: 760, height: 280, top: 16, right: 56, bottom: 36, left: 56 };
const INSET = 14; // keeps the first and last points off the axes

function finite(value) {
  return typeof value === "number" && Number.isFinite(value);
}

/** Round tick values covering [min, max] (about `count` of them). */
export function niceTicks(min, max, count = 5) {
  if (!finite(min) || !finite(max)) return [];
  if (max === min) max = min + 1;
  const raw = (max - min) / Math.max(1, count - 1);
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw) || raw;
  const ticks = [];
  for (let v = Math.floor(min / step) * step; v <= max + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  if (ticks[ticks.length - 1] < max) ticks.push(Number((ticks[ticks.length - 1] + step).toPrecision(12)));
  return ticks;
}

/** Epochs in order, one row each (a resumed run may repeat an epoch: the last record wins). */
export function epochs(history) {
  const byEpoch = new Map();
  (Array.isArray(history) ? history : []).forEach((row, i) => {
    if (!row || typeof row !== "object") return;
    const epoch = finite(row.epoch) ? row.epoch : i + 1;
    byEpoch.set(epoch, { ...row, epoch });
  });
  return [...byEpoch.values()].sort((a, b) => a.epoch - b.epoch);
}

/** The epoch with the best mean validation Dice (what the trainer keeps as its best checkpoint). */
export function bestEpoch(rows) {
  let best = null;
  for (const row of rows) {
    const dice = [row.val_lesion_dice, row.val_structure_dice].filter(finite);
    if (!dice.length) continue;
    const mean = dice.reduce((a, b) => a + b, 0) / dice.length;
    if (best === null || mean > best.mean) best = { epoch: row.epoch, mean };
  }
  return best;
}

/** Positions of every point and line segment; nulls leave a gap in their line. */
export function layout(history, size = SIZE) {
  const rows = epochs(history);
  const { width, height, top, right, bottom, left } = size;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const first = rows.length ? rows[0].epoch : 1;
  const last = rows.length ? rows[rows.length - 1].epoch : 1;
  const [x0, x1] = first === last ? [first - 0.5, last + 0.5] : [first, last];
  const x = (epoch) => left + INSET + ((epoch - x0) / (x1 - x0)) * (plotW - 2 * INSET);

  const losses = rows.map((r) => r.train_loss).filter(finite);
  const lossMin = Math.min(0, ...losses);
  const lossTicks = niceTicks(lossMin, losses.length ? Math.max(...losses) : 1);
  const lossTop = lossTicks.length ? lossTicks[lossTicks.length - 1] : 1;
  const lossBottom = lossTicks.length ? lossTicks[0] : 0;
  const yLoss = (v) => top + plotH - ((v - lossBottom) / (lossTop - lossBottom || 1)) * plotH;
  const yDice = (v) => top + plotH - Math.max(0, Math.min(1, v)) * plotH;

  const series = SERIES.map((s) => {
    const y = s.axis === "loss" ? yLoss : yDice;
    const points = [];
    const segments = [];
    let current = [];
    for (const row of rows) {
      const value = row[s.key];
      if (!finite(value)) {
        if (current.length) segments.push(current);
        current = [];
        continue;
      }
      const point = { epoch: row.epoch, value, x: x(row.epoch), y: y(value), row };
      points.push(point);
      current.push(point);
    }
    if (current.length) segments.push(current);
    return { ...s, points, segments };
  });

  const step = Math.max(1, Math.ceil((last - first + 1) / 10));
  const epochTicks = [];
  for (let e = first; e <= last; e += step) epochTicks.push(e);
  const best = bestEpoch(rows);
  return {
    size,
    rows,
    series,
    best: best ? { ...best, x: x(best.epoch) } : null,
    xTicks: epochTicks.map((e) => ({ value: e, x: x(e) })),
    lossTicks: lossTicks.map((v) => ({ value: v, y: yLoss(v) })),
    diceTicks: [0, 0.25, 0.5, 0.75, 1].map((v) => ({ value: v, y: yDice(v) })),
  };
}

function num(v) {
  return Number(v.toFixed(1));
}

function label(v) {
  return Number(v.toPrecision(4)).toString();
}

function tooltip(row) {
  const parts = [`epoch ${row.epoch}`];
  for (const s of SERIES) if (finite(row[s.key])) parts.push(`${s.label} ${row[s.key].toFixed(4)}`);
  if (finite(row.learning_rate)) parts.push(`learning rate ${row.learning_rate.toExponential(2)}`);
  if (finite(row.seconds)) parts.push(`${row.seconds.toFixed(1)} s`);
  return parts.join(" · ");
}

/** The chart as SVG markup (numbers and fixed words only: nothing from the server is echoed as markup). */
export function curvesSVG(history, size = SIZE) {
  const L = layout(history, size);
  const { width, height, top, bottom, left, right } = L.size;
  const plotBottom = height - bottom;
  const out = [
    `<svg class="learning-curves" viewBox="0 0 ${width} ${height}" width="100%" role="img"`,
    ` aria-label="Learning curves: ${L.rows.length} epoch${L.rows.length === 1 ? "" : "s"}" xmlns="http://www.w3.org/2000/svg">`,
  ];
  for (const t of L.diceTicks) {
    out.push(`<line class="grid" x1="${left}" x2="${width - right}" y1="${num(t.y)}" y2="${num(t.y)}"/>`);
    out.push(`<text class="tick dice" x="${width - right + 6}" y="${num(t.y + 4)}">${label(t.value)}</text>`);
  }
  for (const t of L.lossTicks) {
    out.push(`<text class="tick loss" x="${left - 6}" y="${num(t.y + 4)}" text-anchor="end">${label(t.value)}</text>`);
  }
  for (const t of L.xTicks) {
    out.push(`<line class="tickmark" x1="${num(t.x)}" x2="${num(t.x)}" y1="${plotBottom}" y2="${plotBottom + 4}"/>`);
    out.push(`<text class="tick" x="${num(t.x)}" y="${plotBottom + 16}" text-anchor="middle">${t.value}</text>`);
  }
  out.push(`<line class="axis" x1="${left}" x2="${width - right}" y1="${plotBottom}" y2="${plotBottom}"/>`);
  out.push(`<line class="axis" x1="${left}" x2="${left}" y1="${top}" y2="${plotBottom}"/>`);
  out.push(`<line class="axis" x1="${width - right}" x2="${width - right}" y1="${top}" y2="${plotBottom}"/>`);
  out.push(`<text class="axis-title" x="${left + 4}" y="${plotBottom + 30}">epoch</text>`);
  out.push(`<text class="axis-title" transform="translate(14 ${top + (plotBottom - top) / 2}) rotate(-90)" text-anchor="middle">loss</text>`);
  out.push(
    `<text class="axis-title" transform="translate(${width - 10} ${top + (plotBottom - top) / 2}) rotate(90)" text-anchor="middle">validation Dice</text>`,
  );
  if (L.best && L.rows.length > 1) {
    out.push(`<line class="best" x1="${num(L.best.x)}" x2="${num(L.best.x)}" y1="${top}" y2="${plotBottom}"/>`);
    const nearRight = L.best.x > width - right - 40;
    out.push(
      `<text class="best-label" x="${num(L.best.x + (nearRight ? -4 : 4))}" y="${top + 10}"${nearRight ? ' text-anchor="end"' : ""}>best</text>`,
    );
  }
  for (const s of L.series) {
    for (const seg of s.segments) {
      if (seg.length < 2) continue;
      const d = seg.map((p, i) => `${i ? "L" : "M"}${num(p.x)} ${num(p.y)}`).join(" ");
      out.push(`<path class="line" data-series="${s.key}" d="${d}" stroke="${s.color}"/>`);
    }
    for (const p of s.points) {
      out.push(
        `<circle class="pt" data-series="${s.key}" data-epoch="${p.epoch}" cx="${num(p.x)}" cy="${num(p.y)}" r="3.5" fill="${s.color}"><title>${tooltip(p.row)}</title></circle>`,
      );
    }
  }
  if (!L.rows.length) {
    out.push(`<text class="empty" x="${width / 2}" y="${height / 2}" text-anchor="middle">No epoch has finished yet.</text>`);
  }
  out.push("</svg>");
  return out.join("");
}

export function legendHTML() {
  return `<ul class="legend curves-legend">${SERIES.map(
    (s) => `<li><span class="swatch" style="background:${s.color}"></span>${s.label} <span class="muted">(${s.axis === "loss" ? "left" : "right"} axis)</span></li>`,
  ).join("")}</ul>`;
}
