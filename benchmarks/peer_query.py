"""The peer's one-shot CLI query, for the cold-start measurement: open, parse, search, print."""

import json
import sys


def main() -> None:
    from jieba.analyse import ChineseAnalyzer  # noqa: F401  (the schema needs it unpickled)
    from whoosh import index
    from whoosh.qparser import MultifieldParser, OrGroup

    ix = index.open_dir(sys.argv[1])
    with ix.searcher() as searcher:
        parser = MultifieldParser(["title", "content"], ix.schema, group=OrGroup)
        results = searcher.search(parser.parse(sys.argv[2]), limit=10)
        hits = [
            {"path": h["path"], "title": h["title"], "snippet": h.highlights("content")}
            for h in results
        ]
    print(json.dumps({"total": len(results), "hits": hits}, ensure_ascii=False))


if __name__ == "__main__":
    main()
