// Studio classic's "Visualize" of a table: a column summary (type, present, missing, unique and
// a small histogram or value-count chart per column, hand-written SVG), a panel with the chosen
// column's statistics and a larger chart, and the first rows. Input: the preview JSON of
// GET /api/v1/page/runs/{id}/outputs/{name}/preview (or .../artifacts/preview).
import { h, clear } from "./dom.js";

const SVG = "http://www.w3.org/2000/svg";

function s(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) if (value !== null && value !== undefined) node.setAttribute(name, String(value));
  for (const child of children.flat(Infinity)) if (child !== null && child !== undefined) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

export function fmt(value) {
  if (value === null || value === undefined) return "";
  if (typeof value === "number") {
    if (Number.isInteger(value)) return value.toLocaleString("en-US");
    const abs = Math.abs(value);
    return abs !== 0 && (abs < 1e-3 || abs >= 1e7) ? value.toExponential(3) : String(Number(value.toPrecision(5)));
  }
  if (typeof value === "boolean") return value ? "True" : "False";
  return String(value);
}

export function bytes(size) {
  if (size === null || size === undefined) return "";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let n = size, i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
  return i === 0 ? `${n} B` : `${n.toFixed(n < 10 ? 1 : 0)} ${units[i]}`;
}

function label(bin) { return `${fmt(bin.low)} to ${fmt(bin.high)}: ${fmt(bin.count)}`; }

// A histogram (numbers, times) as bars; `big` adds the axis' ends and counts.
export function histogram(col, { width = 120, height = 32, big = false } = {}) {
  const bins = col.histogram || [];
  const max = Math.max(1, ...bins.map((b) => b.count));
  const pad = big ? 18 : 0;
  const plot = height - pad;
  const w = bins.length ? width / bins.length : width;
  const title = bins.length ? `Histogram of ${col.name}: ${bins.map(label).join("; ")}` : `${col.name}: no values`;
  const svg = s("svg", { class: big ? "hist big" : "hist", width, height, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": title, "data-bins": bins.length },
    s("title", {}, title),
    bins.map((bin, i) => {
      const barHeight = bin.count ? Math.max(1, (bin.count / max) * (plot - (big ? 12 : 2))) : 0;
      return s("rect", { x: i * w + 0.5, y: plot - barHeight, width: Math.max(1, w - 1), height: barHeight, class: "bar", "data-count": bin.count },
        s("title", {}, label(bin)));
    }),
    s("line", { x1: 0, y1: plot + 0.5, x2: width, y2: plot + 0.5, class: "axis" }));
  if (big && bins.length) {
    svg.append(s("text", { x: 0, y: height - 4, class: "tick" }, fmt(bins[0].low)),
      s("text", { x: width, y: height - 4, class: "tick", "text-anchor": "end" }, fmt(bins[bins.length - 1].high)));
    bins.forEach((bin, i) => {
      if (bin.count) svg.append(s("text", { x: i * w + w / 2, y: plot - Math.max(1, (bin.count / max) * (plot - 12)) - 2, class: "count", "text-anchor": "middle" }, fmt(bin.count)));
    });
  }
  return svg;
}

// The most frequent values as horizontal bars (text, categories, booleans).
export function valueCounts(col, { width = 120, big = false } = {}) {
  const values = col.values || [];
  const rows = big ? values : values.slice(0, 4);
  const row = big ? 20 : 8;
  const height = Math.max(row, rows.length * row);
  const max = Math.max(1, ...values.map((v) => v.count));
  const text = (v) => (v.value === null ? "(missing)" : fmt(v.value));
  const title = values.length ? `Most frequent values of ${col.name}: ${values.map((v) => `${text(v)} (${fmt(v.count)})`).join(", ")}${col.others ? `; ${fmt(col.others)} others` : ""}` : `${col.name}: no values`;
  const labelWidth = big ? Math.min(140, width * 0.4) : 0;
  const barSpace = width - labelWidth - (big ? 48 : 0);
  return s("svg", { class: big ? "counts big" : "counts", width, height, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": title, "data-values": values.length },
    s("title", {}, title),
    rows.map((v, i) => [
      big ? s("text", { x: labelWidth - 4, y: i * row + row * 0.7, "text-anchor": "end", class: "tick" }, text(v).slice(0, 20)) : null,
      s("rect", { x: labelWidth, y: i * row + 1, width: Math.max(1, (v.count / max) * barSpace), height: row - 2, class: "bar", "data-count": v.count },
        s("title", {}, `${text(v)}: ${fmt(v.count)}`)),
      big ? s("text", { x: labelWidth + Math.max(1, (v.count / max) * barSpace) + 4, y: i * row + row * 0.7, class: "count" }, fmt(v.count)) : null,
    ]));
}

export function chart(col, options = {}) {
  return col.histogram ? histogram(col, options) : valueCounts(col, options);
}

function details(col, count) {
  const facts = [
    ["Type", `${col.kind} (${col.type})`], ["Values", fmt(col.count)], ["Missing values", fmt(col.missing)],
    ["Unique values", fmt(col.unique)],
  ];
  if (col.kind === "numeric" || col.kind === "datetime") facts.push(["Min", fmt(col.min)], ["Max", fmt(col.max)]);
  if (col.kind === "numeric") facts.push(["Mean", fmt(col.mean)], ["Median", fmt(col.median)], ["Standard deviation", fmt(col.std)]);
  if (col.values && col.others) facts.push(["Other values", fmt(col.others)]);
  return [
    h("h3", {}, col.name),
    h("dl", { class: "facts" }, facts.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
    h("p", { class: "muted" }, col.histogram ? `Histogram of the ${fmt(col.count)} values present (of ${fmt(count)} rows)` : "Most frequent values"),
    h("div", { class: "viz-chart" }, chart(col, { width: 320, height: 160, big: true })),
  ];
}

// The whole Visualize block.
export function visualize(preview) {
  const columns = preview.columns || [];
  const panel = h("aside", { class: "viz-panel card", id: "viz-column", "aria-live": "polite", "aria-label": "Column statistics" });
  const buttons = [];
  const choose = (i) => {
    clear(panel).append(...details(columns[i], preview.rowsRead));
    buttons.forEach((b, j) => b.setAttribute("aria-pressed", String(i === j)));
  };
  const summary = h("table", { class: "viz-columns", "aria-label": "Columns" },
    h("thead", {}, h("tr", {}, ["Column", "Type", "Values", "Missing", "Unique", "Distribution"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, columns.map((col, i) => {
      const button = h("button", { type: "button", class: "linkish", "aria-pressed": "false", onclick: () => choose(i) }, col.name);
      buttons.push(button);
      return h("tr", { "data-column": col.name },
        h("th", { scope: "row" }, button),
        h("td", { class: "col-type" }, col.kind, h("span", { class: "muted" }, ` ${col.type}`)),
        h("td", { class: "num" }, fmt(col.count)),
        h("td", { class: "num col-missing" }, fmt(col.missing)),
        h("td", { class: "num col-unique" }, fmt(col.unique)),
        h("td", {}, chart(col)));
    })));
  const rows = h("table", { class: "viz-rows", "aria-label": `First ${preview.rowsShown} rows` },
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, h("div", { class: "mini" }, chart(c, { width: 72, height: 24 })),
      c.name, h("div", { class: "muted small" }, c.kind))))),
    h("tbody", {}, (preview.rows || []).map((row) => h("tr", {}, row.map((v, i) =>
      h("td", { class: (columns[i] && columns[i].kind === "numeric" ? "num" : "") + (v === null ? " missing" : "") },
        v === null ? h("span", { class: "muted", title: "missing value" }, "–") : fmt(v)))))));
  const read = preview.totalRows !== null && preview.totalRows !== undefined
    ? `${fmt(preview.totalRows)} rows` : `${fmt(preview.rowsRead)}+ rows`;
  const block = h("section", { class: "visualize", "aria-labelledby": "viz-title" },
    h("h2", { id: "viz-title" }, "Visualize"),
    h("p", { class: "viz-summary" }, `${read}, ${fmt(preview.columnsTotal)} columns (${preview.format || "table"}: ${(preview.files || []).join(", ")}). `,
      preview.truncated ? `Statistics describe the first ${fmt(preview.rowsRead)} rows read.` : "Statistics describe every row."),
    (preview.notes || []).length ? h("ul", { class: "muted viz-notes" }, preview.notes.map((n) => h("li", {}, n))) : null,
    h("div", { class: "viz-layout" }, h("div", { class: "table-wrap" }, summary), panel),
    h("h3", {}, `First ${fmt(preview.rowsShown)} rows`),
    h("div", { class: "table-wrap viz-rows-wrap" }, rows));
  if (columns.length) choose(0);
  return block;
}
