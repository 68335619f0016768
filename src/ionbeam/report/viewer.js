// ionbeam dose viewer: CT planes with a dose/LET wash, isodose lines, structure
// contours, a read-out under the cursor and an interactive DVH. Self-contained:
// the data are the JSON in the page's application/json script element named by the
// container's data-source attribute (volumes as zlib-compressed, byte-shuffled uint8/uint16 arrays in base64,
// indexed [x][y][z] in patient LPS like the numpy arrays they come from).
// No network, no library: DecompressionStream and canvas are built into browsers.
"use strict";
(function () {
  const VIEWS = [
    // name, normal axis, horizontal axis, vertical axis, vertical downwards, letters L R T B
    { name: "axial", n: 2, h: 0, v: 1, down: true, letters: ["R", "L", "A", "P"] },
    { name: "coronal", n: 1, h: 0, v: 2, down: false, letters: ["R", "L", "S", "I"] },
    { name: "sagittal", n: 0, h: 1, v: 2, down: false, letters: ["A", "P", "S", "I"] },
  ];
  const AXES = "xyz";
  const CANVAS_PX = 360; // longest side of a plane on screen, CSS pixels

  async function inflate(b64, bytesPerValue) {
    const raw = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const stream = new Blob([raw]).stream().pipeThrough(new DecompressionStream("deflate"));
    const bytes = new Uint8Array(await new Response(stream).arrayBuffer());
    if (bytesPerValue === 1) return bytes;
    const n = bytes.length / 2, out = new Uint16Array(n); // stored high bytes, then low bytes
    for (let i = 0; i < n; i++) out[i] = (bytes[i] << 8) | bytes[n + i];
    return out;
  }

  function lut(b64) {
    const raw = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    return raw; // 256 × RGB
  }

  class Volume {
    constructor(grid, values, scale) {
      this.shape = grid.shape; this.spacing = grid.spacing_mm; this.origin = grid.origin_mm;
      this.values = values; this.scale = scale;
    }
    at(i, j, k) { const [, ny, nz] = this.shape; return this.values[(i * ny + j) * nz + k] * this.scale; }
    // trilinear interpolation at a point (mm); 0 outside the grid
    sample(p) {
      const f = [0, 1, 2].map((a) => (p[a] - this.origin[a]) / this.spacing[a]);
      const lo = [], w = [];
      for (let a = 0; a < 3; a++) {
        const n = this.shape[a];
        if (f[a] < -0.5 || f[a] > n - 0.5) return 0;
        const c = Math.min(Math.max(f[a], 0), n - 1);
        const l = Math.min(Math.floor(c), Math.max(n - 2, 0));
        lo.push(l); w.push(n > 1 ? c - l : 0);
      }
      let s = 0;
      for (let di = 0; di < 2; di++) for (let dj = 0; dj < 2; dj++) for (let dk = 0; dk < 2; dk++) {
        const wt = (di ? w[0] : 1 - w[0]) * (dj ? w[1] : 1 - w[1]) * (dk ? w[2] : 1 - w[2]);
        if (wt === 0) continue;
        s += wt * this.at(Math.min(lo[0] + di, this.shape[0] - 1),
          Math.min(lo[1] + dj, this.shape[1] - 1), Math.min(lo[2] + dk, this.shape[2] - 1));
      }
      return s;
    }
  }

  // Marching squares: line segments where `values` (nh × nv, index h*nv+v) cross `level`,
  // in index coordinates.
  function isolines(values, nh, nv, level) {
    const segs = [];
    const edge = (a, b, ha, va, hb, vb) => {
      const t = (level - a) / (b - a);
      return [ha + t * (hb - ha), va + t * (vb - va)];
    };
    for (let h = 0; h < nh - 1; h++) for (let v = 0; v < nv - 1; v++) {
      const a = values[h * nv + v], b = values[(h + 1) * nv + v];
      const c = values[(h + 1) * nv + v + 1], d = values[h * nv + v + 1];
      const code = (a >= level) | ((b >= level) << 1) | ((c >= level) << 2) | ((d >= level) << 3);
      if (code === 0 || code === 15) continue;
      const pts = [];
      if ((code & 1) !== ((code >> 1) & 1)) pts.push(edge(a, b, h, v, h + 1, v));
      if (((code >> 1) & 1) !== ((code >> 2) & 1)) pts.push(edge(b, c, h + 1, v, h + 1, v + 1));
      if (((code >> 2) & 1) !== ((code >> 3) & 1)) pts.push(edge(c, d, h + 1, v + 1, h, v + 1));
      if (((code >> 3) & 1) !== (code & 1)) pts.push(edge(d, a, h, v + 1, h, v));
      if (pts.length === 2) segs.push(pts);
      else if (pts.length === 4) { segs.push([pts[0], pts[1]]); segs.push([pts[2], pts[3]]); }
    }
    return segs;
  }

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v; else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v);
    }
    for (const c of children) e.append(c);
    return e;
  }

  function fmt(value, digits) { return Number.isFinite(value) ? value.toFixed(digits) : "—"; }

  class Viewer {
    constructor(root, data) {
      this.root = root; this.data = data; this.plan = 0; this.quantity = 0;
      this.luts = Object.fromEntries(Object.entries(data.colour_maps).map(([k, v]) => [k, lut(v)]));
    }

    async load() {
      const d = this.data;
      this.ct = new Volume(d.ct.grid, await inflate(d.ct.data, 1), 1);
      this.masks = [];
      for (const s of d.structures) this.masks.push(new Volume(d.ct.grid, await inflate(s.data, 1), 1));
      for (const plan of d.plans) for (const q of plan.quantities) {
        q.volume = new Volume(plan.grid, await inflate(q.data, 2), q.scale);
      }
      const shape = d.ct.grid.shape;
      this.index = d.start_index.slice(); // slice index along each axis (CT display grid)
      this.shown = d.structures.map(() => true);
      this.levels = d.isodose_percent.slice();
      this.wash = true;
      this.build(shape);
      this.render();
    }

    get planData() { return this.data.plans[this.plan]; }
    get q() { return this.planData.quantities[this.quantity]; }

    build(shape) {
      const d = this.data;
      const controls = el("div", { class: "iv-controls" });
      if (d.plans.length > 1) {
        const sel = el("select", { class: "iv-plan", onchange: (e) => {
          this.plan = +e.target.value; this.quantity = 0; this.fillQuantities(); this.render(); this.drawDvh(true);
        } });
        d.plans.forEach((p, i) => sel.append(el("option", { value: i }, p.label)));
        controls.append(el("label", {}, "plan ", sel));
      }
      this.qSelect = el("select", { class: "iv-quantity", onchange: (e) => { this.quantity = +e.target.value; this.render(); } });
      controls.append(el("label", {}, "show ", this.qSelect));
      const washBox = el("input", { type: "checkbox", class: "iv-wash", checked: "", onchange: (e) => { this.wash = e.target.checked; this.render(); } });
      controls.append(el("label", {}, washBox, " colour wash"));
      this.levelInput = el("input", { type: "text", class: "iv-levels", size: 24, value: this.levels.join(", "),
        onchange: (e) => {
          this.levels = e.target.value.split(/[ ,;]+/).map(Number).filter((x) => Number.isFinite(x) && x > 0);
          this.render();
        } });
      controls.append(el("label", { title: "% of the prescription for the prescribed dose, of the maximum for the others" },
        "isodose levels (%) ", this.levelInput));
      this.root.append(controls);

      const structs = el("div", { class: "iv-structures" });
      d.structures.forEach((s, i) => {
        const box = el("input", { type: "checkbox", checked: "", "data-structure": s.name, onchange: (e) => {
          this.shown[i] = e.target.checked; this.render();
        } });
        structs.append(el("label", { style: `color:${s.colour}` }, box, " " + s.name));
      });
      this.root.append(structs);

      const planes = el("div", { class: "iv-planes" });
      this.planes = VIEWS.map((view, p) => {
        const g = d.ct.grid;
        const wmm = shape[view.h] * g.spacing_mm[view.h], hmm = shape[view.v] * g.spacing_mm[view.v];
        const k = CANVAS_PX / Math.max(wmm, hmm);
        const canvas = el("canvas", { class: "iv-plane", "data-view": view.name,
          width: Math.round(wmm * k), height: Math.round(hmm * k) });
        const slider = el("input", { type: "range", min: 0, max: shape[view.n] - 1, value: this.index[view.n],
          class: "iv-slider", "data-view": view.name,
          oninput: (e) => { this.index[view.n] = +e.target.value; this.render(); } });
        const label = el("div", { class: "iv-slice-label" });
        canvas.addEventListener("wheel", (e) => {
          e.preventDefault();
          this.step(view, e.deltaY > 0 ? 1 : -1);
        }, { passive: false });
        canvas.addEventListener("mousemove", (e) => this.readout(p, e));
        canvas.addEventListener("click", (e) => {
          const v = this.voxelAt(p, e); if (!v) return;
          this.index[view.h] = v[view.h]; this.index[view.v] = v[view.v]; this.render();
        });
        planes.append(el("div", { class: "iv-plane-box" }, canvas, slider, label));
        return { view, canvas, slider, label, k, offscreen: document.createElement("canvas") };
      });
      this.root.append(planes);
      this.colourBar = el("canvas", { class: "iv-colourbar", width: 360, height: 44 });
      this.readoutBox = el("div", { class: "iv-readout" }, "move the cursor over a plane");
      this.isoLegend = el("div", { class: "iv-isodose-legend" });
      this.root.append(el("div", { class: "iv-footer" }, this.colourBar, this.isoLegend, this.readoutBox));
      this.root.append(el("p", { class: "iv-help" },
        "Scroll over a plane (or drag its slider) to move through the slices; click a point to "
        + "centre the other planes on it; radiological convention. DVH: drag to zoom, double-click to reset."));

      this.dvhCanvas = el("canvas", { class: "iv-dvh", width: 860, height: 380 });
      const dvhButtons = el("div", { class: "iv-dvh-buttons" },
        el("button", { type: "button", onclick: () => { this.dvhRange = null; this.drawDvh(); } }, "whole range"),
        el("button", { type: "button", onclick: () => this.zoomTargets() }, "zoom on the targets"));
      this.dvhReadout = el("span", { class: "iv-dvh-readout" });
      this.root.append(el("h3", {}, "Interactive DVH"), dvhButtons, this.dvhCanvas, this.dvhReadout);
      this.setupDvh();
      this.fillQuantities();
      this.drawDvh(true);
    }

    fillQuantities() {
      this.qSelect.replaceChildren(...this.planData.quantities.map((q, i) =>
        el("option", { value: i }, `${q.name} (${q.unit})`)));
      this.qSelect.value = this.quantity;
    }

    step(view, delta) {
      const n = this.data.ct.grid.shape[view.n];
      this.index[view.n] = Math.min(n - 1, Math.max(0, this.index[view.n] + delta));
      this.render();
    }

    world(i, j, k) {
      const g = this.data.ct.grid;
      return [i, j, k].map((v, a) => g.origin_mm[a] + v * g.spacing_mm[a]);
    }

    // the display voxel (i, j, k) under the mouse on plane p
    voxelAt(p, e) {
      const { view, canvas } = this.planes[p];
      const r = canvas.getBoundingClientRect();
      const fx = (e.clientX - r.left) / r.width, fy = (e.clientY - r.top) / r.height;
      const shape = this.data.ct.grid.shape;
      const hi = Math.floor(fx * shape[view.h]);
      let vi = Math.floor(fy * shape[view.v]);
      if (!view.down) vi = shape[view.v] - 1 - vi;
      if (hi < 0 || vi < 0 || hi >= shape[view.h] || vi >= shape[view.v]) return null;
      const v = this.index.slice(); v[view.h] = hi; v[view.v] = vi;
      return v;
    }

    readout(p, e) {
      const v = this.voxelAt(p, e); if (!v) return;
      const pt = this.world(...v);
      const parts = [`(${pt.map((x) => x.toFixed(1)).join(", ")}) mm`];
      for (const q of this.planData.quantities) {
        if (q.readout) parts.push(`${q.name}: ${fmt(q.volume.sample(pt), q.digits)} ${q.unit}`);
      }
      const inside = this.data.structures.filter((s, i) => this.masks[i].at(...v) > 0).map((s) => s.name);
      if (inside.length) parts.push("in " + inside.join(", "));
      this.readoutBox.textContent = parts.join(" · ");
    }

    planeValues(view, volume, fromCt) {
      const shape = this.data.ct.grid.shape, nh = shape[view.h], nv = shape[view.v];
      const out = new Float32Array(nh * nv);
      const v = this.index.slice();
      for (let h = 0; h < nh; h++) for (let w = 0; w < nv; w++) {
        v[view.h] = h; v[view.v] = w;
        out[h * nv + w] = fromCt ? volume.at(...v) : volume.sample(this.world(...v));
      }
      return out;
    }

    // what the isodose percentages refer to: the prescription for the prescribed dose,
    // the maximum for the others (physical dose, a beam's dose)
    reference() { return this.q.isodose_reference; }

    render() {
      const q = this.q, cmap = this.luts[q.colour_map];
      const [lo, hi] = q.range;
      for (const plane of this.planes) {
        const { view, canvas, offscreen, label } = plane;
        const shape = this.data.ct.grid.shape, nh = shape[view.h], nv = shape[view.v];
        const ct = this.planeValues(view, this.ct, true);
        const values = this.planeValues(view, q.volume, false);
        offscreen.width = nh; offscreen.height = nv;
        const octx = offscreen.getContext("2d");
        const img = octx.createImageData(nh, nv);
        for (let h = 0; h < nh; h++) for (let w = 0; w < nv; w++) {
          const row = view.down ? w : nv - 1 - w, o = 4 * (row * nh + h);
          const g = ct[h * nv + w], x = values[h * nv + w];
          let r = g, gg = g, b = g;
          if (this.wash && x >= q.wash_from && x > 0) {
            const c = 3 * Math.round(255 * Math.min(1, Math.max(0, (x - lo) / (hi - lo || 1))));
            r = 0.45 * g + 0.55 * cmap[c]; gg = 0.45 * g + 0.55 * cmap[c + 1]; b = 0.45 * g + 0.55 * cmap[c + 2];
          }
          img.data[o] = r; img.data[o + 1] = gg; img.data[o + 2] = b; img.data[o + 3] = 255;
        }
        octx.putImageData(img, 0, 0);
        const ctx = canvas.getContext("2d");
        ctx.imageSmoothingEnabled = false;
        ctx.drawImage(offscreen, 0, 0, canvas.width, canvas.height);
        const sx = canvas.width / nh, sy = canvas.height / nv;
        const toPx = ([h, w]) => [(h + 0.5) * sx, (view.down ? w + 0.5 : nv - 0.5 - w) * sy];
        const stroke = (segs, colour, width) => {
          ctx.strokeStyle = colour; ctx.lineWidth = width; ctx.beginPath();
          for (const [a, b] of segs) { const pa = toPx(a), pb = toPx(b); ctx.moveTo(...pa); ctx.lineTo(...pb); }
          ctx.stroke();
        };
        this.data.structures.forEach((s, i) => {
          if (!this.shown[i]) return;
          stroke(isolines(this.planeValues(view, this.masks[i], true), nh, nv, 0.5), s.colour, 1.6);
        });
        if (q.isodose) {
          const ref = this.reference();
          for (const [lvl, colour] of this.isodoseColours()) stroke(isolines(values, nh, nv, lvl / 100 * ref), colour, 1.3);
        }
        this.drawBeams(ctx, view, sx, sy, nv);
        ctx.fillStyle = "white"; ctx.font = "bold 13px sans-serif"; ctx.textAlign = "center"; ctx.textBaseline = "middle";
        const [L, R, T, B] = view.letters;
        ctx.fillText(L, 10, canvas.height / 2); ctx.fillText(R, canvas.width - 10, canvas.height / 2);
        ctx.fillText(T, canvas.width / 2, 10); ctx.fillText(B, canvas.width / 2, canvas.height - 10);
        const pos = this.world(...this.index)[view.n];
        label.textContent = `${view.name} ${AXES[view.n]} = ${pos.toFixed(1)} mm (slice ${this.index[view.n] + 1} of ${shape[view.n]})`;
        plane.slider.value = this.index[view.n];
        canvas.dataset.slice = this.index[view.n];
        canvas.dataset.contours = this.data.structures.filter((s, i) => this.shown[i]).map((s) => s.name).join(",");
      }
      this.drawColourBar();
      this.drawIsodoseLegend();
    }

    // each isodose level (%) with its line colour: low levels dark, high levels bright
    isodoseColours() {
      const cmap = this.luts[this.q.colour_map];
      const levels = this.levels.slice().sort((a, b) => a - b);
      return levels.map((lvl, n) => {
        const c = 3 * Math.round(255 * (0.15 + 0.85 * n / Math.max(levels.length - 1, 1)));
        return [lvl, `rgb(${cmap[c]},${cmap[c + 1]},${cmap[c + 2]})`];
      });
    }

    drawIsodoseLegend() {
      const q = this.q, ref = this.reference();
      const items = q.isodose ? this.isodoseColours().map(([lvl, colour]) => el("span", { class: "iv-iso" },
        el("span", { class: "iv-swatch", style: `background:${colour}` }), ` ${lvl} % (${fmt(lvl / 100 * ref, 1)} ${q.unit})`)) : [];
      if (items.length) items.unshift(el("span", {}, `isodose lines, % of ${q.isodose_of}:`));
      this.isoLegend.replaceChildren(...items);
    }

    drawBeams(ctx, view, sx, sy, nv) {
      const g = this.data.ct.grid;
      const px = (mmh, mmv) => {
        const h = (mmh - g.origin_mm[view.h]) / g.spacing_mm[view.h];
        const w = (mmv - g.origin_mm[view.v]) / g.spacing_mm[view.v];
        return [(h + 0.5) * sx, (view.down ? w + 0.5 : nv - 0.5 - w) * sy];
      };
      const len = 0.2 * Math.max(ctx.canvas.width, ctx.canvas.height);
      for (const beam of this.planData.beams) {
        const dh = beam.direction[view.h], dv = beam.direction[view.v];
        const norm = Math.hypot(dh, dv); if (norm < 0.2) continue;
        const tip = px(beam.isocenter_mm[view.h], beam.isocenter_mm[view.v]);
        const dir = [dh / norm * sx / g.spacing_mm[view.h], (view.down ? dv : -dv) / norm * sy / g.spacing_mm[view.v]];
        const dn = Math.hypot(...dir), u = [dir[0] / dn, dir[1] / dn];
        const tail = [tip[0] - len * u[0], tip[1] - len * u[1]];
        ctx.strokeStyle = "white"; ctx.lineWidth = 1.5; ctx.beginPath(); ctx.moveTo(...tail); ctx.lineTo(...tip); ctx.stroke();
        ctx.beginPath(); ctx.moveTo(...tip);
        ctx.lineTo(tip[0] - 8 * u[0] + 4 * u[1], tip[1] - 8 * u[1] - 4 * u[0]);
        ctx.lineTo(tip[0] - 8 * u[0] - 4 * u[1], tip[1] - 8 * u[1] + 4 * u[0]); ctx.closePath();
        ctx.fillStyle = "white"; ctx.fill();
        // the label stays inside the canvas whatever the direction (never clipped)
        ctx.font = "12px sans-serif";
        const w = ctx.measureText(beam.name).width + 6;
        // clear of the orientation letters (20 px from each edge) and just off the arrow
        const lx = Math.min(Math.max(tail[0] - 10 * u[0], w / 2 + 20), ctx.canvas.width - w / 2 - 20);
        const ly = Math.min(Math.max(tail[1] - 10 * u[1] - 12 * Math.abs(u[0]), 29), ctx.canvas.height - 29);
        ctx.fillStyle = "rgba(0,0,0,0.6)"; ctx.fillRect(lx - w / 2, ly - 8, w, 16);
        ctx.fillStyle = "white"; ctx.textAlign = "center"; ctx.textBaseline = "middle"; ctx.fillText(beam.name, lx, ly);
      }
    }

    drawColourBar() {
      const q = this.q, cmap = this.luts[q.colour_map], c = this.colourBar, ctx = c.getContext("2d");
      ctx.clearRect(0, 0, c.width, c.height);
      const x0 = 10, x1 = c.width - 10;
      for (let x = x0; x < x1; x++) {
        const i = 3 * Math.round(255 * (x - x0) / (x1 - x0 - 1));
        ctx.fillStyle = `rgb(${cmap[i]},${cmap[i + 1]},${cmap[i + 2]})`; ctx.fillRect(x, 4, 1, 14);
      }
      ctx.fillStyle = "#222"; ctx.font = "11px sans-serif"; ctx.textBaseline = "top";
      const [lo, hi] = q.range;
      for (let t = 0; t <= 4; t++) {
        const x = x0 + t * (x1 - x0) / 4, v = lo + t * (hi - lo) / 4;
        ctx.textAlign = t === 0 ? "left" : t === 4 ? "right" : "center";
        ctx.fillText((t === 4 && q.saturates ? "≥ " : "") + fmt(v, v >= 10 ? 0 : 1), x, 22);
      }
      ctx.textAlign = "center"; ctx.fillText(`${q.name} (${q.unit})`, c.width / 2, 32);
    }

    // ---- DVH ----
    setupDvh() {
      const c = this.dvhCanvas;
      let start = null;
      c.addEventListener("mousedown", (e) => { start = this.dvhPoint(e); });
      c.addEventListener("mousemove", (e) => {
        const p = this.dvhPoint(e);
        if (p) this.dvhReadout.textContent = `${fmt(p[0], 2)} ${this.planData.unit}, ${fmt(p[1], 1)} % volume`;
      });
      c.addEventListener("mouseup", (e) => {
        const end = this.dvhPoint(e);
        if (start && end && Math.abs(end[0] - start[0]) > 1e-6) {
          const x = [Math.min(start[0], end[0]), Math.max(start[0], end[0])];
          const y = Math.abs(end[1] - start[1]) > 2
            ? [Math.min(start[1], end[1]), Math.max(start[1], end[1])] : this.dvhView().y;
          this.dvhRange = { x, y }; this.drawDvh();
        }
        start = null;
      });
      c.addEventListener("dblclick", () => { this.dvhRange = null; this.drawDvh(); });
    }

    dvhBox() { return { l: 60, r: this.dvhCanvas.width - 170, t: 14, b: this.dvhCanvas.height - 40 }; }

    dvhView() { return this.dvhRange || { x: [0, this.planData.dvh.x_max], y: [0, 102] }; }

    dvhPoint(e) {
      const r = this.dvhCanvas.getBoundingClientRect(), box = this.dvhBox(), v = this.dvhView();
      const x = (e.clientX - r.left) * this.dvhCanvas.width / r.width;
      const y = (e.clientY - r.top) * this.dvhCanvas.height / r.height;
      if (x < box.l || x > box.r || y < box.t || y > box.b) return null;
      return [v.x[0] + (x - box.l) / (box.r - box.l) * (v.x[1] - v.x[0]),
        v.y[0] + (box.b - y) / (box.b - box.t) * (v.y[1] - v.y[0])];
    }

    zoomTargets() {
      const ref = this.planData.prescription_gy;
      if (!(ref > 0)) return;
      this.dvhRange = { x: [0.8 * ref, Math.min(1.15 * ref, this.planData.dvh.x_max * 1.2)], y: [0, 102] };
      this.drawDvh();
    }

    drawDvh(reset) {
      if (reset) this.dvhRange = null;
      const c = this.dvhCanvas, ctx = c.getContext("2d"), dvh = this.planData.dvh, box = this.dvhBox();
      const v = this.dvhView();
      const X = (d) => box.l + (d - v.x[0]) / (v.x[1] - v.x[0]) * (box.r - box.l);
      const Y = (p) => box.b - (p - v.y[0]) / (v.y[1] - v.y[0]) * (box.b - box.t);
      ctx.clearRect(0, 0, c.width, c.height);
      ctx.strokeStyle = "#ddd"; ctx.fillStyle = "#222"; ctx.font = "12px sans-serif"; ctx.lineWidth = 1;
      const ticks = (lo, hi) => {
        const raw = (hi - lo) / 6, mag = Math.pow(10, Math.floor(Math.log10(raw)));
        const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw);
        const out = []; for (let t = Math.ceil(lo / step) * step; t <= hi + 1e-9; t += step) out.push(t);
        return out;
      };
      ctx.textAlign = "center"; ctx.textBaseline = "top";
      for (const t of ticks(v.x[0], v.x[1])) {
        ctx.beginPath(); ctx.moveTo(X(t), box.t); ctx.lineTo(X(t), box.b); ctx.stroke();
        ctx.fillText(fmt(t, t % 1 ? 1 : 0), X(t), box.b + 4);
      }
      ctx.textAlign = "right"; ctx.textBaseline = "middle";
      for (const t of ticks(v.y[0], Math.min(v.y[1], 100))) {
        ctx.beginPath(); ctx.moveTo(box.l, Y(t)); ctx.lineTo(box.r, Y(t)); ctx.stroke();
        ctx.fillText(fmt(t, 0), box.l - 4, Y(t));
      }
      ctx.textAlign = "center"; ctx.textBaseline = "bottom";
      ctx.fillText(`dose (${this.planData.unit})`, (box.l + box.r) / 2, c.height - 2);
      ctx.save(); ctx.translate(14, (box.t + box.b) / 2); ctx.rotate(-Math.PI / 2);
      ctx.textBaseline = "middle"; ctx.fillText("volume (%)", 0, 0); ctx.restore();
      ctx.save(); ctx.beginPath(); ctx.rect(box.l, box.t, box.r - box.l, box.b - box.t); ctx.clip();
      const edges = dvh.edges_gy;
      for (const curve of dvh.curves) {
        if (curve.band) {
          ctx.fillStyle = curve.colour + "40"; ctx.beginPath();
          edges.forEach((d, i) => (i ? ctx.lineTo(X(d), Y(curve.band[1][i])) : ctx.moveTo(X(d), Y(curve.band[1][i]))));
          for (let i = edges.length - 1; i >= 0; i--) ctx.lineTo(X(edges[i]), Y(curve.band[0][i]));
          ctx.closePath(); ctx.fill();
        }
        ctx.strokeStyle = curve.colour; ctx.lineWidth = 1.8; ctx.beginPath();
        edges.forEach((d, i) => (i ? ctx.lineTo(X(d), Y(curve.volume_percent[i])) : ctx.moveTo(X(d), Y(curve.volume_percent[i]))));
        ctx.stroke();
      }
      if (this.planData.prescription_gy > 0) {
        ctx.strokeStyle = "#000"; ctx.setLineDash([5, 3]); ctx.lineWidth = 1;
        ctx.beginPath(); ctx.moveTo(X(this.planData.prescription_gy), box.t); ctx.lineTo(X(this.planData.prescription_gy), box.b); ctx.stroke();
        ctx.setLineDash([]);
      }
      ctx.restore();
      ctx.strokeStyle = "#444"; ctx.strokeRect(box.l, box.t, box.r - box.l, box.b - box.t);
      ctx.textAlign = "left"; ctx.textBaseline = "middle";
      dvh.curves.forEach((curve, i) => {
        const y = box.t + 8 + 17 * i;
        ctx.strokeStyle = curve.colour; ctx.lineWidth = 2.5; ctx.beginPath(); ctx.moveTo(box.r + 12, y); ctx.lineTo(box.r + 32, y); ctx.stroke();
        ctx.fillStyle = "#222"; ctx.fillText(curve.name + (curve.band ? " (band: scenarios)" : ""), box.r + 38, y);
      });
    }
  }

  async function start() {
    for (const root of document.querySelectorAll(".ionbeam-viewer")) {
      const data = JSON.parse(document.getElementById(root.dataset.source).textContent);
      const viewer = new Viewer(root, data);
      root.viewer = viewer;
      try { await viewer.load(); root.dataset.ready = "true"; } catch (err) {
        root.append(el("p", { class: "iv-error" }, "The viewer could not start: " + err));
        root.dataset.ready = "error";
      }
    }
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();
})();
