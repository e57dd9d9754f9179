// A pipeline's step graph as hand-written SVG: layered top-down layout (longest path from the
// sources, then barycentre sweeps to cut crossings), edges labelled with the output that flows,
// each node a keyboard-reachable button showing its status in text and colour.
const NS = "http://www.w3.org/2000/svg";
const W = 190, H = 52, GAP_X = 36, GAP_Y = 64, MARGIN = 16;

function s(tag, attrs = {}, ...children) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) node.setAttribute(k, String(v));
  for (const c of children.flat()) if (c !== null && c !== undefined) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

// {id: {layer, order}} for nodes [{id}] and edges [{source, target}].
export function layout(nodes, edges) {
  const ids = nodes.map((n) => n.id);
  const known = new Set(ids);
  const preds = new Map(ids.map((id) => [id, []])), succs = new Map(ids.map((id) => [id, []]));
  for (const e of edges) {
    if (!known.has(e.source) || !known.has(e.target) || e.source === e.target) continue;
    preds.get(e.target).push(e.source); succs.get(e.source).push(e.target);
  }
  // topological order (Kahn), then longest path layering
  const indeg = new Map(ids.map((id) => [id, preds.get(id).length]));
  const queue = ids.filter((id) => indeg.get(id) === 0), order = [];
  while (queue.length) {
    const id = queue.shift(); order.push(id);
    for (const t of succs.get(id)) { indeg.set(t, indeg.get(t) - 1); if (indeg.get(t) === 0) queue.push(t); }
  }
  for (const id of ids) if (!order.includes(id)) order.push(id);   // a cycle: never in a stored graph
  const layer = new Map();
  for (const id of order) layer.set(id, Math.max(0, ...preds.get(id).map((p) => (layer.get(p) ?? -1) + 1)));
  const layers = [];
  for (const id of order) (layers[layer.get(id)] ||= []).push(id);
  const pos = new Map();
  const index = () => layers.forEach((row) => row.forEach((id, i) => pos.set(id, i)));
  index();
  const bary = (id, near) => { const ns = near.get(id); return ns.length ? ns.reduce((a, n) => a + pos.get(n), 0) / ns.length : pos.get(id); };
  for (let sweep = 0; sweep < 4; sweep++) {
    const down = sweep % 2 === 0;
    const rows = down ? layers.slice(1) : layers.slice(0, -1).reverse();
    for (const row of rows) {
      const key = new Map(row.map((id) => [id, bary(id, down ? preds : succs)]));
      row.sort((a, b) => key.get(a) - key.get(b));
      row.forEach((id, i) => pos.set(id, i));
    }
  }
  const width = Math.max(...layers.map((row) => row.length));
  const place = {};
  layers.forEach((row, l) => {
    const offset = (width - row.length) / 2;
    row.forEach((id, i) => { place[id] = { layer: l, order: i + offset }; });
  });
  return { place, columns: width, rows: layers.length };
}

const short = (text, n) => (text.length > n ? text.slice(0, n - 1) + "…" : text);

function statusWord(node) {
  return node.reused ? `${node.status} · reused` : node.status;
}

// Draw the graph into container; onOpen(node) on click/Enter/Space; onFocus(node) on focus.
// Returns {svg, update(graph)} where update changes statuses without a new layout.
export function drawGraph(container, graph, { onOpen = () => {}, onSelect = () => {} } = {}) {
  const { place, columns, rows } = layout(graph.nodes, graph.edges);
  const width = MARGIN * 2 + columns * W + (columns - 1) * GAP_X;
  const height = MARGIN * 2 + rows * H + (rows - 1) * GAP_Y;
  const x = (id) => MARGIN + place[id].order * (W + GAP_X);
  const y = (id) => MARGIN + place[id].layer * (H + GAP_Y);
  const svg = s("svg", { class: "graph", width, height, viewBox: `0 0 ${width} ${height}`,
    role: "group", "aria-label": `step graph: ${graph.nodes.length} steps` });
  svg.append(s("defs", {}, s("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5,
    markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" }, s("path", { d: "M0,0L10,5L0,10z", class: "arrowhead" }))));
  const edgeLayer = s("g", { class: "edges" }), labelLayer = s("g", { class: "edge-labels" });
  const seen = new Set();
  for (const e of graph.edges) {
    if (!place[e.source] || !place[e.target]) continue;
    const x1 = x(e.source) + W / 2, y1 = y(e.source) + H, x2 = x(e.target) + W / 2, y2 = y(e.target);
    const bend = Math.max(24, (y2 - y1) / 2);
    edgeLayer.append(s("path", { d: `M${x1},${y1} C${x1},${y1 + bend} ${x2},${y2 - bend} ${x2},${y2 - 2}`,
      class: e.label ? "edge" : "edge edge-order", "marker-end": "url(#arrow)",
      "data-source": e.source, "data-target": e.target }, s("title", {}, e.label ? `${e.label}: ${e.source} → ${e.target}` : "runs after")));
    const key = `${e.source}|${e.label}`;
    if (e.label && !seen.has(key)) {   // one label per output leaving a step
      seen.add(key);
      const lx = (x1 + x2) / 2 + (x1 === x2 ? 6 : 0), ly = y1 + Math.min(GAP_Y / 2, (y2 - y1) / 2);
      labelLayer.append(s("text", { x: lx, y: ly, class: "edge-label", "text-anchor": x1 === x2 ? "start" : "middle" }, short(e.label, 26)));
    }
  }
  svg.append(edgeLayer, labelLayer);
  const nodeLayer = s("g", { class: "nodes" });
  const parts = new Map();
  for (const node of graph.nodes) {
    const status = s("text", { x: 10, y: 40, class: "node-status" }, statusWord(node));
    const box = s("rect", { width: W, height: H, rx: 6, class: "node-box" });
    const label = s("title", {}, "");
    const g = s("g", { class: "node", transform: `translate(${x(node.id)},${y(node.id)})`, tabindex: 0,
      role: "button", "data-node": node.id, "data-name": node.name },
    label, box, s("rect", { width: 6, height: H, rx: 3, class: "node-stripe" }),
    s("text", { x: 14, y: 20, class: "node-name" }, short(node.name, 24)), status);
    status.setAttribute("x", 14);
    const open = () => onOpen(node.id);
    g.addEventListener("click", open);
    g.addEventListener("keydown", (ev) => { if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); open(); } });
    g.addEventListener("focus", () => onSelect(node.id));
    nodeLayer.append(g);
    parts.set(node.id, { g, status, label });
  }
  svg.append(nodeLayer);
  const update = (next) => {
    for (const node of next.nodes) {
      const part = parts.get(node.id);
      if (!part) continue;
      const cls = `node status-${String(node.status).toLowerCase()}${node.reused ? " node-reused" : ""}`;
      if (part.g.getAttribute("class") !== cls) part.g.setAttribute("class", cls);
      const word = statusWord(node);
      if (part.status.textContent !== word) part.status.textContent = word;
      const aria = `step ${node.name}: ${word}${node.reuse && node.reuse.reason ? ` (${node.reuse.reason})` : ""}`;
      part.g.setAttribute("aria-label", aria);
      part.label.textContent = aria;
    }
  };
  update(graph);
  container.append(svg);
  return { svg, update };
}
