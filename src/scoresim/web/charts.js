// Small SVG charts for the explorable: a line chart of run against twin over the years (hover
// to read a step, drag to zoom into a span, double-click or "reset" to zoom out) and a bar
// chart of regimes side by side. No library, nothing fetched from elsewhere.
(function () {
"use strict";

const SVG = "http://www.w3.org/2000/svg";

function el(name, attrs, parent) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (parent) parent.appendChild(e);
  return e;
}

function fmt(v, percent) {
  if (v === null || v === undefined || Number.isNaN(v)) return "—";
  if (v === 0) return percent ? "0 %" : "0";
  if (percent) {
    const p = 100 * v;
    const digits = Math.abs(p) >= 10 ? 1 : Math.abs(p) >= 1 ? 2 : 3;
    return p.toFixed(digits) + " %";
  }
  const a = Math.abs(v);
  if (a >= 1e5) return v.toExponential(2);
  return v.toLocaleString("en", { maximumFractionDigits: a >= 100 ? 0 : a >= 1 ? 2 : 4 });
}

function niceTicks(lo, hi, count) {
  if (!(hi > lo)) { hi = lo + 1; }
  const step0 = (hi - lo) / count;
  const mag = Math.pow(10, Math.floor(Math.log10(step0)));
  const step = [1, 2, 2.5, 5, 10].map(m => m * mag).find(s => s >= step0) || step0;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(v);
  return out;
}

// lineChart(box, years, lines, {percent, tip}): lines is [{name, values, cls}]
function lineChart(box, years, lines, opts) {
  const state = { lo: 0, hi: years.length - 1 };
  const VW = Math.max(260, Math.round(box.clientWidth || 400));  // drawn at its own pixel size
  const svg = el("svg", { viewBox: `0 0 ${VW} 200`, role: "img",
                          "aria-label": opts.title || "chart" }, box);
  const tip = opts.tip;
  const M = { l: 52, r: 10, t: 8, b: 22 };
  const W = VW - M.l - M.r, H = 200 - M.t - M.b;

  function draw() {
    svg.textContent = "";
    const idx = [];
    for (let i = state.lo; i <= state.hi; i++) idx.push(i);
    let ymin = Infinity, ymax = -Infinity;
    for (const line of lines) for (const i of idx) {
      const v = line.values[i];
      if (v !== null && v !== undefined) { ymin = Math.min(ymin, v); ymax = Math.max(ymax, v); }
    }
    if (!Number.isFinite(ymin)) { ymin = 0; ymax = 1; }
    if (opts.percent) ymin = Math.min(0, ymin);
    else if (ymax > ymin) { const pad = (ymax - ymin) * 0.08; ymin -= pad; ymax += pad; }
    if (ymax === ymin) ymax = ymin + (opts.percent ? 0.01 : 1);
    const x0 = years[state.lo], x1 = years[state.hi] === x0 ? x0 + 1 : years[state.hi];
    const X = x => M.l + (x - x0) / (x1 - x0) * W;
    const Y = y => M.t + H - (y - ymin) / (ymax - ymin) * H;
    for (const t of niceTicks(ymin, ymax, 4)) {
      el("line", { x1: M.l, x2: M.l + W, y1: Y(t), y2: Y(t), stroke: "#eee" }, svg);
      const lab = el("text", { x: M.l - 4, y: Y(t) + 3, "text-anchor": "end",
                               "font-size": 10, fill: "#666" }, svg);
      lab.textContent = fmt(t, opts.percent);
    }
    for (const t of niceTicks(x0, x1, 5)) {
      const lab = el("text", { x: X(t), y: 200 - 6, "text-anchor": "middle",
                               "font-size": 10, fill: "#666" }, svg);
      lab.textContent = (Math.round(t * 100) / 100) + (t === niceTicks(x0, x1, 5)[0] ? " y" : "");
    }
    el("line", { x1: M.l, x2: M.l, y1: M.t, y2: M.t + H, stroke: "#999" }, svg);
    for (const line of lines) {
      let d = "", pen = false;
      for (const i of idx) {
        const v = line.values[i];
        if (v === null || v === undefined) { pen = false; continue; }
        d += (pen ? "L" : "M") + X(years[i]).toFixed(2) + "," + Y(v).toFixed(2);
        pen = true;
      }
      el("path", { d, fill: "none", class: "line " + line.cls, stroke: line.color,
                   "stroke-width": line.cls === "run" ? 1.8 : 1.3,
                   "stroke-dasharray": line.cls === "twin" ? "4 3" : "",
                   "vector-effect": "non-scaling-stroke" }, svg);
    }
    const rule = el("line", { y1: M.t, y2: M.t + H, stroke: "#333", "stroke-width": 0.6,
                              visibility: "hidden", "vector-effect": "non-scaling-stroke" }, svg);
    const band = el("rect", { y: M.t, height: H, fill: "rgba(0,114,178,.12)",
                              visibility: "hidden" }, svg);
    const hit = el("rect", { x: M.l, y: M.t, width: W, height: H, fill: "transparent" }, svg);
    const toIndex = evt => {
      const r = svg.getBoundingClientRect();
      const px = (evt.clientX - r.left) / r.width * VW;
      const x = x0 + (px - M.l) / W * (x1 - x0);
      let best = state.lo;
      for (const i of idx) if (Math.abs(years[i] - x) < Math.abs(years[best] - x)) best = i;
      return best;
    };
    let dragFrom = null;
    const show = i => {
      rule.setAttribute("x1", X(years[i])); rule.setAttribute("x2", X(years[i]));
      rule.setAttribute("visibility", "visible");
      tip.textContent = "year " + years[i].toFixed(2) + ": " +
        lines.map(l => l.name + " " + fmt(l.values[i], opts.percent)).join(" · ");
    };
    hit.addEventListener("pointermove", evt => {
      const i = toIndex(evt);
      show(i);
      if (dragFrom !== null) {
        const a = Math.min(X(years[dragFrom]), X(years[i])), b = Math.max(X(years[dragFrom]), X(years[i]));
        band.setAttribute("x", a); band.setAttribute("width", Math.max(0, b - a));
        band.setAttribute("visibility", "visible");
      }
    });
    hit.addEventListener("pointerleave", () => { rule.setAttribute("visibility", "hidden"); dragFrom = null;
                                                  band.setAttribute("visibility", "hidden"); });
    hit.addEventListener("pointerdown", evt => { dragFrom = toIndex(evt); show(dragFrom); });
    hit.addEventListener("pointerup", evt => {
      if (dragFrom === null) return;
      const i = toIndex(evt), a = Math.min(dragFrom, i), b = Math.max(dragFrom, i);
      dragFrom = null;
      if (b - a >= 2) { state.lo = a; state.hi = b; draw(); opts.onZoom && opts.onZoom(true); }
      else band.setAttribute("visibility", "hidden");
    });
    hit.addEventListener("dblclick", () => reset());
  }
  function reset() { state.lo = 0; state.hi = years.length - 1; draw(); opts.onZoom && opts.onZoom(false); }
  function zoom(a, b) { state.lo = a; state.hi = b; draw(); opts.onZoom && opts.onZoom(true); }
  draw();
  return { reset, zoom, state };
}

// barChart(box, labels, values, {percent, tip, colors})
function barChart(box, labels, values, opts) {
  const VW = Math.max(260, Math.round(box.clientWidth || 400));
  const svg = el("svg", { viewBox: `0 0 ${VW} 200`, role: "img",
                          "aria-label": opts.title || "bars" }, box);
  const M = { l: 52, r: 10, t: 8, b: 26 };
  const W = VW - M.l - M.r, H = 200 - M.t - M.b;
  const finite = values.filter(v => v !== null && Number.isFinite(v));
  let lo = Math.min(0, ...finite), hi = Math.max(0, ...finite);
  if (hi === lo) hi = lo + (opts.percent ? 0.01 : 1);
  const Y = y => M.t + H - (y - lo) / (hi - lo) * H;
  for (const t of niceTicks(lo, hi, 4)) {
    el("line", { x1: M.l, x2: M.l + W, y1: Y(t), y2: Y(t), stroke: "#eee" }, svg);
    const lab = el("text", { x: M.l - 4, y: Y(t) + 3, "text-anchor": "end", "font-size": 10,
                             fill: "#666" }, svg);
    lab.textContent = fmt(t, opts.percent);
  }
  const slot = W / labels.length;
  labels.forEach((name, k) => {
    const v = values[k];
    const x = M.l + k * slot + slot * 0.15;
    const y = v === null ? Y(0) : Math.min(Y(v), Y(0));
    const h = v === null ? 0 : Math.abs(Y(v) - Y(0));
    const bar = el("rect", { x, y, width: slot * 0.7, height: Math.max(h, 0.5),
                             fill: opts.colors[k % opts.colors.length], class: "bar" }, svg);
    const show = () => { opts.tip.textContent = name + ": " + fmt(v, opts.percent); };
    bar.addEventListener("pointerenter", show);
    bar.addEventListener("pointerdown", show);
    const lab = el("text", { x: x + slot * 0.35, y: 200 - 8, "text-anchor": "middle",
                             "font-size": 10, fill: "#333" }, svg);
    lab.textContent = name.length > 18 ? name.slice(0, 17) + "…" : name;
  });
}

window.scoresimCharts = { lineChart, barChart, fmt };
})();
