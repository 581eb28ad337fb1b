// Label colour tables for NiiVue, built from the project's label schema (names and colours).

export function hexToRGB(hex) {
  const m = /^#?([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex || "");
  return m ? [parseInt(m[1], 16), parseInt(m[2], 16), parseInt(m[3], 16)] : [200, 200, 200];
}

/** Labels of one kind, by index. */
export function labelsOf(schema, kind) {
  return schema.labels.filter((l) => l.kind === kind).sort((a, b) => a.index - b.index);
}

/**
 * A dense colour table 0..max (NiiVue's drawing LUT starts at 0), 0 transparent, with names.
 * `highlight` (a Set of indices) keeps those opaque and fades the others.
 */
export function labelColormap(labels, { highlight = null, faded = 48 } = {}) {
  const max = labels.reduce((m, l) => Math.max(m, l.index), 0);
  const R = new Array(max + 1).fill(0);
  const G = new Array(max + 1).fill(0);
  const B = new Array(max + 1).fill(0);
  const A = new Array(max + 1).fill(0);
  const names = new Array(max + 1).fill("");
  for (const label of labels) {
    const [r, g, b] = hexToRGB(label.color);
    R[label.index] = r;
    G[label.index] = g;
    B[label.index] = b;
    A[label.index] = highlight && highlight.size && !highlight.has(label.index) ? faded : 255;
    names[label.index] = label.name;
  }
  A[0] = 0;
  const I = R.map((_, i) => i);
  return { R, G, B, A, I, labels: names };
}

/** Colours of the diff overlay: added, removed, relabelled. */
export const DIFF_COLORMAP = {
  R: [0, 40, 255, 255],
  G: [0, 220, 60, 210],
  B: [0, 90, 200, 0],
  A: [0, 255, 255, 255],
  I: [0, 1, 2, 3],
  labels: ["", "added", "removed", "relabelled"],
};
