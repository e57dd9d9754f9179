// Models: each name with its versions (newest first), tags, framework, and the run that
// registered each version (Run.register_model / Model.register(..., run) keep it: #/run/ID).
import { h, table, when } from "../lib/dom.js";
import { get } from "../lib/api.js";

const enc = encodeURIComponent;

export function tags(values) {
  const entries = Object.entries(values || {});
  if (!entries.length) return h("span", { class: "muted" }, "none");
  return h("ul", { class: "tags" }, entries.map(([k, v]) => h("li", {}, h("span", { class: "tag" }, `${k}: ${v}`))));
}

export async function render(root, { parts, workspace }) {
  root.append(h("h1", {}, "Models"));
  const all = await get(`/api/v1/workspaces/${enc(workspace.id)}/models`);
  const wanted = parts[0];
  const models = wanted ? all.filter((m) => m.name === wanted) : all;
  if (!models.length) {
    root.append(h("p", { class: "muted" }, wanted ? `No model named ${wanted}.` : "No model yet: register one with ",
      wanted ? null : h("code", {}, "run.register_model(name, path)"), wanted ? null : " or Model.register(ws, path, name)."));
    return null;
  }
  const byName = new Map();
  for (const m of models) { if (!byName.has(m.name)) byName.set(m.name, []); byName.get(m.name).push(m); }
  for (const [name, versions] of [...byName.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    versions.sort((a, b) => b.version - a.version);
    root.append(h("section", { class: "card model", dataset: { model: name } },
      h("h2", {}, name, " ", h("span", { class: "muted" }, `(${versions.length} version${versions.length === 1 ? "" : "s"}, latest ${versions[0].version})`)),
      h("div", { class: "table-wrap" }, table([
        { title: "Version", value: (m) => String(m.version), class: "num" },
        { title: "Registered", value: (m) => when(m.createdUtc) },
        { title: "Registered by run", value: (m) => m.runId
          ? h("a", { href: `#/run/${enc(m.runId)}`, class: "registered-by" }, m.runId)
          : h("span", { class: "muted" }, "none (registered from a file)") },
        { title: "Tags", value: (m) => tags(m.tags) },
        { title: "Framework", class: "hide-narrow", value: (m) => [m.framework, m.frameworkVersion].filter(Boolean).join(" ") },
        { title: "Description", class: "hide-narrow", value: (m) => m.description || "" },
      ], versions, { class: "catalog model-versions", "aria-label": `Versions of model ${name}` }))));
  }
  return null;
}
