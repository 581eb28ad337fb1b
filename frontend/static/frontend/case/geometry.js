// Voxel bookkeeping in the browser. NiiVue's drawing is a Uint8Array over the reference volume's
// RAS-ordered grid (index = x + y*nx + z*nx*ny in dimsRAS); NVImage.img is in the stored (native)
// order. These helpers convert between the two exactly as NiiVue's own img2RAS does, so a voxel
// keeps its identity whichever way it is read.

/** Native-offset walk of the RAS grid: the same steps as NiiVue's img2RAS. */
function rasWalk(img) {
  const perm = img.permRAS;
  const dims = img.hdr.dims;
  const aperm = [Math.abs(perm[0]), Math.abs(perm[1]), Math.abs(perm[2])];
  const outdim = [dims[aperm[0]], dims[aperm[1]], dims[aperm[2]]];
  const inStep = [1, dims[1], dims[1] * dims[2]];
  const outStep = [inStep[aperm[0] - 1], inStep[aperm[1] - 1], inStep[aperm[2] - 1]];
  const outStart = [0, 0, 0];
  for (let p = 0; p < 3; p++) {
    if (perm[p] < 0) {
      outStart[p] = outStep[p] * (outdim[p] - 1);
      outStep[p] = -outStep[p];
    }
  }
  return { outdim, outStep, outStart };
}

function isIdentity(img) {
  const p = img.permRAS;
  return p[0] === 1 && p[1] === 2 && p[2] === 3;
}

/** `native` (an array in img's stored order) re-ordered to img's RAS grid. */
export function toRAS(img, native) {
  if (isIdentity(img)) return native;
  const { outdim, outStep, outStart } = rasWalk(img);
  const out = new native.constructor(native.length);
  let j = 0;
  for (let z = 0; z < outdim[2]; z++) {
    const zi = outStart[2] + z * outStep[2];
    for (let y = 0; y < outdim[1]; y++) {
      const yi = outStart[1] + y * outStep[1];
      for (let x = 0; x < outdim[0]; x++) out[j++] = native[outStart[0] + x * outStep[0] + yi + zi];
    }
  }
  return out;
}

/** The inverse of toRAS: an array on img's RAS grid back in img's stored order. */
export function toNative(img, ras) {
  if (isIdentity(img)) return ras;
  const { outdim, outStep, outStart } = rasWalk(img);
  const out = new ras.constructor(ras.length);
  let j = 0;
  for (let z = 0; z < outdim[2]; z++) {
    const zi = outStart[2] + z * outStep[2];
    for (let y = 0; y < outdim[1]; y++) {
      const yi = outStart[1] + y * outStep[1];
      for (let x = 0; x < outdim[0]; x++) out[outStart[0] + x * outStep[0] + yi + zi] = ras[j++];
    }
  }
  return out;
}

/** A fast 32-bit checksum (FNV-1a over 32-bit words) to tell whether a drawing changed. */
export function checksum(bytes) {
  let h = 0x811c9dc5 ^ bytes.length;
  const words = Math.floor(bytes.length / 4);
  const view = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteOffset % 4 === 0 ? words : 0);
  if (view.length === words) {
    for (let i = 0; i < words; i++) h = Math.imul(h ^ view[i], 0x01000193);
  } else {
    for (let i = 0; i < words * 4; i++) h = Math.imul(h ^ bytes[i], 0x01000193);
  }
  for (let i = words * 4; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], 0x01000193);
  return h >>> 0;
}

/** Per-label {added, removed} going from `before` to `after` (same grid), and the changed voxel count. */
export function labelDiff(before, after) {
  const diff = new Map();
  let changed = 0;
  const bump = (label, key) => {
    if (!diff.has(label)) diff.set(label, { added: 0, removed: 0 });
    diff.get(label)[key]++;
  };
  for (let i = 0; i < after.length; i++) {
    const a = before[i];
    const b = after[i];
    if (a === b) continue;
    changed++;
    if (a) bump(a, "removed");
    if (b) bump(b, "added");
  }
  return { diff, changed };
}

/** Diff codes per voxel: 1 added (was empty), 2 removed (now empty), 3 relabelled. */
export function diffCodes(before, after) {
  const out = new Uint8Array(after.length);
  for (let i = 0; i < after.length; i++) {
    const a = before[i];
    const b = after[i];
    if (a !== b) out[i] = a === 0 ? 1 : b === 0 ? 2 : 3;
  }
  return out;
}

/** Centroid (RAS voxel) of every label present, with counts. */
export function labelCentroids(labels, dims) {
  const [nx, ny] = dims;
  const acc = new Map();
  let i = 0;
  for (let z = 0; z < dims[2]; z++) {
    for (let y = 0; y < ny; y++) {
      for (let x = 0; x < nx; x++, i++) {
        const v = labels[i];
        if (!v) continue;
        let a = acc.get(v);
        if (!a) acc.set(v, (a = [0, 0, 0, 0]));
        a[0] += x;
        a[1] += y;
        a[2] += z;
        a[3]++;
      }
    }
  }
  const out = new Map();
  for (const [v, a] of acc) out.set(v, { centre: [a[0] / a[3], a[1] / a[3], a[2] / a[3]], count: a[3] });
  return out;
}

/** A voxel of `labels` whose value is in `wanted`, nearest to `point` (searched in growing shells). */
export function nearestVoxelIn(labels, dims, wanted, point) {
  const [nx, ny, nz] = dims;
  const p = point.map(Math.round);
  const inside = (x, y, z) => x >= 0 && y >= 0 && z >= 0 && x < nx && y < ny && z < nz;
  const maxR = Math.max(nx, ny, nz);
  for (let r = 0; r < maxR; r++) {
    for (let dz = -r; dz <= r; dz++) {
      for (let dy = -r; dy <= r; dy++) {
        for (let dx = -r; dx <= r; dx++) {
          if (Math.max(Math.abs(dx), Math.abs(dy), Math.abs(dz)) !== r) continue;
          const x = p[0] + dx;
          const y = p[1] + dy;
          const z = p[2] + dz;
          if (inside(x, y, z) && wanted.has(labels[x + y * nx + z * nx * ny])) return [x, y, z];
        }
      }
      if (r > 24) break; // far from the centroid: fall back below
    }
  }
  for (let i = 0; i < labels.length; i++) {
    if (wanted.has(labels[i])) return [i % nx, Math.floor(i / nx) % ny, Math.floor(i / (nx * ny))];
  }
  return null;
}

/** Where to put the crosshair for a set of labels: the weighted centroid, moved onto a labelled voxel. */
export function focusVoxel(labels, dims, ids) {
  const centroids = labelCentroids(labels, dims);
  const wanted = new Set(ids.filter((id) => centroids.has(id)));
  if (!wanted.size) return null;
  let sx = 0;
  let sy = 0;
  let sz = 0;
  let n = 0;
  for (const id of wanted) {
    const { centre, count } = centroids.get(id);
    sx += centre[0] * count;
    sy += centre[1] * count;
    sz += centre[2] * count;
    n += count;
  }
  return nearestVoxelIn(labels, dims, wanted, [sx / n, sy / n, sz / n]);
}

/**
 * Whole-lesion connected components (any non-zero label, 26-connectivity), numbered 1.. by
 * decreasing size as the server's report generator numbers them. Returns, per component, its
 * size and a voxel inside it closest to its centroid.
 */
export function lesionComponents(labels, dims) {
  const [nx, ny, nz] = dims;
  const plane = nx * ny;
  const seen = new Uint8Array(labels.length);
  const stack = new Int32Array(labels.length);
  const found = [];
  for (let start = 0; start < labels.length; start++) {
    if (!labels[start] || seen[start]) continue;
    let top = 0;
    stack[top++] = start;
    seen[start] = 1;
    const members = [];
    let sx = 0;
    let sy = 0;
    let sz = 0;
    while (top) {
      const i = stack[--top];
      const x = i % nx;
      const y = Math.floor(i / nx) % ny;
      const z = Math.floor(i / plane);
      members.push(i);
      sx += x;
      sy += y;
      sz += z;
      for (let dz = -1; dz <= 1; dz++) {
        const zz = z + dz;
        if (zz < 0 || zz >= nz) continue;
        for (let dy = -1; dy <= 1; dy++) {
          const yy = y + dy;
          if (yy < 0 || yy >= ny) continue;
          for (let dx = -1; dx <= 1; dx++) {
            const xx = x + dx;
            if (xx < 0 || xx >= nx) continue;
            const j = xx + yy * nx + zz * plane;
            if (labels[j] && !seen[j]) {
              seen[j] = 1;
              stack[top++] = j;
            }
          }
        }
      }
    }
    const n = members.length;
    const c = [sx / n, sy / n, sz / n];
    let best = members[0];
    let bestD = Infinity;
    for (const i of members) {
      const d = (i % nx - c[0]) ** 2 + ((Math.floor(i / nx) % ny) - c[1]) ** 2 + (Math.floor(i / plane) - c[2]) ** 2;
      if (d < bestD) {
        bestD = d;
        best = i;
      }
    }
    found.push({ size: n, first: start, voxel: [best % nx, Math.floor(best / nx) % ny, Math.floor(best / plane)] });
  }
  found.sort((a, b) => b.size - a.size || a.first - b.first);
  return found.map((c, i) => ({ component: i + 1, size: c.size, voxel: c.voxel }));
}
