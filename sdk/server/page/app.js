// amlocal studio: a page over the server's JSON API. No build step, no CDN: ES modules served
// from the package. Each section is a module of views/ exporting
//   render(root, {parts, query, workspace}) -> optional dispose function (stops its timers)
// where parts are the address's path segments after the view's name (#/run/ID -> ["ID"]),
// query its ?a=b part, and workspace the chosen workspace ({id, name, ...} of
// GET /api/v1/workspaces; kept in this browser).
import { h, clear, errorBox } from "./lib/dom.js";
import { get, takeKeyFromAddress } from "./lib/api.js";

const SECTIONS = [
  ["runs", "Runs"], ["pipelines", "Pipelines"], ["endpoints", "Endpoints"],
  ["schedules", "Schedules"], ["models", "Models"], ["datasets", "Datasets"],
  ["services", "Web services"],
];
// route name -> view module (the first path segment after #/)
const VIEWS = {
  runs: "runs", run: "run", compare: "compare", output: "output",
  pipelines: "pipelines", endpoints: "endpoints", schedules: "schedules",
  models: "models", datasets: "datasets", services: "services",
};

let dispose = null;
let workspaces = null;
const WORKSPACE = "amlocal.workspace";

async function currentWorkspace() {
  if (workspaces === null) workspaces = await get("/api/v1/workspaces");
  const wanted = localStorage.getItem(WORKSPACE);
  return workspaces.find((w) => w.id === wanted) || workspaces[0] || null;
}

function workspacePicker(current) {
  if (!workspaces || workspaces.length < 2) return null;
  const select = h("select", { id: "workspace", "aria-label": "Workspace",
    onchange: (e) => { localStorage.setItem(WORKSPACE, e.target.value); route(); } },
    workspaces.map((w) => h("option", { value: w.id, selected: current && w.id === current.id },
      `${w.name} (${w.resourceGroup})`)));
  return select;
}

function parse() {
  const raw = location.hash.replace(/^#\/?/, "") || "runs";
  const [path, query = ""] = raw.split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  return { name: parts[0] || "runs", parts: parts.slice(1), query: new URLSearchParams(query) };
}

function navigation(current, workspace) {
  const nav = clear(document.getElementById("nav"));
  nav.append(h("ul", {}, SECTIONS.map(([name, title]) =>
    h("li", {}, h("a", { href: `#/${name}`, "aria-current": name === current ? "page" : null }, title)))));
  const picker = workspacePicker(workspace);
  if (picker) nav.append(picker);
}

let generation = 0;   // a route started later wins: an earlier, slower view is disposed at once

async function route() {
  const mine = ++generation;
  if (dispose) { try { dispose(); } catch { /* a view's timers */ } dispose = null; }
  const { name, parts, query } = parse();
  const section = name === "run" || name === "compare" || name === "output" ? "runs" : name;
  const main = clear(document.getElementById("main"));
  let workspace = null;
  try { workspace = await currentWorkspace(); } catch (error) { main.append(errorBox(error)); return; }
  navigation(section, workspace);
  const view = VIEWS[name];
  if (!view) { main.append(errorBox(`no page "${name}"`)); return; }
  if (!workspace) {
    main.append(h("h1", {}, "No workspace yet"), h("p", {}, "This home has no workspace yet: create one with ",
      h("code", {}, "amlocal workspace create"), " or run a pipeline."));
    return;
  }
  try {
    const module = await import(`./views/${view}.js`);
    const stop = (await module.render(main, { parts, query, workspace })) || null;
    if (mine !== generation) { if (stop) stop(); return; }
    dispose = stop;
  } catch (error) {
    main.append(errorBox(error));
  }
}

takeKeyFromAddress();
window.addEventListener("hashchange", route);
route();
