// Datasets: each registered dataset with its versions (newest first) and the runs that read
// it (step runs whose definition's inputDatasets name it: the page JSON
// GET /api/v1/page/workspaces/{ws}/datasets/lineage).
import { h, table, statusBadge, when } from "../lib/dom.js";
import { get } from "../lib/api.js";
import { tags } from "./models.js";

const enc = encodeURIComponent;

export async function render(root, { parts, workspace }) {
  root.append(h("h1", {}, "Datasets"));
  const wanted = parts[0];
  const query = wanted ? `?name=${enc(wanted)}` : "";
  const datasets = await get(`/api/v1/page/workspaces/${enc(workspace.id)}/datasets/lineage${query}`);
  if (!datasets.length) {
    root.append(h("p", { class: "muted" }, "No dataset yet: register one with ",
      h("code", {}, "Dataset.File.from_files(...).register(ws, name)"), "."));
    return null;
  }
  for (const d of datasets) {
    root.append(h("section", { class: "card dataset", dataset: { dataset: d.name } },
      h("h2", {}, d.name, " ", h("span", { class: "muted" }, `(${d.versions[0].type}, latest version ${d.versions[0].version})`)),
      h("h3", {}, "Versions"),
      h("div", { class: "table-wrap" }, table([
        { title: "Version", value: (v) => String(v.version), class: "num" },
        { title: "Registered", value: (v) => when(v.createdUtc) },
        { title: "Type", value: (v) => v.type },
        { title: "Id", class: "hide-narrow", value: (v) => h("code", { class: "id", title: v.id }, v.id.slice(0, 16)) },
        { title: "Tags", value: (v) => tags(v.tags) },
        { title: "Description", class: "hide-narrow", value: (v) => v.description || "" },
      ], d.versions, { class: "catalog dataset-versions", "aria-label": `Versions of dataset ${d.name}` })),
      h("h3", {}, "Runs that read it"),
      d.runs.length ? h("div", { class: "table-wrap" }, table([
        { title: "Run", value: (r) => h("a", { href: `#/run/${enc(r.runId)}`, class: "reader" }, r.name || r.runId) },
        { title: "Pipeline run", class: "hide-narrow", value: (r) => r.parentRunId ? h("a", { href: `#/run/${enc(r.parentRunId)}` }, r.parentRunId.slice(0, 12)) : "" },
        { title: "Experiment", value: (r) => r.experiment },
        { title: "Input", value: (r) => r.input },
        { title: "Version", value: (r) => r.version == null ? "" : String(r.version), class: "num" },
        { title: "Status", value: (r) => statusBadge(r.status) },
        { title: "Created", class: "hide-narrow", value: (r) => when(r.createdUtc) },
      ], d.runs, { class: "catalog dataset-runs", "aria-label": `Runs that read ${d.name}` }))
        : h("p", { class: "muted" }, "No run has read it yet.")));
  }
  return null;
}
