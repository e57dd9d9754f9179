// The runs list: experiments' runs newest first (or sorted as chosen), filtered by experiment,
// status and what submitted them, a page at a time with the API's continuation token; pick two
// runs to compare them.
import { h, statusBadge, when, duration, errorBox } from "../lib/dom.js";
import { get } from "../lib/api.js";

const STATUSES = ["Running", "Preparing", "Queued", "NotStarted", "Finished", "Completed", "Failed",
  "Canceled", "CancelRequested"];
const SUBMITTERS = ["Python", "CLI", "REST", "Schedule", "Rerun"];
const SORTS = [["-created", "Newest first"], ["created", "Oldest first"], ["-started", "Started (latest)"],
  ["-duration", "Longest"], ["duration", "Shortest"], ["status", "Status"], ["name", "Name"],
  ["experiment", "Experiment"]];
const PAGE = 50;

function select(id, label, options, value, onchange) {
  return h("label", { for: id }, label,
    h("select", { id, onchange, "aria-label": label }, options.map(([v, text]) => h("option", { value: v, selected: v === value }, text))));
}

export async function render(root, { query, workspace }) {
  const state = {
    experiment: query.get("experiment") || "", status: query.get("status") || "",
    submitted_by: query.get("submitted_by") || "", sort: query.get("sort") || "-created",
  };
  const picked = new Set();
  const go = (change) => {
    const next = { ...state, ...change };
    const params = new URLSearchParams(Object.entries(next).filter(([k, v]) => v && !(k === "sort" && v === "-created")));
    const text = params.toString();
    location.hash = `#/runs${text ? `?${text}` : ""}`;
  };
  const params = new URLSearchParams({ top: String(PAGE), sort: state.sort });
  for (const k of ["experiment", "status", "submitted_by"]) if (state[k]) params.set(k, state[k]);
  const base = `/api/v1/page/workspaces/${encodeURIComponent(workspace.id)}/runs?${params}`;
  const address = location.hash;
  const first = await get(base);
  if (location.hash !== address) return;      // the address changed meanwhile: a newer render

  const compare = h("a", { id: "compare-link", class: "button", "aria-disabled": "true", role: "link" }, "Compare");
  const pickedNote = h("span", { class: "muted", id: "picked-note", "aria-live": "polite" }, "pick two runs to compare");
  const refreshCompare = () => {
    const ids = [...picked];
    if (ids.length === 2) {
      compare.setAttribute("href", `#/compare?a=${encodeURIComponent(ids[0])}&b=${encodeURIComponent(ids[1])}`);
      compare.removeAttribute("aria-disabled");
      pickedNote.textContent = `compare ${ids[0]} with ${ids[1]}`;
    } else {
      compare.removeAttribute("href");
      compare.setAttribute("aria-disabled", "true");
      pickedNote.textContent = ids.length ? "pick one more run" : "pick two runs to compare";
    }
    for (const box of root.querySelectorAll("input.pick")) box.disabled = ids.length >= 2 && !picked.has(box.value);
  };

  const toolbar = h("div", { class: "toolbar", role: "search", "aria-label": "Filter runs" },
    select("f-experiment", "Experiment", [["", "All experiments"], ...first.experiments.map((e) => [e, e])],
      state.experiment, (e) => go({ experiment: e.target.value })),
    select("f-status", "Status", [["", "Any status"], ...STATUSES.map((s) => [s, s])],
      state.status, (e) => go({ status: e.target.value })),
    select("f-submitted", "Submitted by", [["", "Anyone"], ...SUBMITTERS.map((s) => [s, s])],
      state.submitted_by, (e) => go({ submitted_by: e.target.value })),
    select("f-sort", "Sort", SORTS, state.sort, (e) => go({ sort: e.target.value })),
    h("span", { class: "compare-box" }, compare, " ", pickedNote));

  const tbody = h("tbody", {});
  const row = (run) => h("tr", { "data-run": run.runId },
    h("td", { class: "pick-cell" }, h("input", { type: "checkbox", class: "pick", value: run.runId,
      id: `pick-${run.runId}`, "aria-label": `pick ${run.displayName || run.runId} to compare`,
      checked: picked.has(run.runId),
      onchange: (e) => { if (e.target.checked) picked.add(run.runId); else picked.delete(run.runId); refreshCompare(); } })),
    h("td", {}, h("a", { href: `#/run/${encodeURIComponent(run.runId)}` }, run.displayName || run.runId),
      h("div", { class: "muted small" }, run.runId)),
    h("td", { class: "hide-narrow" }, run.experiment),
    h("td", {}, statusBadge(run.status)),
    h("td", { class: "submitted" }, run.submittedBy),
    h("td", { class: "hide-narrow" }, when(run.startTimeUtc || run.createdUtc)),
    h("td", {}, duration(run.startTimeUtc, run.endTimeUtc)),
    h("td", { class: "hide-narrow" }, run.kind));
  const shown = h("span", { id: "runs-count" });
  let loaded = 0, token = first.continuationToken;
  const more = h("button", { type: "button", id: "more-runs" }, "Load more");
  const add = (data) => {
    tbody.append(...data.value.map(row));
    loaded += data.value.length;
    token = data.continuationToken;
    shown.textContent = `${loaded} of ${data.count} runs`;
    more.hidden = !token;
    refreshCompare();
  };
  more.addEventListener("click", async () => {
    more.disabled = true;
    try { add(await get(`${base}&continuation=${encodeURIComponent(token)}`)); }
    catch (error) { more.after(errorBox(error)); }
    finally { more.disabled = false; }
  });
  const heads = ["", "Run", "Experiment", "Status", "Submitted by", "Started", "Duration", "Kind"];
  const narrow = new Set([2, 5, 7]);
  root.append(h("h1", {}, "Runs"), toolbar,
    h("p", { class: "muted" }, shown),
    h("div", { class: "table-wrap" }, h("table", { id: "runs-table", class: "runs" },
      h("caption", { class: "sr-only" }, "Runs"),
      h("thead", {}, h("tr", {}, heads.map((t, i) => h("th", { scope: "col", class: narrow.has(i) ? "hide-narrow" : null },
        i === 0 ? h("span", { class: "sr-only" }, "Pick") : t)))),
      tbody)),
    first.count ? more : h("p", { id: "no-runs" }, "No runs match these filters."));
  add(first);
}
