// Published pipelines: #/pipelines lists them (name, id, status, created, steps, endpoint URL)
// with enable/disable; #/pipelines/<id> shows one with its submit form (catalog_submit.js).
import { h, clear, table, statusBadge, when, errorBox } from "../lib/dom.js";
import { get, post } from "../lib/api.js";
import { submitForm } from "./catalog_submit.js";

const enc = encodeURIComponent;

export async function render(root, { parts, workspace }) {
  if (parts[0]) return renderOne(root, parts[0], workspace);
  return renderList(root, workspace);
}

function statusButton(pipeline, onChange) {
  const active = pipeline.status === "Active";
  const button = h("button", { type: "button", class: "status-toggle",
    "aria-label": `${active ? "Disable" : "Enable"} pipeline ${pipeline.name}` }, active ? "Disable" : "Enable");
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      const answer = await post(`/api/v1/page/pipelines/${enc(pipeline.id)}/status`,
        { status: active ? "Disabled" : "Active" });
      onChange(answer.status);
    } catch (error) {
      button.after(errorBox(error));
      button.disabled = false;
    }
  });
  return button;
}

async function renderList(root, workspace) {
  root.append(h("h1", {}, "Published pipelines"));
  const body = h("div", { class: "table-wrap" });
  root.append(body);
  const load = async () => {
    const pipelines = await get(`/api/v1/workspaces/${enc(workspace.id)}/pipelines`);
    clear(body);
    if (!pipelines.length) {
      body.append(h("p", { class: "muted" }, "No published pipeline yet: publish one with ",
        h("code", {}, "pipeline.publish(name=...)"), " or ", h("code", {}, "amlocal pipeline publish"), "."));
      return;
    }
    pipelines.sort((a, b) => (b.createdUtc || "").localeCompare(a.createdUtc || ""));
    body.append(table([
      { title: "Name", value: (p) => h("a", { href: `#/pipelines/${enc(p.id)}` }, p.name) },
      { title: "Id", value: (p) => h("code", { class: "id", title: p.id }, p.id) },
      { title: "Status", value: (p) => statusBadge(p.status) },
      { title: "Created", value: (p) => when(p.createdUtc) },
      { title: "Steps", value: (p) => String(p.totalRunSteps), class: "num" },
      { title: "Endpoint", class: "hide-narrow", value: (p) => p.endpoint ? h("code", { class: "url" }, p.endpoint) : "" },
      { title: "Actions", value: (p) => h("div", { class: "actions" },
        h("a", { href: `#/pipelines/${enc(p.id)}`, class: "button-link", "aria-label": `Submit pipeline ${p.name}` }, "Submit…"),
        statusButton(p, load)) },
    ], pipelines, { class: "catalog pipelines" }));
  };
  await load();
}

async function renderOne(root, id, workspace) {
  const [pipeline, form] = await Promise.all([
    get(`/api/v1/pipelines/${enc(id)}`),
    get(`/api/v1/page/workspaces/${enc(workspace.id)}/pipelines/${enc(id)}/form`),
  ]);
  const status = h("span", {}, statusBadge(pipeline.status));
  const toggle = h("span", {});
  const setStatus = (value) => {
    pipeline.status = value;
    status.replaceChildren(statusBadge(value));
    toggle.replaceChildren(statusButton(pipeline, setStatus));
  };
  setStatus(pipeline.status);
  root.append(
    h("p", { class: "crumbs" }, h("a", { href: "#/pipelines" }, "Published pipelines"), " / "),
    h("h1", {}, pipeline.name),
    h("dl", { class: "facts" },
      h("dt", {}, "Id"), h("dd", {}, h("code", {}, pipeline.id)),
      h("dt", {}, "Status"), h("dd", {}, status, " ", toggle),
      h("dt", {}, "Created"), h("dd", {}, when(pipeline.createdUtc)),
      h("dt", {}, "Steps"), h("dd", {}, `${pipeline.totalRunSteps}: ${form.steps.join(", ")}`),
      pipeline.description ? [h("dt", {}, "Description"), h("dd", {}, pipeline.description)] : null,
      pipeline.version ? [h("dt", {}, "Version"), h("dd", {}, pipeline.version)] : null,
      h("dt", {}, "REST endpoint"), h("dd", {}, h("code", { class: "url" }, pipeline.endpoint || ""))),
    h("h2", {}, "Submit with parameters"));
  return submitForm(root, { form, submitPath: form.submitPath, title: `Submit ${pipeline.name}`,
    note: "Values are checked against each parameter's type before anything is sent; submitting needs a key of this server." });
}
