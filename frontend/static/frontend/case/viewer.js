// The image viewer: NiiVue 0.69.0 with every modality of a case, one mask as the editable drawing,
// the other as a label overlay, and an optional diff overlay.
//
// Layers in nv.volumes: [background modality, mask overlay?, diff overlay?]. The drawing lives on
// the background's RAS grid, so only modalities on the reference grid (same shape and affine)
// become the background; another grid is shown as an overlay above the reference instead. Saving
// always writes through the reference NVImage (its header, its RAS↔native permutation).
import { NVImage, Niivue, SHOW_RENDER, SLICE_TYPE, MULTIPLANAR_TYPE, cmapper } from "../../vendor/niivue/index.js";
import { DIFF_COLORMAP, labelColormap, labelsOf } from "./labels.js";
import { toNative, toRAS } from "./geometry.js";

const GRID_ATOL_MM = 1e-3;

function sameGrid(a, b) {
  if (a.shape.join() !== b.shape.join()) return false;
  for (let r = 0; r < 4; r++) for (let c = 0; c < 4; c++) if (Math.abs(a.affine[r][c] - b.affine[r][c]) > GRID_ATOL_MM) return false;
  return true;
}

/**
 * NiiVue 0.69 recomputes a gradient texture (a blur and a Sobel pass over every slice of the
 * volume, with a synchronous framebuffer check per slice) each time the background layer is
 * refreshed. Only gradient-lit 3D rendering reads it (gradientTextureAmount > 0, which this page
 * never sets), yet on software WebGL it is a large part of the time to the first frame. While
 * layer 0 is refreshed, the pass's two shaders are replaced by a marker program, and while that
 * program is bound the pass's per-slice draws and checks are skipped.
 */
function skipUnusedGradientPass(nv) {
  const gl = nv.gl;
  if (!gl || typeof nv.refreshLayers !== "function" || !("blurShader" in nv) || !("sobelFirstOrderShader" in nv)) return;
  const compile = (type, src) => {
    const shader = gl.createShader(type);
    gl.shaderSource(shader, src);
    gl.compileShader(shader);
    return shader;
  };
  const program = gl.createProgram();
  const vertex = "#version 300 es\nvoid main() { gl_Position = vec4(0.0, 0.0, 0.0, 1.0); }";
  const fragment = "#version 300 es\nprecision highp float;\nout vec4 color;\nvoid main() { color = vec4(0.0); }";
  gl.attachShader(program, compile(gl.VERTEX_SHADER, vertex));
  gl.attachShader(program, compile(gl.FRAGMENT_SHADER, fragment));
  gl.linkProgram(program);
  const marker = { program, uniforms: {}, use: (g) => g.useProgram(program) };
  const proto = Object.getPrototypeOf(gl);
  let skipping = false;
  const patches = {
    useProgram(p) {
      skipping = p === program;
      proto.useProgram.call(gl, p);
    },
    drawArrays(...args) {
      if (!skipping) proto.drawArrays.apply(gl, args);
    },
    framebufferTextureLayer(...args) {
      if (!skipping) proto.framebufferTextureLayer.apply(gl, args);
    },
    checkFramebufferStatus(target) {
      return skipping ? gl.FRAMEBUFFER_COMPLETE : proto.checkFramebufferStatus.call(gl, target);
    },
  };
  const refreshLayers = nv.refreshLayers.bind(nv);
  nv.refreshLayers = (item, layer) => {
    if (layer !== 0 || nv.gradientTextureAmount !== 0 || nv.opts.gradientOrder === 2) return refreshLayers(item, layer);
    const saved = [nv.blurShader, nv.sobelFirstOrderShader];
    nv.blurShader = marker;
    nv.sobelFirstOrderShader = marker;
    Object.assign(gl, patches);
    try {
      return refreshLayers(item, layer);
    } finally {
      for (const name of Object.keys(patches)) delete gl[name];
      skipping = false;
      [nv.blurShader, nv.sobelFirstOrderShader] = saved;
    }
  };
}

export class Viewer extends EventTarget {
  constructor(canvas, detail, schema) {
    super();
    this.canvas = canvas;
    this.detail = detail;
    this.schema = schema;
    this.volumeInfo = new Map(detail.volumes.map((v) => [v.modality, v]));
    this.referenceModality = detail.reference_modality;
    this.modalities = detail.volumes.map((v) => v.modality);
    const order = ["T1", "T1CE", "T2", "FLAIR", "DWI", "ADC"];
    const rank = (m) => (order.includes(m) ? order.indexOf(m) : order.length);
    this.modalities.sort((a, b) => rank(a) - rank(b));
    this.images = new Map(); // modality → Promise<NVImage>
    this.background = this.referenceModality;
    this.offGrid = null; // modality shown as an overlay because it is not on the reference grid
    this.drawingKind = null;
    this.overlay = null; // { kind, image, ras }
    this.diff = null; // NVImage
    this.opacity = { lesion: 0.7, structure: 0.35 };
    this.highlightIds = null;
    this.nv = new Niivue({
      dragAndDropEnabled: false,
      backColor: [0.05, 0.06, 0.07, 1],
      crosshairColor: [0.25, 0.85, 1, 0.85],
      crosshairWidth: 1,
      show3Dcrosshair: true,
      isColorbar: false,
      isRadiologicalConvention: true,
      multiplanarShowRender: SHOW_RENDER.NEVER,
      multiplanarLayout: MULTIPLANAR_TYPE.GRID,
      isOrientationTextVisible: true,
      loadingText: "",
      logLevel: "error",
      drawingEnabled: false,
      maxDrawUndoBitmaps: 16,
      fontColor: [0.7, 0.75, 0.8, 1],
    });
    this.nv.drawOpacity = this.opacity.lesion;
  }

  info(modality) {
    return this.volumeInfo.get(modality);
  }

  onReferenceGrid(modality) {
    return sameGrid(this.info(modality), this.info(this.referenceModality));
  }

  image(modality) {
    if (!this.images.has(modality)) {
      const info = this.info(modality);
      const promise = NVImage.loadFromUrl({
        url: info.url,
        name: `${modality}.nii.gz`, // the URL has no extension; the name tells NiiVue it is gzipped NIfTI
        colormap: "gray",
        opacity: 1,
      }).then((img) => {
        img.modality = modality;
        return img;
      });
      promise.catch(() => this.images.delete(modality));
      this.images.set(modality, promise);
    }
    return this.images.get(modality);
  }

  /** WebGL context and the reference volume, in parallel; resolves once the first frame is drawn. */
  async start() {
    const marks = (this.marks = {});
    const ref = this.image(this.referenceModality);
    ref.then(
      () => (marks.volumeParsed = performance.now()),
      () => {}, // reported where it is awaited
    );
    await this.nv.attachToCanvas(this.canvas);
    skipUnusedGradientPass(this.nv);
    marks.attached = performance.now();
    this.nv.setSliceType(SLICE_TYPE.MULTIPLANAR);
    this.nv.onLocationChange = (data) => this.dispatchEvent(new CustomEvent("location", { detail: data }));
    this.reference = await ref;
    this.nv.addVolume(this.reference);
    marks.added = performance.now();
    this.nv.drawScene();
    await new Promise((resolve) => requestAnimationFrame(() => resolve()));
    marks.drawn = performance.now();
    this.canvas.addEventListener("mousemove", (e) => this.hover(e));
    this.canvas.addEventListener("mouseleave", () => this.dispatchEvent(new CustomEvent("hover", { detail: null })));
  }

  /** Fetch the other modalities in the background, one at a time (the first frame comes first). */
  async prefetch() {
    for (const m of this.modalities) {
      try {
        await this.image(m);
      } catch {
        /* shown as an error when the user asks for it */
      }
    }
  }

  get dims() {
    const d = this.reference.dimsRAS;
    return [d[1], d[2], d[3]];
  }

  layers() {
    const list = [];
    const bg = this.offGrid ? this.reference : this.backgroundImage || this.reference;
    list.push(bg);
    if (this.offGrid) list.push(this.offGridImage);
    if (this.overlay) list.push(this.overlay.image);
    if (this.diff) list.push(this.diff);
    return list;
  }

  /**
   * Put the layers in place and refresh the GPU textures that changed. NiiVue's updateGLVolume
   * re-renders every layer, the background included, which on software WebGL costs a second or
   * more for a 1 mm volume; when only overlays changed, re-render just those.
   */
  applyLayers(full = false) {
    const nv = this.nv;
    const list = this.layers();
    const backChanged = nv.back !== list[0];
    nv.volumes = list;
    nv.back = list[0];
    nv.overlays = list.slice(1);
    if (full || backChanged || list.length < 2) {
      nv.updateGLVolume();
    } else {
      for (let i = 1; i < list.length; i++) nv.refreshLayers(list[i], i);
      nv.drawScene();
    }
  }

  /** The drawing's colour table, without re-rendering the volumes (only the colour texture changes). */
  setDrawLut(cm) {
    const nv = this.nv;
    nv.drawLut = cmapper.makeDrawLut(cm);
    nv.refreshColormaps();
    nv.drawScene();
  }

  async showBackground(modality) {
    const img = await this.image(modality);
    if (this.onReferenceGrid(modality)) {
      this.backgroundImage = img;
      this.offGrid = null;
      this.offGridImage = null;
    } else {
      this.offGrid = modality;
      this.offGridImage = img;
      img.opacity = 1;
    }
    this.background = modality;
    this.applyLayers();
    this.dispatchEvent(new CustomEvent("background", { detail: modality }));
  }

  labelImage(bytes, kind) {
    return NVImage.loadFromUrl({ url: bytes.slice(0), name: `${kind}.nii.gz`, colormap: "gray" });
  }

  /**
   * The label colours of a mask. With a highlight, other structures fade (drawing) or disappear
   * (overlay: NiiVue makes overlay colours either transparent or opaque, nothing between).
   */
  colormapFor(kind) {
    const labels = labelsOf(this.schema, kind);
    const highlight = kind === "structure" ? this.highlightIds : null;
    return labelColormap(labels, { highlight, faded: kind === this.drawingKind ? 60 : 0 });
  }

  /** Make `kind` (bytes of its .nii.gz) the drawing and `other` the overlay. */
  async setMasks({ drawing, overlay }) {
    const [drawImg, overImg] = await Promise.all([
      this.labelImage(drawing.bytes, drawing.kind),
      overlay ? this.labelImage(overlay.bytes, overlay.kind) : null,
    ]);
    const nv = this.nv;
    nv.closeDrawing();
    this.drawingKind = drawing.kind;
    this.setDrawLut(this.colormapFor(drawing.kind));
    if (!nv.loadDrawing(drawImg)) throw new Error(`The ${drawing.kind} mask does not fit the reference grid.`);
    nv.drawOpacity = this.opacity[drawing.kind];
    if (overImg) {
      overImg.setColormapLabel(this.colormapFor(overlay.kind));
      overImg.opacity = this.opacity[overlay.kind];
      this.overlay = { kind: overlay.kind, image: overImg, ras: toRAS(overImg, overImg.img) };
    } else {
      this.overlay = null;
    }
    this.applyLayers();
  }

  /** Labels of a mask on the RAS grid (the drawing itself, or the overlay re-ordered). */
  labelsRAS(kind) {
    if (kind === this.drawingKind) return this.nv.drawBitmap;
    if (this.overlay && this.overlay.kind === kind) return this.overlay.ras;
    return null;
  }

  setOpacity(kind, value) {
    this.opacity[kind] = value;
    if (kind === this.drawingKind) {
      this.nv.setDrawOpacity(value);
    } else if (this.overlay && this.overlay.kind === kind) {
      this.overlay.image.opacity = value;
      this.applyLayers();
    }
  }

  /** Keep these structure labels opaque and fade the rest (null: show all). */
  highlight(ids) {
    this.highlightIds = ids && ids.length ? new Set(ids) : null;
    this.dispatchEvent(new CustomEvent("highlight", { detail: this.highlightIds ? [...this.highlightIds] : [] }));
    if (this.drawingKind === "structure") this.setDrawLut(this.colormapFor("structure"));
    if (this.overlay && this.overlay.kind === "structure") {
      this.overlay.image.setColormapLabel(this.colormapFor("structure"));
      this.applyLayers();
    }
  }

  /** Show per-voxel diff codes (RAS grid; 1 added, 2 removed, 3 relabelled) or hide with null. */
  showDiff(codesRAS) {
    if (!codesRAS) {
      this.diff = null;
      this.applyLayers();
      return;
    }
    const img = NVImage.zerosLike(this.reference, "uint8");
    // zerosLike keeps the reference's stored order: write the codes back in that order.
    img.img.set(toNative(this.reference, codesRAS));
    img.setColormapLabel({ ...DIFF_COLORMAP });
    img.opacity = 0.9;
    img.hdr.cal_min = 0;
    img.hdr.cal_max = 3;
    this.diff = img;
    this.applyLayers();
  }

  setSliceType(type) {
    const types = {
      axial: SLICE_TYPE.AXIAL,
      coronal: SLICE_TYPE.CORONAL,
      sagittal: SLICE_TYPE.SAGITTAL,
      multiplanar: SLICE_TYPE.MULTIPLANAR,
      render: SLICE_TYPE.RENDER,
    };
    this.nv.setSliceType(types[type]);
  }

  setRadiological(on) {
    this.nv.setRadiologicalConvention(on);
  }

  /** Move the crosshair to a RAS voxel of the reference grid. */
  goToVoxel(vox) {
    const nv = this.nv;
    nv.scene.crosshairPos = nv.vox2frac(vox);
    nv.createOnLocationChange();
    nv.drawScene();
  }

  crosshairVoxel() {
    return Array.from(this.nv.frac2vox(this.nv.scene.crosshairPos));
  }

  /** The stored (native) voxel index of a world point on the reference grid. */
  nativeVoxel(mm) {
    return Array.from(this.reference.mm2vox(mm)).map((v) => Math.round(v));
  }

  rasIndex([x, y, z]) {
    const [nx, ny] = this.dims;
    return x + y * nx + z * nx * ny;
  }

  labelsAt(vox) {
    const [nx, ny, nz] = this.dims;
    if (vox.some((v, i) => v < 0 || v >= [nx, ny, nz][i])) return {};
    const i = this.rasIndex(vox);
    const out = {};
    for (const kind of ["structure", "lesion"]) {
      const arr = this.labelsRAS(kind);
      if (!arr) continue;
      const v = arr[i];
      if (v) out[kind] = this.schema.labels.find((l) => l.kind === kind && l.index === v) || { index: v, name: `label ${v}` };
    }
    return out;
  }

  hover(e) {
    const nv = this.nv;
    if (!nv.back) return;
    const pos = nv.getNoPaddingNoBorderCanvasRelativeMousePosition(e, nv.gl.canvas);
    if (!pos) return;
    const frac = nv.canvasPos2frac([pos.x * nv.uiData.dpr, pos.y * nv.uiData.dpr]);
    if (frac[0] < 0) {
      this.dispatchEvent(new CustomEvent("hover", { detail: null }));
      return;
    }
    const vox = Array.from(nv.frac2vox(frac));
    this.dispatchEvent(new CustomEvent("hover", { detail: { x: e.offsetX, y: e.offsetY, vox, labels: this.labelsAt(vox) } }));
  }

  /** Canvas CSS-pixel position of a RAS voxel centre in the tile showing `sliceType` (for tests). */
  voxelToCanvas(vox, sliceType = SLICE_TYPE.AXIAL) {
    const nv = this.nv;
    const res = nv.frac2canvasPosWithTile(nv.vox2frac(vox), sliceType);
    if (!res) return null;
    return [res.pos[0] / nv.uiData.dpr, res.pos[1] / nv.uiData.dpr];
  }
}
