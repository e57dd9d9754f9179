// Web services: deployed models (Model.deploy) and pipeline services
// (Webservice.deploy_pipeline) with their state, scoring URI and log (shown on request and
// refreshed while open).
import { h, clear, table, statusBadge, errorBox } from "../lib/dom.js";
import { get } from "../lib/api.js";

const enc = encodeURIComponent;
const REFRESH_MS = 5000;

export async function render(root, { workspace }) {
  let timer = null;
  let stopped = false;
  root.append(h("h1", {}, "Web services"));
  const body = h("div", { class: "table-wrap" });
  const logPanel = h("section", { class: "service-log", "aria-live": "polite" });
  root.append(body, logPanel);
  const base = `/api/v1/page/workspaces/${enc(workspace.id)}/services`;
  let services;
  try {
    services = await get(base);
  } catch (error) {
    body.append(errorBox(error));
    return null;
  }
  if (!services.length) {
    body.append(h("p", { class: "muted" }, "No web service yet: deploy a model with ",
      h("code", {}, "Model.deploy(ws, name, models, inference_config)"), " or a pipeline with ",
      h("code", {}, "Webservice.deploy_pipeline(ws, name, pipeline)"), "."));
    return null;
  }
  const showLog = async (service) => {
    if (timer) clearTimeout(timer);
    const pre = h("pre", { class: "log", tabindex: "0", "aria-label": `Log of ${service.name}` }, "Loading…");
    const state = h("span", {}, statusBadge(service.state));
    clear(logPanel).append(h("h2", {}, `Log of ${service.name} `, state), pre);
    const tick = async () => {
      if (stopped) return;
      try {
        const logs = await get(`${base}/${enc(service.name)}/logs`);
        state.replaceChildren(statusBadge(logs.state));
        pre.textContent = (logs.truncated ? "(earlier lines left out)\n" : "") + (logs.text || "(empty)");
      } catch (error) {
        pre.replaceChildren(errorBox(error));
      }
      if (!stopped) timer = setTimeout(tick, REFRESH_MS);
    };
    await tick();
    pre.focus();
  };
  body.append(table([
    { title: "Name", value: (s) => s.name },
    { title: "Kind", value: (s) => s.kind === "pipeline" ? "Pipeline service" : "Deployed model" },
    { title: "State", value: (s) => [statusBadge(s.state), s.error ? h("span", { class: "muted" }, ` ${s.error}`) : null] },
    { title: "Scoring URI", class: "hide-narrow", value: (s) => s.scoringUri ? h("code", { class: "url" }, s.scoringUri) : "" },
    { title: "Log", value: (s) => h("button", { type: "button", "aria-label": `Show the log of ${s.name}`, onclick: () => showLog(s) }, "Show log") },
  ], services, { class: "catalog services" }));
  return () => { stopped = true; if (timer) clearTimeout(timer); };
}
