"""The data layer (``amlocal.data``) stands below ``amlocal.core``: it reads datasets without
loading core, and the classes it holds are the very classes core's azureml import paths give."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap


def test_datasets_are_built_filtered_and_read_without_amlocal_core(tmp_path):
    folder = tmp_path / "people"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.csv").write_text("name,age\nann,31\nbob,25\n")
    (folder / "sub" / "b.csv").write_text("name,age\ncid,47\n")
    (folder / "notes.txt").write_text("not a table")
    code = textwrap.dedent(f"""
        import importlib.abc, sys
        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.startswith(('amlocal.core', 'amlocal.pipeline', 'amlocal._engine')):
                    raise ImportError('the data layer imported ' + name)
        sys.meta_path.insert(0, Block())
        from amlocal.data import FileDataset, TabularDataset
        from amlocal.data.abstract_dataset import AbstractDataset
        folder = {str(folder)!r}
        table = AbstractDataset.Tabular.from_delimited_files(folder + '/**/*.csv')
        older = table.filter(table['age'] > 30).to_pandas_dataframe()
        print(sorted(older['name']))
        files = AbstractDataset.File.from_files(folder)
        picked = files.filter(files.file_metadata('Extension') == 'csv')
        print(isinstance(picked, FileDataset), isinstance(table, TabularDataset), picked.to_path())
        print(sorted(m for m in sys.modules if m.startswith('amlocal.core')))
    """)
    env = {"AMLOCAL_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin",
           **{k: v for k, v in os.environ.items() if k == "PYTHONPATH"}}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["['ann', 'cid']", "True True ['/a.csv', '/sub/b.csv']",
                                        "[]"]


def test_the_moved_classes_are_the_ones_core_exports(workspace, tmp_path):
    import amlocal.core
    from amlocal.core.dataset import Dataset
    from amlocal.core.datastore import Datastore
    from amlocal.core.runconfig import DataReferenceConfiguration
    from amlocal.data import FileDataset
    from amlocal.data import _transforms
    from amlocal.data.abstract_dataset import AbstractDataset
    from amlocal.data.abstract_datastore import AbstractDatastore
    from amlocal.data.data_reference import DataReferenceConfiguration as DataLayerConfiguration
    from amlocal.data.dataset_factory import FileDatasetFactory, TabularDatasetFactory
    from amlocal.datastores import transforms

    assert Dataset is AbstractDataset is amlocal.core.Dataset
    assert Dataset.File is FileDatasetFactory and Dataset.Tabular is TabularDatasetFactory
    assert Datastore is AbstractDatastore is amlocal.core.Datastore
    assert DataReferenceConfiguration is DataLayerConfiguration
    assert _transforms.select_files is transforms.select_files

    store = Datastore.get_default(workspace)
    assert isinstance(store, AbstractDatastore)
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "x.bin").write_bytes(b"1")
    store.upload(str(tmp_path / "in"), "raw", show_progress=False)
    ds = Dataset.File.from_files((store, "raw")).register(workspace, "raw_files")
    again = Dataset.get_by_name(workspace, "raw_files")
    assert isinstance(again, FileDataset) and isinstance(again, AbstractDataset)
    assert again.id == ds.id and again.version == 1
    config = store.path("raw").as_download().to_config()
    assert isinstance(config, DataReferenceConfiguration)
    assert (config.data_store_name, config.mode, config.path_on_data_store) == \
        (store.name, "download", "raw")
