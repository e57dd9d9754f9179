// (being built) The runs list.
import { h } from "../lib/dom.js";
import { get } from "../lib/api.js";

export async function render(root, { workspace }) {
  const data = await get(`/api/v1/workspaces/${encodeURIComponent(workspace.id)}/runs?top=50`);
  root.append(h("h1", {}, "Runs"), h("p", {}, `${data.count} runs`));
}
