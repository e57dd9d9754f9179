// A run's log, live: tailed from the log API's byte offset every second until the run has
// ended and everything was read. A pipeline run shows every step's lines, prefixed.
import { h } from "../lib/dom.js";
import { get } from "../lib/api.js";
import { poll } from "../lib/poll.js";

export function logSection(root, run) {
  const pre = h("pre", { class: "log", id: "run-log", tabindex: 0, "aria-label": "log" });
  const state = h("span", { class: "muted", id: "log-state" }, "reading…");
  root.append(h("section", { id: "log", "aria-labelledby": "log-h" },
    h("h2", { id: "log-h" }, run.kind === "pipeline" ? "Log (all steps)" : "Log", " ", state), pre));
  let offset = 0;
  const stop = poll(async () => {
    const chunk = await get(`/api/v1/runs/${encodeURIComponent(run.runId)}/log?offset=${offset}`);
    if (chunk.text) {
      const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 8;
      pre.append(document.createTextNode(chunk.text));
      if (atEnd) pre.scrollTop = pre.scrollHeight;
    }
    offset = chunk.nextOffset;
    if (chunk.complete) { state.textContent = pre.textContent ? "" : "(empty)"; return true; }
    state.textContent = `live: ${chunk.status}`;
    return false;
  }, 1000, (error) => { state.textContent = `cannot read the log: ${error.message}`; });
  return { stop };
}
