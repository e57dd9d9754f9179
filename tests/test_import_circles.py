"""No circle of imports between the modules of amlocal.

A circle (module a imports b, which imports a, directly or through others) ties its modules into
one piece that cannot be read, tested or moved apart. No module of amlocal is in one; a
change that brings one back fails here, naming the modules and the imports that close it. The one
documented exception is left out of the graph: run-class rehydration, ``amlocal.core.run``
importing ``amlocal.pipeline.core.run`` (a stored pipeline or step run comes back as a PipelineRun
or StepRun, as on Azure).

Like tests/test_import_layers.py, the graph is read from the package laid out as a wheel installs
it (sdk/, compute/ and datastores/ are one package, ``amlocal``, only once installed), by
import-linter's graph builder in a separate interpreter.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

# no module whose name starts with one of these is in a circle: all of amlocal
FREE_OF_CIRCLES = ("amlocal",)

# the import each circle check leaves out (importer, imported): the documented exception
ALLOWED = (("amlocal.core.run", "amlocal.pipeline.core.run"),)

_GROUPS = r"""
import json, sys
import grimp
graph = grimp.build_graph("amlocal", cache_dir=None)
allowed = {tuple(pair) for pair in json.loads(sys.argv[1])}
edges = {m: sorted(w for w in graph.find_modules_directly_imported_by(m) if (m, w) not in allowed)
         for m in graph.modules}
sys.setrecursionlimit(20000)
index, low, stack, on, groups, counter = {}, {}, [], set(), [], [0]
def visit(v):
    index[v] = low[v] = counter[0]; counter[0] += 1; stack.append(v); on.add(v)
    for w in edges.get(v, ()):
        if w not in index:
            visit(w); low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        group = []
        while True:
            w = stack.pop(); on.discard(w); group.append(w)
            if w == v:
                break
        if len(group) > 1:
            members = set(group)
            groups.append({m: [w for w in edges[m] if w in members] for m in sorted(group)})
for v in sorted(edges):
    if v not in index:
        visit(v)
print(json.dumps(groups))
"""


def _circles(tree) -> list[dict]:
    """The groups of modules tied by a circle: ``[{module: [the group's modules it imports]}]``."""
    done = subprocess.run([sys.executable, "-c", _GROUPS, json.dumps(ALLOWED)], cwd=tree, capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(tree)}, timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout)


def test_the_layers_free_of_circles_have_none(tmp_path):
    from amlocal._engine.runtime_tree import package_tree
    tree = package_tree(tmp_path / "tree").parent
    groups = _circles(tree)
    found = [g for g in groups if any(m.startswith(FREE_OF_CIRCLES) for m in g)]
    assert not found, "import circles:\n" + "\n".join(
        "\n".join(f"  {m} -> {', '.join(sorted(to))}" for m, to in g.items()) + "\n"
        for g in found)


def test_the_graph_is_read_from_the_whole_package(tmp_path):
    """The check above would pass on an empty graph: the graph holds the three parts."""
    from amlocal._engine.runtime_tree import package_tree
    tree = package_tree(tmp_path / "tree").parent
    script = ("import grimp; g = grimp.build_graph('amlocal', cache_dir=None); "
              "print(sorted(m for m in g.modules if m.count('.') == 1))")
    done = subprocess.run([sys.executable, "-c", script], cwd=tree, capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(tree)}, timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]
    for part in ("amlocal.compute", "amlocal.datastores", "amlocal.data", "amlocal.core"):
        assert f"'{part}'" in done.stdout, done.stdout
