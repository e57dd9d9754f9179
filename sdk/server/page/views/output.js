// A run's outputs and files.
//   #/output/<runId>                 its outputs (a pipeline run: each step's) and its own files
//   #/output/<runId>?path=P          a folder or file of the run's own files (outputs/, logs/)
//   #/output/<runId>/<output>?path=P a folder or file of one output of a step run
// Files are browsed and downloaded; tables (CSV, TSV, Parquet, a folder of them) are shown as
// Studio classic's "Visualize" did (views/output_browse.js, lib/columns.js).
import { h, table, statusBadge, errorBox } from "../lib/dom.js";
import { get } from "../lib/api.js";
import { browse } from "./output_browse.js";

const e = encodeURIComponent;
const runLink = (run) => h("a", { href: `#/run/${e(run.runId)}` }, run.displayName || run.runId);

function header(run, what) {
  return [
    h("h1", {}, what),
    h("p", { class: "muted" }, run.kind === "step" ? "Step run " : run.kind === "pipeline" ? "Pipeline run " : "Run ",
      runLink(run), " of experiment ", run.experiment, " ", statusBadge(run.status),
      run.parentRunId ? [" · pipeline run ", h("a", { href: `#/run/${e(run.parentRunId)}` }, run.parentRunId)] : null),
  ];
}

function outputRows(runId, outputs) {
  return Object.entries(outputs).map(([name, loc]) => ({ runId, name, ...loc }));
}

function outputsTable(rows, withStep) {
  const columns = [
    withStep ? { title: "Step", value: (r) => h("a", { href: `#/run/${e(r.runId)}` }, r.step) } : null,
    { title: "Output", value: (r) => h("a", { href: `#/output/${e(r.runId)}/${e(r.name)}`, class: "output-link" }, r.name) },
    { title: "Datastore", value: (r) => r.datastore },
    { title: "Path", value: (r) => h("code", {}, r.path), class: "hide-narrow" },
  ].filter(Boolean);
  return h("div", { class: "table-wrap" }, table(columns, rows, { "aria-label": "Outputs" }));
}

async function overview(root, run, path) {
  root.append(...header(run, path ? "Files" : "Outputs"));
  if (!path) {
    const outputs = await get(`/api/v1/runs/${e(run.runId)}/outputs`);
    let rows = outputRows(run.runId, outputs.outputs || {});
    const steps = outputs.steps || [];
    steps.forEach((s) => { rows = rows.concat(outputRows(s.runId, s.outputs).map((r) => ({ ...r, step: s.name || s.runId }))); });
    root.append(h("h2", {}, "Outputs"));
    if (rows.length) root.append(outputsTable(rows, steps.length > 0));
    else root.append(h("p", { class: "muted" }, run.kind === "pipeline" ? "No step of this run has outputs." : "This run has no outputs."));
    root.append(h("h2", {}, "Files of this run"));
  }
  const section = h("div", { class: "browse" });
  root.append(section);
  await browse(section, {
    api: `/api/v1/page/runs/${e(run.runId)}/artifacts`,
    download: (p) => `/api/v1/runs/${e(run.runId)}/artifacts/${p.split("/").map(e).join("/")}`,
    hrefFor: (p) => `#/output/${e(run.runId)}${p ? `?path=${e(p)}` : ""}`,
    rootName: "files", previewFolders: false,
  }, path);
}

async function oneOutput(root, run, name, path) {
  root.append(...header(run, `Output ${name}`));
  root.append(h("p", {}, h("a", { href: `#/output/${e(run.runId)}` }, "All outputs of this run")));
  const section = h("div", { class: "browse" });
  root.append(section);
  const api = `/api/v1/page/runs/${e(run.runId)}/outputs/${e(name)}`;
  await browse(section, {
    api,
    download: (p) => `${api}/download?path=${e(p)}`,
    hrefFor: (p) => `#/output/${e(run.runId)}/${e(name)}${p ? `?path=${e(p)}` : ""}`,
    rootName: name, previewFolders: true,
  }, path);
}

export async function render(root, { parts, query }) {
  const [runId, name] = parts;
  if (!runId) {
    root.append(h("h1", {}, "Outputs"), errorBox("no run given: open a run's outputs from its page (#/output/<run id>)"));
    return;
  }
  const run = await get(`/api/v1/runs/${e(runId)}`);
  const path = query.get("path") || "";
  if (name && run.kind === "pipeline") {            // a pipeline run's output: its step's
    const outputs = await get(`/api/v1/runs/${e(run.runId)}/outputs`);
    const step = (outputs.steps || []).find((s) => name in (s.outputs || {}));
    if (step) {
      location.replace(`#/output/${e(step.runId)}/${e(name)}${path ? `?path=${e(path)}` : ""}`);
      return;
    }
  }
  if (name) await oneOutput(root, run, name, path);
  else await overview(root, run, path);
}
