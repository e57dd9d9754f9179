// Schedules: type, what they run, recurrence in words, status, next firing (the API's
// next_run_time, from the scheduler's clock), the runs they submitted and the scheduler's
// recent decisions (fired, skipped, missed, deferred, failed, with the reason); enable/disable.
import { h, clear, table, statusBadge, when, errorBox } from "../lib/dom.js";
import { get, post } from "../lib/api.js";

const enc = encodeURIComponent;
const RECENT = 10;

const pad = (n) => String(n).padStart(2, "0");
const plural = (n, unit) => (n === 1 ? unit : `${n} ${unit}s`);

function list(words) {
  return words.length < 2 ? words.join("") : `${words.slice(0, -1).join(", ")} and ${words[words.length - 1]}`;
}

// "Every 2 hours", "Every day at 09:00 and 17:30 (UTC)", "Every week on Monday at 08:00"...
export function recurrenceInWords(r) {
  if (!r) return "";
  const unit = { Minute: "minute", Hour: "hour", Day: "day", Week: "week", Month: "month" }[r.frequency] || r.frequency;
  let text = `Every ${plural(r.interval || 1, unit)}`;
  if (r.week_days && r.week_days.length) text += ` on ${list(r.week_days)}`;
  if (r.hours && r.hours.length) {
    const minutes = r.minutes && r.minutes.length ? r.minutes : [0];
    const times = [];
    for (const hour of [...r.hours].sort((a, b) => a - b)) for (const m of [...minutes].sort((a, b) => a - b)) times.push(`${pad(hour)}:${pad(m)}`);
    text += ` at ${list(times)}`;
  } else if (r.minutes && r.minutes.length) {
    text += ` at minute ${list([...r.minutes].sort((a, b) => a - b).map(String))}`;
  }
  if (r.time_zone || r.hours) text += ` (${r.time_zone || "UTC"})`;
  if (r.start_time) text += `, starting ${r.start_time}`;
  return text;
}

function whatItDoes(s) {
  if (s.schedule_type === "Recurrence") return recurrenceInWords(s.recurrence);
  const where = `${s.datastore_name || "the default datastore"}/${s.path_on_datastore || ""}`;
  const every = s.polling_interval ? `, polled every ${plural(s.polling_interval, "minute")}` : "";
  return `When files change under ${where}${every}`;
}

function target(s) {
  if (s.pipeline_id) return h("a", { href: `#/pipelines/${enc(s.pipeline_id)}` }, `pipeline ${s.pipeline_id.slice(0, 8)}`);
  if (s.pipeline_endpoint_id) return h("a", { href: `#/endpoints/${enc(s.pipeline_endpoint_id)}` }, `endpoint ${s.pipeline_endpoint_id.slice(0, 8)}`);
  return "";
}

export async function render(root, { workspace }) {
  root.append(h("h1", {}, "Schedules"));
  const body = h("div", { class: "schedule-list" });
  root.append(body);
  const schedules = await get(`/api/v1/schedules?workspace=${enc(workspace.id)}&active_only=false`);
  if (!schedules.length) {
    body.append(h("p", { class: "muted" }, "No schedule yet: make one with ",
      h("code", {}, "Schedule.create(ws, name, pipeline_id, experiment_name, recurrence=...)"), "."));
    return null;
  }
  schedules.sort((a, b) => a.name.localeCompare(b.name));
  for (const schedule of schedules) body.append(await scheduleCard(schedule));
  return null;
}

function statusButton(schedule, onChange) {
  const active = schedule.status === "Active";
  const button = h("button", { type: "button", class: "status-toggle",
    "aria-label": `${active ? "Disable" : "Enable"} schedule ${schedule.name}` }, active ? "Disable" : "Enable");
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      onChange(await post(`/api/v1/schedules/${enc(schedule.id)}/${active ? "disable" : "enable"}`, {}));
    } catch (error) {
      button.disabled = false;
      button.after(errorBox(error));
    }
  });
  return button;
}

async function scheduleCard(first) {
  const card = h("section", { class: "card schedule", dataset: { schedule: first.name } });
  const fill = async (s) => {
    const [runs, firings] = await Promise.all([
      get(`/api/v1/schedules/${enc(s.id)}/runs`),
      get(`/api/v1/schedules/${enc(s.id)}/firings?top=${RECENT}`),
    ]);
    clear(card).append(
      h("h2", {}, s.name),
      h("dl", { class: "facts" },
        h("dt", {}, "Type"), h("dd", {}, s.schedule_type === "Recurrence" ? "Time (recurrence)" : "Datastore (file changes)"),
        h("dt", {}, "When"), h("dd", { class: "recurrence" }, whatItDoes(s)),
        h("dt", {}, "Runs"), h("dd", {}, target(s), ` in experiment ${s.experiment_name}`),
        h("dt", {}, "Status"), h("dd", {}, statusBadge(s.status), " ", statusButton(s, (next) => fill(next))),
        h("dt", {}, "Next firing"), h("dd", { class: "next-run" },
          s.next_run_time ? h("time", { datetime: s.next_run_time }, when(s.next_run_time))
            : h("span", { class: "muted" }, s.status === "Active" ? "on the next file change" : "none (disabled)")),
        s.description ? [h("dt", {}, "Description"), h("dd", {}, s.description)] : null,
        Object.keys(s.pipeline_parameters || {}).length
          ? [h("dt", {}, "Parameters"), h("dd", {}, h("code", {}, JSON.stringify(s.pipeline_parameters)))] : null),
      h("h3", {}, "Last runs"),
      runs.length ? h("div", { class: "table-wrap" }, table([
        { title: "Run", value: (r) => h("a", { href: `#/run/${enc(r.id)}` }, r.id) },
        { title: "Status", value: (r) => statusBadge(r.status) },
        { title: "Created", value: (r) => when(r.created_at) },
      ], runs.slice(0, RECENT), { class: "catalog schedule-runs", "aria-label": `Runs of ${s.name}` }))
        : h("p", { class: "muted" }, "No run yet."),
      h("h3", {}, "Recent decisions"),
      firings.length ? h("div", { class: "table-wrap" }, table([
        { title: "Decided", value: (f) => when(f.decided_at) },
        { title: "Decision", value: (f) => h("span", { class: `decision decision-${f.decision}` }, f.decision + (f.count > 1 ? ` (${f.count})` : "")) },
        { title: "Due", class: "hide-narrow", value: (f) => when(f.due_at) },
        { title: "Reason", value: (f) => [f.reason, f.data_path ? h("code", {}, ` ${f.data_path}`) : null] },
        { title: "Run", value: (f) => f.run_id ? h("a", { href: `#/run/${enc(f.run_id)}` }, f.run_id.slice(0, 12)) : "" },
      ], firings, { class: "catalog firings", "aria-label": `Decisions of ${s.name}` }))
        : h("p", { class: "muted" }, "No decision yet."));
  };
  await fill(first);
  return card;
}
