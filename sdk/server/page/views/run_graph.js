// A pipeline run's step graph (lib/graph.js) with each step's reuse report, kept live by
// refresh(); the "Rerun this step" button (as `amlocal run rerun-step`).
import { h, clear, statusBadge, duration, errorBox } from "../lib/dom.js";
import { get, post } from "../lib/api.js";
import { drawGraph } from "../lib/graph.js";

const runHref = (id) => `#/run/${encodeURIComponent(id)}`;

// The reuse report of a step: ran or reused, and why (which parts of the key changed).
export function reuseReport(node) {
  const r = node.reuse;
  if (!r) return h("p", { class: "muted reuse-report" }, node.reused ? "reused" : "no reuse decision recorded yet");
  const reused = r.decision === "reused";
  return h("div", { class: "reuse-report" },
    h("p", {}, h("strong", { class: reused ? "reused" : null }, reused ? "Reused" : "Ran"), ": ",
      h("span", { class: "reuse-reason" }, r.reason || "")),
    r.changed && r.changed.length ? h("p", {}, "Changed: ", r.changed.flatMap((c, i) => [i ? ", " : "", h("code", { class: "changed-part" }, c)])) : null,
    r.reused_from ? h("p", {}, "Outputs of ", h("a", { href: runHref(r.reused_from) }, r.reused_from)) : null,
    r.compared_with ? h("p", {}, "Compared with ", h("a", { href: runHref(r.compared_with) }, r.compared_with)) : null);
}

export function rerunButton(pipelineRunId, stepName) {
  const note = h("span", { class: "rerun-note", role: "status" });
  const button = h("button", { type: "button", class: "rerun", "data-step": stepName,
    "aria-label": `Rerun step ${stepName}` }, "Rerun this step");
  button.addEventListener("click", async () => {
    button.disabled = true;
    note.textContent = "submitting…";
    try {
      const answer = await post(`/api/v1/page/runs/${encodeURIComponent(pipelineRunId)}/rerun-step`, { step: stepName });
      note.textContent = `started ${answer.runId}`;
      location.hash = runHref(answer.runId);
    } catch (error) {
      note.textContent = "";
      note.append(errorBox(error));
      button.disabled = false;
    }
  });
  return h("span", { class: "rerun-box" }, button, " ", note);
}

function stepRow(node, runId) {
  return h("tr", { "data-step": node.name },
    h("td", {}, node.runId ? h("a", { href: runHref(node.runId) }, node.name) : node.name),
    h("td", { class: "step-status" }, statusBadge(node.status), node.reused ? h("span", { class: "reused" }, " reused") : null),
    h("td", { class: "step-why" }, node.reuse ? node.reuse.reason : ""),
    h("td", { class: "hide-narrow" }, duration(node.startTimeUtc, node.endTimeUtc)),
    h("td", {}, node.runId ? rerunButton(runId, node.name) : ""));
}

export async function graphSection(root, run) {
  const url = `/api/v1/page/runs/${encodeURIComponent(run.runId)}/graph`;
  let graph = await get(url);
  const panel = h("aside", { class: "node-panel", id: "node-panel", "aria-live": "polite" },
    h("p", { class: "muted" }, "Focus a step (Tab) to see why it ran or was reused; Enter opens it."));
  const holder = h("div", { class: "graph-wrap", id: "graph" });
  const section = h("section", { id: "steps", "aria-labelledby": "graph-h" },
    h("h2", { id: "graph-h" }, `Steps (${graph.nodes.length})`),
    h("div", { class: "graph-layout" }, holder, panel));
  root.append(section);
  let selected = null;
  const byId = () => new Map(graph.nodes.map((n) => [n.id, n]));
  const showPanel = (id) => {
    selected = id;
    const node = byId().get(id);
    if (!node) return;
    const parts = [h("h3", {}, node.name), h("p", {}, statusBadge(node.status), node.reused ? h("span", { class: "reused" }, " reused") : null),
      reuseReport(node),
      node.inputs.length ? h("p", {}, "Reads: ", node.inputs.join(", ")) : null,
      node.outputs.length ? h("p", {}, "Outputs: ", node.outputs.join(", ")) : null,
      node.runId ? h("p", {}, h("a", { href: runHref(node.runId) }, "Open this step"), " · ", rerunButton(run.runId, node.name)) : null];
    clear(panel).append(...parts.filter(Boolean));   // append() would write "null" for a missing part
  };
  if (!graph.nodes.length) holder.append(h("p", { class: "muted" }, "this run recorded no steps"));
  const drawn = !graph.nodes.length ? { update() {} } : drawGraph(holder, graph, {
    onOpen: (id) => { const node = byId().get(id); if (node && node.runId) location.hash = runHref(node.runId); else showPanel(id); },
    onSelect: showPanel,
  });
  // the same steps as a table: their reasons in words (and a way that needs no graph)
  const tbody = h("tbody", {}, graph.nodes.map((n) => stepRow(n, run.runId)));
  const details = h("details", { class: "steps-table", id: "steps-table", open: graph.nodes.length <= 30 },
    h("summary", {}, "Steps as a table: status and why each ran or was reused"),
    h("div", { class: "table-wrap" }, h("table", {},
      h("thead", {}, h("tr", {}, ["Step", "Status", "Why", "Duration", ""].map((t, i) => h("th", { scope: "col", class: i === 3 ? "hide-narrow" : null }, t)))),
      tbody)));
  section.append(details);
  return {
    async refresh() {
      let next;
      try { next = await get(url); } catch (error) { return; }
      const changed = JSON.stringify(next.nodes) !== JSON.stringify(graph.nodes);
      graph = next;
      if (!changed) return;
      drawn.update(graph);
      clear(tbody).append(...graph.nodes.map((n) => stepRow(n, run.runId)));
      if (selected && !panel.contains(document.activeElement)) showPanel(selected);
    },
  };
}
