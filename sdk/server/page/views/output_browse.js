// A folder browser over the page API's listings (an output folder, or a run's own files):
// breadcrumbs, folders first, sizes, a download per file, and Studio classic's Visualize of a
// tabular file (or of a whole output folder of them).
import { h, errorBox } from "../lib/dom.js";
import { get, key } from "../lib/api.js";
import { bytes, visualize } from "../lib/columns.js";

const q = (path) => encodeURIComponent(path);

// A download link: a plain link (a loopback server reads without a key); with a key kept in
// this browser the file is fetched with it and saved from memory.
export function downloadLink(url, name, text = "Download") {
  return h("a", { href: url, download: name, class: "download", "aria-label": `Download ${name}`,
    onclick: async (event) => {
      if (!key()) return;
      event.preventDefault();
      const response = await fetch(url, { headers: { Authorization: `Bearer ${key()}` } });
      if (!response.ok) { event.target.after(errorBox(`cannot download ${name}: ${response.statusText}`)); return; }
      const blob = URL.createObjectURL(await response.blob());
      const save = h("a", { href: blob, download: name });
      document.body.append(save); save.click(); save.remove();
      setTimeout(() => URL.revokeObjectURL(blob), 10_000);
    } }, text);
}

function crumbs(path, hrefFor, rootName) {
  const parts = path ? path.split("/") : [];
  const items = [h("li", {}, parts.length ? h("a", { href: hrefFor("") }, rootName) : h("span", { "aria-current": "page" }, rootName))];
  parts.forEach((part, i) => {
    const sub = parts.slice(0, i + 1).join("/");
    items.push(h("li", {}, i === parts.length - 1 ? h("span", { "aria-current": "page" }, part) : h("a", { href: hrefFor(sub) }, part)));
  });
  return h("nav", { class: "crumbs", "aria-label": "Folder" }, h("ol", {}, items));
}

async function previewInto(box, url) {
  box.append(h("p", { class: "muted", role: "status" }, "Reading the table…"));
  try {
    const preview = await get(url);
    box.replaceChildren(visualize(preview));
  } catch (error) {
    box.replaceChildren(errorBox(error));
  }
}

// source: {api (listing/preview base), download(path) -> URL, hrefFor(path) -> #address,
//          rootName, previewFolders (whether a folder of tables is previewed as one table)}
export async function browse(root, source, path) {
  let listing;
  try {
    listing = await get(`${source.api}/files?path=${q(path)}`);
  } catch (error) {
    root.append(errorBox(error));
    return;
  }
  root.append(crumbs(listing.path, source.hrefFor, source.rootName));
  const box = h("div", { class: "preview-box" });
  if (listing.type === "file") {
    const name = listing.path.split("/").pop();
    root.append(h("dl", { class: "facts file-facts" },
      h("dt", {}, "File"), h("dd", {}, listing.path),
      h("dt", {}, "Size"), h("dd", {}, bytes(listing.size))),
    h("p", {}, downloadLink(source.download(listing.path), name)), box);
    if (listing.tabular) await previewInto(box, `${source.api}/preview?path=${q(listing.path)}`);
    return;
  }
  if (!listing.entries.length) {
    root.append(h("p", { class: "muted" }, "This folder is empty."));
    return;
  }
  const rows = listing.entries.map((e) => h("tr", { "data-entry": e.path },
    h("td", {}, h("a", { href: source.hrefFor(e.path) }, e.type === "folder" ? `${e.name}/` : e.name)),
    h("td", {}, e.type === "folder" ? "folder" : (e.tabular ? `table (${e.tabular})` : "file")),
    h("td", { class: "num" }, e.type === "folder" ? "" : bytes(e.size)),
    h("td", {}, e.type === "folder" ? "" : downloadLink(source.download(e.path), e.name),
      e.tabular ? " · " : null, e.tabular ? h("a", { href: source.hrefFor(e.path) }, "Visualize") : null)));
  root.append(h("div", { class: "table-wrap" }, h("table", { class: "files", "aria-label": "Files" },
    h("thead", {}, h("tr", {}, ["Name", "Kind", "Size", ""].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, rows))));
  if (listing.truncated) root.append(h("p", { class: "muted" }, `Only the first ${listing.entries.length} entries are listed.`));
  root.append(box);
  if (source.previewFolders && listing.tabular) await previewInto(box, `${source.api}/preview?path=${q(listing.path)}`);
}
