// A run's page: what it is, live while it runs (the page JSON polled every second until the
// run is terminal, no reload), its step graph (a pipeline run), its reuse report and a rerun
// button (a step), its log (tailed), metrics (charts, tables), images, properties, tags and
// parameters, with links to its outputs, parent and children.
import { h, clear, statusBadge, when, duration, errorBox, table } from "../lib/dom.js";
import { get } from "../lib/api.js";
import { poll, stopAll } from "../lib/poll.js";
import { graphSection, reuseReport, rerunButton } from "./run_graph.js";
import { logSection } from "./run_log.js";
import { metricsSection } from "./run_metrics.js";

const runLink = (id, text) => h("a", { href: `#/run/${encodeURIComponent(id)}` }, text || id);
const api = (id) => `/api/v1/page/runs/${encodeURIComponent(id)}`;

function facts(run) {
  const rows = [
    ["Run id", h("code", {}, run.runId)],
    ["Experiment", h("a", { href: `#/runs?experiment=${encodeURIComponent(run.experiment)}` }, run.experiment)],
    ["Kind", run.kind],
    ["Submitted by", h("span", { id: "submitted-by" }, run.submittedBy)],
    ["Created", when(run.createdUtc)],
    ["Started", when(run.startTimeUtc)],
    ["Ended", when(run.endTimeUtc)],
    ["Duration", h("span", { id: "run-duration" }, duration(run.startTimeUtc, run.endTimeUtc))],
    ["Compute", run.target],
    run.environment || run.environmentDigest ? ["Environment", [run.environment || "", run.environmentDigest ? h("code", { class: "digest", title: "environment lock digest" }, ` ${run.environmentDigest}`) : null]] : null,
    run.script ? ["Script", h("code", {}, [run.script, ...run.arguments].join(" "))] : null,
    run.parent ? ["Parent", runLink(run.parent.runId, run.parent.displayName || run.parent.runId)] : null,
    run.properties["amlocal.rerun_of"] ? ["Rerun of", runLink(run.properties["amlocal.rerun_of"])] : null,
    run.reusedFrom ? ["Reused from", runLink(run.reusedFrom)] : null,
    ["Outputs", h("a", { href: `#/output/${encodeURIComponent(run.runId)}`, id: "outputs-link" }, "browse outputs")],
    run.error ? ["Error", h("span", { class: "error-text" }, run.error.message || JSON.stringify(run.error))] : null,
  ].filter(Boolean);
  return h("dl", { class: "facts", id: "run-facts" }, rows.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

function keyValues(title, id, values) {
  const entries = Object.entries(values || {});
  if (!entries.length) return null;
  return h("section", { id, "aria-labelledby": `${id}-h` }, h("h2", { id: `${id}-h` }, title),
    h("div", { class: "table-wrap" }, table(
      [{ title: "Name", value: ([k]) => k }, { title: "Value", value: ([, v]) => typeof v === "object" ? JSON.stringify(v) : String(v) }],
      entries, { class: "kv" })));
}

export async function render(root, { parts, query }) {
  const runId = parts[0];
  if (!runId) { root.append(errorBox("no run id in the address: #/run/<run id>")); return; }
  const stops = [];
  const address = location.hash;
  let run = await get(api(runId));
  if (location.hash !== address) return;      // the address changed meanwhile: a newer render
  const badge = h("span", { id: "run-status" }, statusBadge(run.status));
  const factsBox = h("div", {}, facts(run));
  root.append(h("p", { class: "crumbs" }, h("a", { href: "#/runs" }, "Runs"), " / ",
    h("a", { href: `#/runs?experiment=${encodeURIComponent(run.experiment)}` }, run.experiment),
    run.parent ? [" / ", runLink(run.parent.runId, run.parent.displayName || run.parent.runId)] : null),
  h("h1", {}, `${run.displayName || run.runId} `, badge), factsBox);

  let graph = null;
  if (run.kind === "pipeline") {
    graph = await graphSection(root, run);
    if (location.hash !== address) return;
  } else if (run.kind === "step" && run.parent) {
    const box = h("section", { id: "reuse", "aria-labelledby": "reuse-h" }, h("h2", { id: "reuse-h" }, "Reuse"),
      reuseReport({ reuse: run.reuse, reused: Boolean(run.reusedFrom) }),
      rerunButton(run.parent.runId, run.displayName));
    root.append(box);
  }
  if (run.childCount && run.kind !== "pipeline") {
    root.append(h("section", { id: "children" }, h("h2", {}, `Child runs (${run.childCount})`),
      h("div", { class: "table-wrap" }, table([
        { title: "Run", value: (c) => runLink(c.runId, c.displayName || c.runId) },
        { title: "Status", value: (c) => statusBadge(c.status) },
        { title: "Duration", value: (c) => duration(c.startTimeUtc, c.endTimeUtc) }], run.children))));
  }
  const log = logSection(root, run);
  stops.push(log.stop);
  const metrics = metricsSection(root, run, query);
  for (const [title, id, values] of [["Parameters", "parameters", run.parameters], ["Properties", "properties", run.properties], ["Tags", "tags", run.tags]]) {
    const section = keyValues(title, id, values);
    if (section) root.append(section);
  }

  if (!run.terminal) {
    let first = true;
    stops.push(poll(async () => {
      if (first) { first = false; return false; }      // the first answer is already shown
      const next = await get(api(runId));
      const changed = next.status !== run.status || next.endTimeUtc !== run.endTimeUtc;
      run = next;
      if (changed) { clear(badge).append(statusBadge(run.status)); clear(factsBox).append(facts(run)); }
      else { const d = document.getElementById("run-duration"); if (d) d.textContent = duration(run.startTimeUtc, run.endTimeUtc); }
      if (graph) await graph.refresh();
      await metrics.refresh(run);
      return run.terminal;
    }, 1000));
  }
  return stopAll(stops);
}
