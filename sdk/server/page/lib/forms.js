// Form fields of a pipeline's parameters, built from their default types (the page JSON of
// GET /api/v1/page/workspaces/{ws}/pipelines/{id}/form), each checked in the page before the
// form is submitted: a wrong value gets a message next to its field and nothing is sent.
import { h } from "./dom.js";

let serial = 0;
const fieldId = (name) => `param-${++serial}-${String(name).replace(/[^\w-]/g, "_")}`;

const INT = /^[+-]?\d+$/;
const FLOAT = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

// A value typed for a parameter: {ok: true, value} or {ok: false, message}.
export function checkScalar(type, raw) {
  const text = String(raw ?? "").trim();
  if (type === "int") {
    if (!INT.test(text)) return { ok: false, message: `takes a whole number (int), e.g. 3; "${text}" is not one` };
    const value = Number(text);
    if (!Number.isSafeInteger(value)) return { ok: false, message: `${text} is too large for an int here` };
    return { ok: true, value };
  }
  if (type === "float") {
    if (!FLOAT.test(text) || !Number.isFinite(Number(text))) {
      return { ok: false, message: `takes a number (float), e.g. 0.5; "${text}" is not one` };
    }
    return { ok: true, value: Number(text) };
  }
  if (type === "bool") return { ok: true, value: raw === true || text === "true" };
  return { ok: true, value: String(raw ?? "") };
}

// A relative path on a datastore: no leading slash, no "..", no backslash.
export function checkPath(raw) {
  const text = String(raw ?? "").trim();
  if (text.startsWith("/") || text.includes("\\")) return { ok: false, message: "give a path relative to the datastore's root (no leading / or \\)" };
  if (text.split("/").includes("..")) return { ok: false, message: "a path on a datastore cannot go up with .." };
  return { ok: true, value: text };
}

function errorSlot(id) {
  return h("p", { class: "field-error", id: `${id}-error`, role: "alert", hidden: true });
}

function showError(slot, inputs, message) {
  slot.textContent = message ? message : "";
  slot.hidden = !message;
  for (const input of inputs) {
    if (message) { input.setAttribute("aria-invalid", "true"); input.setAttribute("aria-describedby", slot.id); }
    else { input.removeAttribute("aria-invalid"); }
  }
}

// A shown error is checked again as the value is typed (never on blur: a message appearing as
// the focus leaves would move the button being clicked).
function recheck(inputs, slot, read) {
  for (const input of inputs) {
    input.addEventListener("input", () => { if (!slot.hidden) read(); });
  }
}

function typeLabel(param) {
  if (param.type === "datapath") return "DataPath";
  if (param.type === "dataset") return param.datasetType || "dataset";
  return param.type;
}

function scalarField(param, id) {
  let input;
  if (param.type === "bool") {
    input = h("input", { id, type: "checkbox", name: param.name, checked: param.default === true });
  } else {
    input = h("input", { id, name: param.name, type: "text", autocomplete: "off",
      inputmode: param.type === "int" ? "numeric" : param.type === "float" ? "decimal" : null,
      value: param.default === null || param.default === undefined ? "" : String(param.default) });
  }
  const slot = errorSlot(id);
  const node = h("div", { class: "field", dataset: { param: param.name, type: param.type } },
    h("label", { for: id }, h("span", { class: "field-name" }, param.name), " ",
      h("span", { class: "muted" }, `(${typeLabel(param)}, default ${JSON.stringify(param.default)})`)),
    input, slot);
  const read = () => {
    const result = checkScalar(param.type, param.type === "bool" ? input.checked : input.value);
    showError(slot, [input], result.ok ? "" : `${param.name} ${result.message}`);
    return { ...result, kind: "scalar", input };
  };
  recheck([input], slot, read);
  return { node, read };
}

function datapathField(param, id, context) {
  const stores = context.datastores || [];
  const select = h("select", { id: `${id}-store`, name: `${param.name}.datastore` },
    stores.map((s) => h("option", { value: s, selected: s === param.datastore }, s)));
  const path = h("input", { id: `${id}-path`, name: `${param.name}.path`, type: "text",
    autocomplete: "off", value: param.path || "" });
  const slot = errorSlot(id);
  const node = h("fieldset", { class: "field", dataset: { param: param.name, type: param.type } },
    h("legend", {}, h("span", { class: "field-name" }, param.name), " ",
      h("span", { class: "muted" }, `(DataPath, default ${param.datastore}/${param.path || ""})`)),
    h("div", { class: "field-row" },
      h("div", { class: "sub" }, h("label", { for: select.id }, "Datastore"), select),
      h("div", { class: "sub" }, h("label", { for: path.id }, "Path"), path)),
    slot);
  const read = () => {
    let result = stores.includes(select.value) ? checkPath(path.value)
      : { ok: false, message: `datastore "${select.value}" is not a datastore of this workspace` };
    if (result.ok) result = { ok: true, value: { DataStoreName: select.value, RelativePath: result.value } };
    showError(slot, [select, path], result.ok ? "" : `${param.name}: ${result.message}`);
    return { ...result, kind: "datapath", input: path };
  };
  recheck([select, path], slot, read);
  return { node, read };
}

function datasetField(param, id, context) {
  const wanted = param.datasetType || "FileDataset";
  const datasets = (context.datasets || []).filter((d) => d.versions.some((v) => v.type === wanted));
  const name = h("select", { id: `${id}-name`, name: `${param.name}.dataset` },
    h("option", { value: "" }, "(the default)"),
    datasets.map((d) => h("option", { value: d.name }, d.name)));
  const version = h("select", { id: `${id}-version`, name: `${param.name}.version`, disabled: true });
  const fillVersions = () => {
    version.replaceChildren();
    const found = datasets.find((d) => d.name === name.value);
    version.disabled = !found;
    if (found) for (const v of found.versions) version.append(h("option", { value: v.id, dataset: { version: String(v.version) } }, `version ${v.version}`));
  };
  name.addEventListener("change", fillVersions);
  const slot = errorSlot(id);
  recheck([name, version], slot, () => read());
  const shownDefault = param.datasetName ? `${param.datasetName} version ${param.datasetVersion}` : "an unregistered dataset";
  const node = h("fieldset", { class: "field", dataset: { param: param.name, type: param.type } },
    h("legend", {}, h("span", { class: "field-name" }, param.name), " ",
      h("span", { class: "muted" }, `(${wanted}, default ${shownDefault})`)),
    h("div", { class: "field-row" },
      h("div", { class: "sub" }, h("label", { for: name.id }, "Dataset"), name),
      h("div", { class: "sub" }, h("label", { for: version.id }, "Version"), version)),
    datasets.length ? null : h("p", { class: "muted" }, `no registered ${wanted} in this workspace: the default is used`),
    slot);
  const read = () => {
    if (!name.value) { showError(slot, [name], ""); return { ok: true, kind: "dataset", value: null, input: name }; }
    const found = datasets.find((d) => d.name === name.value);
    const chosen = found && found.versions.find((v) => v.id === version.value);
    let result;
    if (!chosen) result = { ok: false, message: `choose a version of dataset ${name.value}` };
    else if (chosen.type !== wanted) result = { ok: false, message: `takes a ${wanted}; ${name.value} version ${chosen.version} is a ${chosen.type}` };
    else result = { ok: true, value: { SavedDataSetReference: { Id: chosen.id, Version: String(chosen.version) } } };
    showError(slot, [name, version], result.ok ? "" : `${param.name}: ${result.message}`);
    return { ...result, kind: "dataset", input: name };
  };
  return { node, read };
}

// One field per parameter: {node, read() -> {ok, kind, value, message, input}}.
export function parameterField(param, context = {}) {
  const id = fieldId(param.name);
  if (param.type === "datapath") return datapathField(param, id, context);
  if (param.type === "dataset") return datasetField(param, id, context);
  return scalarField(param, id);
}

// Azure's PipelineSubmissionInfo from the fields, or {problems: [first invalid input, ...]}.
export function submissionBody(fields, experiment) {
  const body = { ExperimentName: experiment, ParameterAssignments: {}, DataPathAssignments: {},
    DataSetDefinitionValueAssignments: {} };
  const problems = [];
  for (const [name, field] of fields) {
    const result = field.read();
    if (!result.ok) { problems.push(result.input); continue; }
    if (result.kind === "scalar") body.ParameterAssignments[name] = result.value;
    else if (result.kind === "datapath") body.DataPathAssignments[name] = result.value;
    else if (result.value) body.DataSetDefinitionValueAssignments[name] = result.value;
  }
  return { body, problems };
}
