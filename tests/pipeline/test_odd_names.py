"""Odd file names are handled, never a crash: names that are not UTF-8, hold a newline or are
very long, in a step's outputs/ and logs/, in an output folder and in the source snapshot; and
symbolic links a step leaves are not followed out of its folder. Real runner and containers."""
from __future__ import annotations

import os
import textwrap

import pytest

pytestmark = pytest.mark.usefixtures("docker_engine")

STD_LOG = "logs/user_logs/std_log.txt"
LONG = "L" * 250 + ".txt"
CANARY = "host-canary-5f1e"


def test_odd_names_and_links_a_step_leaves(workspace, tmp_path):
    from amlocal.pipeline.core import Pipeline, PipelineData
    from amlocal.pipeline.steps import PythonScriptStep
    src = tmp_path / "src"
    src.mkdir()
    # the source snapshot holds names that are not UTF-8 and that hold a newline
    (src / os.fsdecode(b"caf\xe9.cfg")).write_text("latin-1 name")
    (src / "two\nlines.cfg").write_text("newline name")
    secret = tmp_path / "host-secret.txt"
    secret.write_text(CANARY)
    (src / "produce.py").write_text(textwrap.dedent(f"""
        import os, sys
        print("SNAPSHOT", sorted(n for n in os.listdir(b".") if n.endswith(b".cfg")), flush=True)
        out = sys.argv[1]
        for folder in ("outputs", "logs", out):
            os.makedirs(folder, exist_ok=True)
            for name in (b"caf\\xe9.txt", b"two\\nlines.txt", {LONG!r}.encode(), b"plain.txt"):
                with open(os.path.join(folder.encode(), name), "w") as f:
                    f.write("content of " + repr(name))
        # links to a host file and a host folder: the runner (on the host) must not follow them
        os.symlink({str(secret)!r}, "outputs/link-to-host-file")
        os.symlink({str(tmp_path)!r}, "outputs/link-to-host-folder")
        os.symlink({str(secret)!r}, os.path.join(out, "link-in-output"))
        print("PRODUCED", flush=True)
    """))
    (src / "consume.py").write_text(textwrap.dedent("""
        import os, sys
        print("CONSUMED", sorted(os.listdir(sys.argv[1].encode())), flush=True)
    """))
    data = PipelineData("data")
    produce = PythonScriptStep("produce.py", name="produce", source_directory=str(src),
                               arguments=[data], outputs=[data])
    consume = PythonScriptStep("consume.py", name="consume", source_directory=str(src),
                               arguments=[data], inputs=[data])
    run = Pipeline(workspace, [produce, consume]).submit("odd-names")
    assert run.wait_for_completion(show_output=False, raise_on_error=False) == "Finished"
    store = workspace._store
    steps = {s.name: s for s in store.list_runs(parent_id=run.id)}
    log = store.read_artifact(steps["produce"].id, STD_LOG).decode()
    # the snapshot kept both names byte for byte
    assert "SNAPSHOT [b'caf\\xe9.cfg', b'two\\nlines.cfg']" in log
    names = set(store.list_artifacts(steps["produce"].id))
    for folder in ("outputs", "logs"):
        # kept under escaped names, said in the log; a plain name as it is
        assert {f"{folder}/caf%E9.txt", f"{folder}/two%0Alines.txt", f"{folder}/{LONG}",
                f"{folder}/plain.txt"} <= names
        assert f"amlocal warning: {folder}/caf%E9.txt: the file name is not plain UTF-8" in log
        assert f"amlocal warning: {folder}/two%0Alines.txt" in log
    # links were not followed: nothing of the host file came in, and the log names them
    assert not any("link" in n for n in names)
    assert "outputs/link-to-host-file is a symbolic link: not kept" in log
    assert "outputs/link-to-host-folder is a symbolic link: not kept" in log
    for name in names:
        content = store.read_artifact(steps["produce"].id, name)
        assert CANARY.encode() not in content
    # the output folder with odd names reached the next step unchanged
    consumed = store.read_artifact(steps["consume"].id, STD_LOG).decode()
    assert "b'caf\\xe9.txt'" in consumed and "b'two\\nlines.txt'" in consumed
    assert repr(LONG.encode()) in consumed and "b'link-in-output'" in consumed
