// Word-level diff for sentences (the model's wording beside the clinician's), as HTML.
import { escapeHTML } from "../api.js";

function tokens(text) {
  return String(text || "").match(/\s+|[^\s]+/g) || [];
}

/** Longest-common-subsequence diff of two token lists → [{op: "=", "-", "+", text}]. */
export function diffWords(before, after) {
  const a = tokens(before);
  const b = tokens(after);
  const n = a.length;
  const m = b.length;
  const lcs = Array.from({ length: n + 1 }, () => new Uint16Array(m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
  }
  const out = [];
  const push = (op, text) => {
    const last = out[out.length - 1];
    if (last && last.op === op) last.text += text;
    else out.push({ op, text });
  };
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) {
      push("=", a[i]);
      i++;
      j++;
    } else if (lcs[i + 1][j] >= lcs[i][j + 1]) {
      push("-", a[i++]);
    } else {
      push("+", b[j++]);
    }
  }
  while (i < n) push("-", a[i++]);
  while (j < m) push("+", b[j++]);
  return out;
}

export function diffHTML(before, after) {
  return diffWords(before, after)
    .map((p) => (p.op === "=" ? escapeHTML(p.text) : p.op === "-" ? `<del>${escapeHTML(p.text)}</del>` : `<ins>${escapeHTML(p.text)}</ins>`))
    .join("");
}
