// A hand-written SVG line chart: several series (runs) on one chart, axes with round ticks,
// a legend naming each series by text (not colour alone: each series also has its own marker).
const NS = "http://www.w3.org/2000/svg";
export const COLOURS = ["#0b5cad", "#c62828", "#1a7f37", "#9a6700", "#6f42c1", "#0e7490", "#be185d", "#4b5563"];
const MARKERS = ["circle", "square", "triangle", "diamond"];

function s(tag, attrs = {}, ...children) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) node.setAttribute(k, String(v));
  for (const c of children.flat()) if (c !== null && c !== undefined) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

// Round tick values between lo and hi (about n of them).
export function ticks(lo, hi, n = 5) {
  if (!(hi > lo)) { const pad = Math.abs(lo) * 0.1 || 1; lo -= pad; hi += pad; }
  const raw = (hi - lo) / n;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map((f) => f * mag).find((f) => f >= raw) || raw;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(+v.toPrecision(12));
  return { lo: Math.min(lo, out[0] ?? lo), hi: Math.max(hi, out[out.length - 1] ?? hi), values: out };
}

const fmt = (v) => Math.abs(v) >= 1e5 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(2) : String(+v.toPrecision(6));

function marker(kind, x, y, colour) {
  if (kind === "square") return s("rect", { x: x - 3, y: y - 3, width: 6, height: 6, fill: colour });
  if (kind === "triangle") return s("path", { d: `M${x},${y - 4}L${x + 4},${y + 3}L${x - 4},${y + 3}Z`, fill: colour });
  if (kind === "diamond") return s("path", { d: `M${x},${y - 4}L${x + 4},${y}L${x},${y + 4}L${x - 4},${y}Z`, fill: colour });
  return s("circle", { cx: x, cy: y, r: 3, fill: colour });
}

// series: [{label, points: [[x, y], ...]}]; returns an <svg> (role img, titled).
export function lineChart({ title, series, xLabel = "step", width = 480, height = 260 }) {
  const pad = { left: 56, right: 12, top: 12, bottom: 36 };
  const all = series.flatMap((one) => one.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  const xs = all.map((p) => p[0]), ys = all.map((p) => p[1]);
  const xt = ticks(Math.min(...xs, 0), Math.max(...xs, 1), 6);
  const yt = ticks(Math.min(...ys), Math.max(...ys), 5);
  const w = width - pad.left - pad.right, hgt = height - pad.top - pad.bottom;
  const X = (v) => pad.left + (v - xt.lo) / (xt.hi - xt.lo || 1) * w;
  const Y = (v) => pad.top + hgt - (v - yt.lo) / (yt.hi - yt.lo || 1) * hgt;
  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img",
    "aria-label": `${title}: ${series.map((one) => `${one.label}, ${one.points.length} values, last ${one.points.length ? fmt(one.points[one.points.length - 1][1]) : "none"}`).join("; ")}` },
  s("title", {}, title));
  const axes = s("g", { class: "axes" });
  for (const v of yt.values) {
    axes.append(s("line", { x1: pad.left, x2: width - pad.right, y1: Y(v), y2: Y(v), class: "grid" }),
      s("text", { x: pad.left - 6, y: Y(v) + 4, "text-anchor": "end" }, fmt(v)));
  }
  for (const v of xt.values) {
    axes.append(s("line", { x1: X(v), x2: X(v), y1: pad.top + hgt, y2: pad.top + hgt + 4, class: "tick" }),
      s("text", { x: X(v), y: pad.top + hgt + 16, "text-anchor": "middle" }, fmt(v)));
  }
  axes.append(s("line", { x1: pad.left, x2: pad.left, y1: pad.top, y2: pad.top + hgt, class: "axis" }),
    s("line", { x1: pad.left, x2: width - pad.right, y1: pad.top + hgt, y2: pad.top + hgt, class: "axis" }),
    s("text", { x: pad.left + w / 2, y: height - 4, "text-anchor": "middle", class: "axis-label" }, xLabel));
  svg.append(axes);
  series.forEach((one, i) => {
    const colour = COLOURS[i % COLOURS.length];
    const pts = one.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
    const g = s("g", { class: "series", "data-series": one.label });
    if (pts.length > 1) g.append(s("polyline", { points: pts.map(([x, y]) => `${X(x).toFixed(1)},${Y(y).toFixed(1)}`).join(" "), fill: "none", stroke: colour, "stroke-width": 2 }));
    const every = Math.max(1, Math.ceil(pts.length / 60));
    pts.forEach(([x, y], k) => {
      if (k % every && k !== pts.length - 1) return;
      const m = marker(MARKERS[i % MARKERS.length], X(x), Y(y), colour);
      m.append(s("title", {}, `${one.label}: ${fmt(y)} at ${xLabel} ${fmt(x)}`));
      g.append(m);
    });
    svg.append(g);
  });
  return svg;
}

// The legend as HTML (readable text, the series' colour and marker beside it).
export function legend(series) {
  const list = document.createElement("ul");
  list.className = "legend";
  series.forEach((one, i) => {
    const item = document.createElement("li");
    const key = s("svg", { width: 14, height: 14, viewBox: "0 0 14 14", "aria-hidden": "true" },
      marker(MARKERS[i % MARKERS.length], 7, 7, COLOURS[i % COLOURS.length]));
    item.append(key, document.createTextNode(" " + one.label));
    list.append(item);
  });
  return list;
}
