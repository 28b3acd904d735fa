"""searchkit is a good guest: importing it changes nothing outside it, and opening a searchkit
index leaves another program's Whoosh index readable as before."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from conftest import EXAMPLES


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120
    )


def test_importing_searchkit_changes_no_other_module(tmp_path):
    done = _python(
        f"""
        import sys
        import numpy
        import whoosh.columns, whoosh.index, whoosh.codec.whoosh3, whoosh.filedb.structfile

        def snapshot():
            whoosh = {{
                name: {{key: id(value) for key, value in vars(module).items()}}
                for name, module in sorted(sys.modules.items())
                if module is not None and (name == "whoosh" or name.startswith("whoosh."))
            }}
            return list(sys.meta_path), numpy.linalg.matrix_power.__doc__, whoosh

        def compare(before, after, when):
            meta, doc, whoosh = after
            assert meta == before[0], "sys.meta_path changed " + when
            assert doc == before[1], "numpy changed " + when
            changed = [
                (name, key)
                for name, names in before[2].items()
                for key, value in names.items()
                if whoosh[name].get(key) != value
            ]
            assert not changed, (when, changed)

        before = snapshot()
        import searchkit
        import searchkit.api
        compare(before, snapshot(), "by an import")
        # nor by indexing and searching a searchkit index (the modules loaded meanwhile are
        # compared from their first state on)
        from searchkit import Index
        with Index.create({str(tmp_path / "ix")!r}) as ix:
            ix.update([{str(EXAMPLES)!r}])
            assert ix.search("数据中心").total
        loaded = snapshot()
        with Index.open({str(tmp_path / "ix")!r}) as ix:
            assert ix.search("城市").total and ix.stats().documents
        compare(before, snapshot(), "by indexing and searching")
        compare(loaded, snapshot(), "by searching")
        print("unchanged")
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "unchanged"


def test_a_plain_whoosh_index_still_works_beside_a_searchkit_index(tmp_path):
    done = _python(
        f"""
        from whoosh import fields, index
        from whoosh.analysis import StemmingAnalyzer
        from whoosh.qparser import QueryParser

        from searchkit import Index
        from searchkit.indexer import index_paths

        schema = fields.Schema(t=fields.TEXT(analyzer=StemmingAnalyzer(), stored=True))
        plain = index.create_in({str(tmp_path)!r}, schema)
        with plain.writer() as writer:
            writer.add_document(t="running dogs")
        index_paths([{str(EXAMPLES)!r}], {str(tmp_path / "sk")!r}, jobs=1)
        with Index.open({str(tmp_path / "sk")!r}) as ix:
            assert ix.search("数据中心").total > 0
        again = index.open_dir({str(tmp_path)!r})
        with again.searcher() as searcher:
            hits = searcher.search(QueryParser("t", again.schema).parse("running"))
            print([hit["t"] for hit in hits])
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['running dogs']"
