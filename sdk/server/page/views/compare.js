// Two runs side by side (#/compare?a=ID&b=ID): status, duration, parameters, each step's reuse
// key with the parts that differ highlighted and its environment digest, which steps differ, and
// the metrics' last values with a link to one chart of both (the run page's ?with=).
import { h, statusBadge, when, errorBox } from "../lib/dom.js";
import { get } from "../lib/api.js";
import { fmt } from "../lib/columns.js";

const e = encodeURIComponent;
const short = (digest) => (digest ? digest.slice(0, 12) : "");
const secs = (s) => (s === null || s === undefined ? "" : s < 60 ? `${s.toFixed(1)}s` : `${Math.floor(s / 60)}m ${Math.round(s % 60)}s`);

function text(value) {
  if (value === null || value === undefined) return "—";
  if (typeof value === "object") return JSON.stringify(value);
  return fmt(value);
}

function valueCell(value) {
  const full = text(value);
  return h("td", { class: "value", title: full.length > 120 ? full : null }, full.length > 120 ? `${full.slice(0, 119)}…` : full);
}

function differsCell(differs) {
  return h("td", { class: differs ? "diff-mark differs" : "diff-mark same" }, differs ? "differs" : "same");
}

function sideTable(label, headers, rows) {
  return h("div", { class: "table-wrap" }, h("table", { class: "compare", "aria-label": label },
    h("thead", {}, h("tr", {}, headers.map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, rows)));
}

function runs(c) {
  const { a, b } = c;
  const row = (name, va, vb, differs = text(va) !== text(vb), nodeA = null, nodeB = null) =>
    h("tr", { class: differs ? "differs" : null, "data-field": name }, h("th", { scope: "row" }, name),
      nodeA ? h("td", {}, nodeA) : valueCell(va), nodeB ? h("td", {}, nodeB) : valueCell(vb), differsCell(differs));
  return sideTable("Runs", ["", "Run A", "Run B", ""], [
    row("Run", a.runId, b.runId, true, h("a", { href: `#/run/${e(a.runId)}` }, a.displayName || a.runId),
      h("a", { href: `#/run/${e(b.runId)}` }, b.displayName || b.runId)),
    row("Experiment", a.experiment, b.experiment),
    row("Kind", a.kind, b.kind),
    row("Status", a.status, b.status, a.status !== b.status, statusBadge(a.status), statusBadge(b.status)),
    row("Submitted via", a.submittedVia, b.submittedVia),
    row("Created", a.createdUtc, b.createdUtc, false, when(a.createdUtc), when(b.createdUtc)),
    row("Duration", a.durationSeconds, b.durationSeconds, false, secs(a.durationSeconds) || "—", secs(b.durationSeconds) || "—"),
    (a.arguments.length || b.arguments.length) ? row("Arguments", a.arguments, b.arguments) : null,
  ].filter(Boolean));
}

function parameters(c) {
  if (!c.parameters.length) return h("p", { class: "muted" }, "Neither run has pipeline parameters.");
  return sideTable("Parameters", ["Parameter", "Run A", "Run B", ""], c.parameters.map((p) =>
    h("tr", { class: p.differs ? "differs" : null, "data-parameter": p.name }, h("th", { scope: "row" }, p.name),
      valueCell(p.a), valueCell(p.b), differsCell(p.differs))));
}

function stepSide(side) {
  if (!side) return h("td", {}, h("span", { class: "muted" }, "not in this run"));
  return h("td", {}, h("a", { href: `#/run/${e(side.runId)}` }, statusBadge(side.status)), " ",
    side.decision === "reused" ? h("span", { class: "reused" }, "reused") : side.decision || "",
    h("div", { class: "small" }, "key ", h("code", { title: side.reuseKey || "" }, short(side.reuseKey) || "—")),
    h("div", { class: "small" }, "environment ", h("code", { title: side.environmentDigest || "" }, short(side.environmentDigest) || "—")),
    side.durationSeconds !== null ? h("div", { class: "small muted" }, secs(side.durationSeconds)) : null);
}

function components(step) {
  if (!step.components.length) return null;
  return h("details", { class: "components", open: step.differs ? true : null },
    h("summary", {}, `Reuse key parts of ${step.name}`),
    sideTable(`Reuse key parts of ${step.name}`, ["Part", "Run A", "Run B", ""], step.components.map((p) =>
      h("tr", { class: p.differs ? "differs" : null, "data-part": p.name }, h("th", { scope: "row" }, p.name),
        valueCell(p.a), valueCell(p.b), differsCell(p.differs)))));
}

function steps(c) {
  if (!c.steps.length) return [h("p", { class: "muted" }, "These runs have no steps.")];
  const differing = c.differingSteps;
  return [
    h("p", { class: "steps-summary" }, differing.length
      ? `${differing.length} of ${c.steps.length} steps differ: ${differing.join(", ")}.`
      : `All ${c.steps.length} steps have the same reuse key.`),
    sideTable("Steps", ["Step", "Run A", "Run B", "What differs"], c.steps.map((s) =>
      h("tr", { class: s.differs ? "differs" : null, "data-step": s.name }, h("th", { scope: "row" }, s.name),
        stepSide(s.a), stepSide(s.b),
        h("td", { class: s.differs ? "diff-mark differs" : "diff-mark same" },
          !s.a || !s.b ? "in one run only" : s.changed.length ? s.changed.join(", ") : s.differs ? "the reuse key" : "same")))),
    ...c.steps.map(components).filter(Boolean),
  ];
}

function metrics(c) {
  if (!c.metrics.length) return h("p", { class: "muted" }, "Neither run logged metrics.");
  return sideTable("Metrics", ["Metric", "Run A (last)", "Run B (last)", "", "Chart"], c.metrics.map((m) =>
    h("tr", { class: m.differs ? "differs" : null, "data-metric": `${m.step ? `${m.step}/` : ""}${m.name}` },
      h("th", { scope: "row" }, m.step ? h("span", { class: "muted" }, `${m.step} / `) : null, m.name),
      valueCell(m.kind === "scalar" || m.kind === "list" ? m.a : m.aRunId ? `(${m.kind})` : null),
      valueCell(m.kind === "scalar" || m.kind === "list" ? m.b : m.bRunId ? `(${m.kind})` : null),
      differsCell(m.differs),
      h("td", {}, m.chart ? h("a", { href: m.chart }, "both on one chart") : ""))));
}

function chooser(a, b) {
  const inputA = h("input", { name: "a", value: a || "", required: true, size: 38 });
  const inputB = h("input", { name: "b", value: b || "", required: true, size: 38 });
  return h("form", { class: "toolbar", onsubmit: (event) => {
    event.preventDefault();
    location.hash = `#/compare?a=${e(inputA.value.trim())}&b=${e(inputB.value.trim())}`;
  } }, h("label", {}, "Run A", inputA), h("label", {}, "Run B", inputB),
  h("button", { type: "submit", class: "primary" }, "Compare"),
  a && b ? h("a", { href: `#/compare?a=${e(b)}&b=${e(a)}`, class: "swap" }, "Swap A and B") : null);
}

export async function render(root, { query }) {
  const a = query.get("a"), b = query.get("b");
  root.append(h("h1", {}, "Compare runs"), chooser(a, b));
  if (!a || !b) {
    root.append(h("p", { class: "muted" }, "Pick two runs in the runs list (the checkboxes), or give their ids here."));
    return;
  }
  let c;
  try {
    c = await get(`/api/v1/page/compare?a=${e(a)}&b=${e(b)}`);
  } catch (error) {
    root.append(errorBox(error));
    return;
  }
  root.append(
    h("section", { "aria-labelledby": "cmp-runs" }, h("h2", { id: "cmp-runs" }, "Runs"), runs(c)),
    h("section", { "aria-labelledby": "cmp-params" }, h("h2", { id: "cmp-params" }, "Parameters"), parameters(c)),
    h("section", { "aria-labelledby": "cmp-steps" }, h("h2", { id: "cmp-steps" }, "Steps"), ...steps(c)),
    h("section", { "aria-labelledby": "cmp-metrics" }, h("h2", { id: "cmp-metrics" }, "Metrics"), metrics(c)));
}
