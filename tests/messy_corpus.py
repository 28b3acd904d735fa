"""Writes an archive of the messy cases real archives have, for the reliability tests.

Each readable post carries a marker word of its own (``mk`` and a number), so a test can check
that it is findable; ``expected`` maps each marker to the post's id.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class MessyCorpus:
    root: Path
    expected: dict[str, str] = field(default_factory=dict)  # marker -> path id
    skipped: set[str] = field(default_factory=set)  # ids that must be reported as skipped
    not_posts: set[str] = field(default_factory=set)  # files that must not be indexed
    empty: set[str] = field(default_factory=set)  # posts without any word to find

    def post(self, rel: str, text: str, encoding: str = "utf-8", newline: str = "\n") -> str:
        marker = f"mk{len(self.expected) + 1:04d}"
        self.expected[marker] = rel
        data = text.replace("MARK", marker).replace("\n", newline).encode(encoding)
        self.write(rel, data)
        return marker

    def write(self, rel: str, data: bytes) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path


def front(title: str = "标题 MARK", extra: str = "") -> str:
    return f'---\ntitle: "{title}"\n{extra}---\n'


def build(root: Path, huge_mb: int = 20) -> MessyCorpus:
    c = MessyCorpus(root)
    p = "_posts/"
    c.post(p + "2020-01-01-plain.md", front() + "普通的正文。\n")
    c.post(p + "2020-01-02-no-front.md", "# 没有前言 MARK\n\n正文内容。\n")
    c.post(p + "2020-01-03-front-only.md", front())
    c.write(p + "2020-01-04-empty.md", b"")
    c.skipped.add(p + "2020-01-04-empty.md")  # reported: an empty file is not a post
    c.post(p + "2020-01-05-broken-yaml.md", "---\ntitle: [unclosed\ndate: : :\n---\n正文 MARK\n")
    dates = [
        "2021-03-04",
        "2021-03-04 05:06:07",
        "2021-03-04T05:06:07Z",
        "2021-03-04 05:06:07 +0800",
        "2021/3/4",
        "'2021-03-04'",
        "2021-02-30",
        "+0800",
        "not a date",
        "99999-01-01",
    ]
    for i, value in enumerate(dates):
        c.post(
            f"{p}2021-03-{i + 10:02d}-date{i}.md", front(extra=f"date: {value}\n") + "日期 MARK\n"
        )
    c.post(
        p + "2020-01-06-tags-list.md",
        front(extra="tags: [甲, 乙]\ncategories: [新闻]\n") + "MARK\n",
    )
    c.post(p + "2020-01-07-tags-str.md", front(extra="tags: 甲 乙\ncategory: 新闻\n") + "MARK\n")
    c.post(p + "2020-01-08-crlf.md", front() + "回车换行 MARK\n", newline="\r\n")
    c.post(p + "2020-01-09-bom.md", "\ufeff" + front() + "字节序 MARK\n")
    c.post(p + "2020-01-10-utf16.md", "\ufeff" + front() + "双字节 MARK\n", encoding="utf-16-le")
    c.post(
        p + "2020-01-11-gb18030.md", front() + "国标编码的新闻正文 MARK\n" * 5, encoding="gb18030"
    )
    c.post(
        p + "2020-01-12-big5.md",
        front("臺灣 MARK") + "繁體中文的新聞內容 MARK\n" * 5,
        encoding="big5",
    )
    stray = (front() + "坏字节 MARK 之后").encode() + b"\xff\xfe\xfd" + "继续\n".encode()
    marker = f"mk{len(c.expected) + 1:04d}"
    c.expected[marker] = p + "2020-01-13-stray.md"
    c.write(p + "2020-01-13-stray.md", stray.replace(b"MARK", marker.encode()))
    c.write(p + "2020-01-14-nul.md", b"---\ntitle: x\n---\n\x00\x00binary")
    c.write(p + "2020-01-15-binary.md", bytes(range(256)) * 4)
    c.skipped |= {p + "2020-01-14-nul.md", p + "2020-01-15-binary.md"}
    sentence = "这是一个很长的新闻报道中的一句话，用来测试大文件。"
    c.post(
        p + "2020-01-16-huge.md",
        front()
        + (sentence * 40 + "\n") * (huge_mb * 1024 * 1024 // (len(sentence.encode()) * 40))
        + "结尾 MARK\n",
    )
    c.post(p + "2020-01-17-long-line.md", front() + "长行" * (1024 * 1024 // 6) + " MARK\n")
    c.post(p + "2020-01-18-astral.md", front() + "罕见字𠀀𪚥𰻞 MARK\n")
    c.post(p + "2020-01-19-fullwidth.md", front() + "ＡＢＣ全角ＭＡＲＫ１２３ MARK\n")
    c.post(p + "2020-01-20-liquid.md", front() + "{% include x.html %}{{ page.title }}液体 MARK\n")
    c.post(
        p + "2020-01-21-script.html",
        front() + "<script>var hidden='mkhidden';</script><style>p{}</style><p>脚本 MARK</p>\n",
    )
    c.post(p + "2020-01-22-entities.md", front() + "<p>&lt;实体&gt; &amp; &#20013; MARK</p>\n")
    c.post(p + "2020-01-23 with spaces.md", front() + "空格 MARK\n")
    c.post(p + "2020-01-24-中文名.md", front() + "中文文件名 MARK\n")
    c.post(p + "-leading-dash.md", front() + "横线 MARK\n")
    c.post(p + "deep/er/nested/2020-01-25-nested.markdown", front() + "嵌套 MARK\n")
    c.post("about.html", front("关于 MARK") + "<p>页面</p>\n")
    for folder in ["_site", ".git", "node_modules", "_layouts", "_includes"]:
        c.write(f"{folder}/page.md", front("不应出现 mkhidden").encode())
        c.not_posts.add(f"{folder}/page.md")
    c.write(p + "notes.txt", "mkhidden 不是文章".encode())
    c.write("README.md", "# 说明 mkhidden\n".encode())  # a static file of the site
    c.not_posts |= {p + "notes.txt", "README.md"}
    c.skipped.add("README.md")
    outside = root.parent / f"{root.name}-outside.md"
    outside.write_text(front("外部 mkhidden"), encoding="utf-8")
    os.symlink(outside, root / p / "link-out.md")
    os.symlink(root / "missing.md", root / p / "broken-link.md")
    os.symlink(root / p, root / p / "loop")
    c.skipped |= {p + "link-out.md", p + "broken-link.md"}
    return c
