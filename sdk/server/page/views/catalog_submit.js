// The submit form of a published pipeline or a pipeline endpoint (shared by pipelines.js and
// endpoints.js): fields from the pipeline's parameter types, checked in the page, then Azure's
// body POSTed to the REST submit route; the new run's status is then followed live (polling
// GET /api/v1/runs/{id}) until it ends, without reloading.
import { h, clear, statusBadge, when, duration, errorBox } from "../lib/dom.js";
import { get, post } from "../lib/api.js";
import { parameterField, submissionBody } from "../lib/forms.js";

const ENDED = new Set(["Completed", "Finished", "Failed", "Canceled"]);
const POLL_MS = 1000;

// Fill `root` with the form; returns a dispose function (stops the polling).
export function submitForm(root, { form, submitPath, title, note }) {
  let timer = null;
  let stopped = false;
  const fields = new Map(form.parameters.map((p) => [p.name, parameterField(p, form)]));
  const experiment = h("input", { id: "submit-experiment", name: "experiment", type: "text",
    required: true, autocomplete: "off", value: form.defaultExperiment });
  const experimentError = h("p", { class: "field-error", id: "submit-experiment-error", role: "alert", hidden: true });
  const button = h("button", { class: "primary", type: "submit" }, "Submit");
  const outcome = h("section", { class: "submission", "aria-live": "polite", "aria-label": "Submitted run" });
  const formNode = h("form", { class: "param-form", novalidate: true, "aria-label": title },
    h("div", { class: "field" }, h("label", { for: experiment.id }, h("span", { class: "field-name" }, "Experiment")),
      experiment, experimentError),
    fields.size ? [...fields.values()].map((f) => f.node)
      : h("p", { class: "muted" }, "This pipeline has no parameters."),
    note ? h("p", { class: "muted" }, note) : null,
    h("div", { class: "form-actions" }, button));

  formNode.addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = experiment.value.trim();
    const valid = /^[A-Za-z0-9][\w-]{0,254}$/.test(name);
    experimentError.hidden = valid;
    experimentError.textContent = valid ? "" : "Experiment: give a name of letters, digits, - and _ (up to 255)";
    if (valid) experiment.removeAttribute("aria-invalid"); else experiment.setAttribute("aria-invalid", "true");
    const { body, problems } = submissionBody(fields, name);
    if (!valid) problems.unshift(experiment);
    if (problems.length) { setTimeout(() => problems[0].focus(), 0); return; }   // after the click's own focus
    button.disabled = true;
    clear(outcome).append(h("p", { class: "muted" }, "Submitting…"));
    try {
      const answer = await post(submitPath, body);
      follow(answer);
    } catch (error) {
      clear(outcome).append(errorBox(error));
    } finally {
      button.disabled = false;
    }
  });

  function follow(answer) {
    const runId = answer.Id;
    const status = h("span", { class: "run-status" }, statusBadge(answer.Status && answer.Status.StatusCode));
    const steps = h("div", { class: "run-steps" });
    const times = h("span", { class: "muted" });
    clear(outcome).append(
      h("h2", {}, "Submitted run"),
      h("p", {}, h("a", { href: `#/run/${encodeURIComponent(runId)}`, class: "run-link" }, runId),
        " ", status, " ", times),
      answer.HasWarnings ? h("ul", { class: "warnings" }, answer.Warnings.map((w) => h("li", {}, w))) : "",
      steps);
    outcome.scrollIntoView({ block: "nearest" });
    const tick = async () => {
      if (stopped) return;
      try {
        const run = await get(`/api/v1/runs/${encodeURIComponent(runId)}`);
        status.replaceChildren(statusBadge(run.status));
        times.textContent = run.startTimeUtc ? `started ${when(run.startTimeUtc)}, ${duration(run.startTimeUtc, run.endTimeUtc)}` : "";
        steps.replaceChildren(run.children.length ? h("ul", { class: "step-statuses", "aria-label": "Steps" },
          run.children.map((c) => h("li", {}, h("a", { href: `#/run/${encodeURIComponent(c.runId)}` }, c.displayName || c.runId),
            " ", statusBadge(c.status), c.reusedFrom ? h("span", { class: "reused" }, " reused") : null))) : "");
        outcome.dataset.status = run.status;
        if (ENDED.has(run.status)) { outcome.dataset.ended = "true"; return; }
      } catch (error) {
        steps.replaceChildren(errorBox(error));
      }
      if (!stopped) timer = setTimeout(tick, POLL_MS);
    };
    tick();
  }

  root.append(h("div", { class: "submit-layout" }, formNode, outcome));
  return () => { stopped = true; if (timer) clearTimeout(timer); };
}
