// Pipeline endpoints: #/endpoints lists them with their versions (version, pipeline, which is
// the default) and status; a control per version makes it the default (PUT
// /api/v1/page/endpoints/{id}/default, PipelineEndpoint.set_default_version); #/endpoints/<id>
// (?version=V) submits the endpoint with the form of that version's pipeline.
import { h, clear, table, statusBadge, when, errorBox } from "../lib/dom.js";
import { get, post, put } from "../lib/api.js";
import { submitForm } from "./catalog_submit.js";

const enc = encodeURIComponent;

export async function render(root, { parts, query, workspace }) {
  if (parts[0]) return renderOne(root, parts[0], query.get("version"), workspace);
  root.append(h("h1", {}, "Pipeline endpoints"));
  const list = h("div", { class: "endpoint-list" });
  root.append(list);
  const endpoints = await get(`/api/v1/page/workspaces/${enc(workspace.id)}/endpoints`);
  if (!endpoints.length) {
    list.append(h("p", { class: "muted" }, "No pipeline endpoint yet: make one with ",
      h("code", {}, "PipelineEndpoint.publish(ws, name, description, pipeline)"), "."));
  }
  for (const endpoint of endpoints) list.append(endpointCard(endpoint));
}

function versionsTable(endpoint, onChange) {
  return table([
    { title: "Version", value: (v) => v.version },
    { title: "Pipeline", value: (v) => h("a", { href: `#/pipelines/${enc(v.pipelineId)}` }, v.pipelineName || v.pipelineId) },
    { title: "Pipeline status", class: "hide-narrow", value: (v) => v.pipelineStatus ? statusBadge(v.pipelineStatus) : "" },
    { title: "Default", value: (v) => v.isDefault
      ? h("strong", { class: "default-version" }, "Default")
      : defaultButton(endpoint, v, onChange) },
    { title: "Submit", value: (v) => h("a", { href: `#/endpoints/${enc(endpoint.id)}?version=${enc(v.version)}`,
      "aria-label": `Submit version ${v.version} of ${endpoint.name}` }, "Submit…") },
  ], endpoint.versions, { class: "catalog versions", "aria-label": `Versions of ${endpoint.name}` });
}

function defaultButton(endpoint, version, onChange) {
  const button = h("button", { type: "button", class: "make-default", dataset: { version: version.version },
    "aria-label": `Make version ${version.version} the default of ${endpoint.name}` }, "Make default");
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      onChange(await put(`/api/v1/page/endpoints/${enc(endpoint.id)}/default`, { version: version.version }));
    } catch (error) {
      button.disabled = false;
      button.after(errorBox(error));
    }
  });
  return button;
}

function statusButton(endpoint, onChange) {
  const active = endpoint.status === "Active";
  const button = h("button", { type: "button", class: "status-toggle",
    "aria-label": `${active ? "Disable" : "Enable"} endpoint ${endpoint.name}` }, active ? "Disable" : "Enable");
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      onChange(await post(`/api/v1/page/endpoints/${enc(endpoint.id)}/status`, { status: active ? "Disabled" : "Active" }));
    } catch (error) {
      button.disabled = false;
      button.after(errorBox(error));
    }
  });
  return button;
}

function endpointCard(endpoint) {
  const card = h("section", { class: "card endpoint", dataset: { endpoint: endpoint.name } });
  const fill = (e) => {
    clear(card).append(
      h("h2", {}, h("a", { href: `#/endpoints/${enc(e.id)}` }, e.name)),
      h("dl", { class: "facts" },
        h("dt", {}, "Id"), h("dd", {}, h("code", {}, e.id)),
        h("dt", {}, "Status"), h("dd", {}, statusBadge(e.status), " ", statusButton(e, fill)),
        h("dt", {}, "Default version"), h("dd", { class: "default-of-endpoint" }, e.defaultVersion),
        e.description ? [h("dt", {}, "Description"), h("dd", {}, e.description)] : null,
        h("dt", {}, "Updated"), h("dd", {}, when(e.updatedUtc)),
        h("dt", {}, "REST endpoint"), h("dd", {}, h("code", { class: "url" }, location.origin + e.submitPath))),
      h("div", { class: "table-wrap" }, versionsTable(e, fill)),
      h("p", {}, h("a", { href: `#/endpoints/${enc(e.id)}`, class: "button-link" }, `Submit ${e.name} (default version)…`)));
  };
  fill(endpoint);
  return card;
}

async function renderOne(root, id, version, workspace) {
  const endpoints = await get(`/api/v1/page/workspaces/${enc(workspace.id)}/endpoints`);
  const endpoint = endpoints.find((e) => e.id === id || e.name === id);
  root.append(h("p", { class: "crumbs" }, h("a", { href: "#/endpoints" }, "Pipeline endpoints"), " / "));
  if (!endpoint) { root.append(h("h1", {}, "Endpoint not found"), errorBox(`no pipeline endpoint ${id} in this workspace`)); return null; }
  const chosen = endpoint.versions.find((v) => v.version === (version ?? endpoint.defaultVersion));
  if (!chosen) { root.append(h("h1", {}, endpoint.name), errorBox(`endpoint ${endpoint.name} has no version ${version}`)); return null; }
  const form = await get(`/api/v1/page/workspaces/${enc(workspace.id)}/pipelines/${enc(chosen.pipelineId)}/form`);
  const path = version == null ? endpoint.submitPath : `${endpoint.submitPath}/${enc(chosen.version)}`;
  root.append(h("h1", {}, `Submit ${endpoint.name}`),
    h("dl", { class: "facts" },
      h("dt", {}, "Status"), h("dd", {}, statusBadge(endpoint.status)),
      h("dt", {}, "Version"), h("dd", {}, version == null ? `${chosen.version} (the default)` : chosen.version),
      h("dt", {}, "Pipeline"), h("dd", {}, h("a", { href: `#/pipelines/${enc(chosen.pipelineId)}` }, chosen.pipelineName || chosen.pipelineId))));
  return submitForm(root, { form, submitPath: path, title: `Submit ${endpoint.name}`,
    note: "The form is built from this version's pipeline parameters; submitting needs a key of this server." });
}
