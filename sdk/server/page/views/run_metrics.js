// A run's metrics: a line chart per series (with ?with=ID,ID other runs' series of the same
// name on the same chart), single values and rows/tables as tables, and its images inline
// (log_image artifacts and the python device's plots). A picker chooses runs to compare.
import { h, clear, errorBox } from "../lib/dom.js";
import { get, key } from "../lib/api.js";
import { lineChart, legend } from "../lib/chart.js";

const numeric = (v) => typeof v === "number" && Number.isFinite(v);
const artifactUrl = (runId, name) => `/api/v1/runs/${encodeURIComponent(runId)}/artifacts/${name.split("/").map(encodeURIComponent).join("/")}`;

function seriesOf(metrics, kinds) {
  const out = {};
  for (const [name, value] of Object.entries(metrics)) {
    if ((kinds[name] === "scalar" || kinds[name] === "list") && Array.isArray(value) && value.some(numeric)) {
      out[name] = value.map((v, i) => [i, numeric(v) ? v : NaN]);
    }
  }
  return out;
}

function dataTable(name, columns) {
  const cols = Object.keys(columns);
  const n = Math.max(0, ...cols.map((c) => (Array.isArray(columns[c]) ? columns[c].length : 1)));
  const cell = (c, i) => { const v = Array.isArray(columns[c]) ? columns[c][i] : columns[c]; return v === null || v === undefined ? "" : typeof v === "object" ? JSON.stringify(v) : String(v); };
  const rows = [...Array(Math.min(n, 200)).keys()];
  return h("figure", { class: "card metric-table", "data-metric": name },
    h("figcaption", {}, h("h3", {}, name), n > 200 ? h("span", { class: "muted" }, ` first 200 of ${n} rows`) : null),
    h("div", { class: "table-wrap" }, h("table", {},
      h("thead", {}, h("tr", {}, cols.map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, rows.map((i) => h("tr", {}, cols.map((c) => h("td", {}, cell(c, i)))))))));
}

// An <img> of an artifact: a plain URL on a loopback server, fetched with the key otherwise.
function image(runId, name) {
  const url = artifactUrl(runId, name);
  const img = h("img", { alt: `${name} (image of run ${runId})`, loading: "lazy", class: "run-image" });
  if (!key()) img.src = url;
  else fetch(url, { headers: { Authorization: `Bearer ${key()}` } })
    .then((r) => (r.ok ? r.blob() : Promise.reject(new Error(r.statusText))))
    .then((blob) => { img.src = URL.createObjectURL(blob); }).catch(() => { img.alt = `${name}: cannot load`; });
  return h("figure", { class: "card image", "data-image": name }, img,
    h("figcaption", {}, h("a", { href: url, download: name.split("/").pop() }, name)));
}

function picker(run, withIds) {
  const list = h("div", { class: "pick-list" }, h("p", { class: "muted" }, "loading runs…"));
  const box = h("details", { class: "compare-picker", id: "compare-metrics" },
    h("summary", {}, "Compare metrics with other runs"), list);
  box.addEventListener("toggle", async () => {
    if (!box.open || list.dataset.loaded) return;
    list.dataset.loaded = "1";
    const params = new URLSearchParams({ experiment: run.experiment, kind: run.kind, top: "100" });
    try {
      const page = await get(`/api/v1/workspaces/${encodeURIComponent(run.workspaceId)}/runs?${params}`);
      const others = page.value.filter((r) => r.runId !== run.runId && (run.kind !== "step" || r.displayName === run.displayName)).slice(0, 30);
      const boxes = others.map((r) => h("label", { class: "pick-run" }, h("input", { type: "checkbox", value: r.runId, checked: withIds.includes(r.runId) }),
        ` ${r.displayName || r.runId} `, h("span", { class: "muted" }, `${r.runId} · ${r.status}`)));
      const show = h("button", { type: "button", id: "show-compare" }, "Show on the charts");
      show.addEventListener("click", () => {
        const ids = boxes.map((b) => b.querySelector("input")).filter((i) => i.checked).map((i) => i.value);
        location.hash = `#/run/${encodeURIComponent(run.runId)}${ids.length ? `?with=${ids.map(encodeURIComponent).join(",")}` : ""}`;
      });
      clear(list).append(...(others.length ? [h("fieldset", {}, h("legend", {}, `Other ${run.kind} runs of ${run.experiment}`), boxes), show]
        : [h("p", { class: "muted" }, "no other run of this kind in this experiment")]));
    } catch (error) { clear(list).append(errorBox(error)); }
  });
  return box;
}

export function metricsSection(root, run, query) {
  const withIds = (query.get("with") || "").split(",").map((s) => s.trim()).filter(Boolean).filter((id) => id !== run.runId);
  const body = h("div", { id: "metrics-body" }, h("p", { class: "muted" }, "reading metrics…"));
  const images = h("div", { id: "images", class: "cards" });
  root.append(h("section", { id: "metrics", "aria-labelledby": "metrics-h" }, h("h2", { id: "metrics-h" }, "Metrics"),
    picker(run, withIds), body),
  h("section", { id: "images-section", "aria-labelledby": "images-h" }, h("h2", { id: "images-h" }, "Images"), images));
  let others = null, last = "", lastImages = "";
  const load = async (current) => {
    if (others === null) {
      others = await Promise.all(withIds.map(async (id) => {
        try {
          const [info, data] = await Promise.all([get(`/api/v1/page/runs/${encodeURIComponent(id)}`), get(`/api/v1/runs/${encodeURIComponent(id)}/metrics`)]);
          return { id, label: `${info.displayName || id} (${id})`, series: seriesOf(data.metrics, data.kinds), metrics: data.metrics };
        } catch (error) { return { id, label: id, series: {}, metrics: {}, error }; }
      }));
    }
    const data = await get(`/api/v1/runs/${encodeURIComponent(current.runId)}/metrics`);
    const text = JSON.stringify(data);
    if (text !== last) { last = text; draw(current, data); }
    const names = JSON.stringify(current.images);
    if (names !== lastImages) {
      lastImages = names;
      clear(images).append(...(current.images.length ? current.images.map((n) => image(current.runId, n)) : [h("p", { class: "muted" }, "no images")]));
    }
  };
  const draw = (current, data) => {
    const mine = seriesOf(data.metrics, data.kinds);
    const label = `${current.displayName || current.runId} (${current.runId})`;
    const charts = Object.entries(mine).map(([name, points]) => {
      const series = [{ label, points }, ...others.filter((o) => o.series[name]).map((o) => ({ label: o.label, points: o.series[name] }))];
      return h("figure", { class: "card chart-card", "data-metric": name }, h("figcaption", {}, h("h3", {}, name)),
        lineChart({ title: name, series }), legend(series));
    });
    const singles = Object.entries(data.metrics).filter(([name, v]) => data.kinds[name] === "scalar" && !Array.isArray(v));
    const tables = Object.entries(data.metrics).filter(([name, v]) => (data.kinds[name] === "row" || data.kinds[name] === "table") && v && typeof v === "object");
    const missing = others.filter((o) => o.error).map((o) => h("p", { class: "error" }, `${o.id}: ${o.error.message}`));
    clear(body).append(...[...missing,
      charts.length ? h("div", { class: "cards charts" }, charts) : null,
      singles.length ? h("div", { class: "table-wrap" }, h("table", { id: "metric-values" },
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Metric"), h("th", { scope: "col" }, current.displayName || current.runId),
          others.map((o) => h("th", { scope: "col" }, o.label)))),
        h("tbody", {}, singles.map(([name, v]) => h("tr", { "data-metric": name }, h("th", { scope: "row" }, name), h("td", {}, String(v)),
          others.map((o) => h("td", {}, o.metrics[name] === undefined ? "" : JSON.stringify(o.metrics[name])))))))) : null,
      tables.length ? h("div", { class: "cards tables" }, tables.map(([name, v]) => dataTable(name, v))) : null,
      !charts.length && !singles.length && !tables.length ? h("p", { class: "muted" }, "no metrics") : null].filter(Boolean));
  };
  load(run).catch((error) => clear(body).append(errorBox(error)));
  return { refresh: (current) => load(current).catch(() => {}) };
}
