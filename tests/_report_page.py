"""report.html read back for tests: what each section shows, as text, without parsing any image."""

from collections import defaultdict
from html.parser import HTMLParser


class Page(HTMLParser):
    """Per section id: rows (the text of each table row's cells, header rows included), alts (each
    image's alt text), cards ({label: value} of the summary cards), captions and text (all of it).

    page = Page.read(path); page.rows("errors"), page.alts("lambda"), page.cards("summary")
    """

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.sections = defaultdict(lambda: {"rows": [], "alts": [], "cards": {}, "captions": [], "text": []})
        self.sid, self.cell, self.span, self.caption, self.label = None, None, None, None, None

    @classmethod
    def read(cls, path):
        page = cls()
        page.feed(path.read_text(encoding="utf-8"))
        page.close()
        return page

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "section":
            self.sid = attrs.get("id")
        section = self.sections[self.sid]
        if tag == "tr":
            section["rows"].append([])
        elif tag in ("td", "th"):
            self.cell = []
        elif tag == "img":
            section["alts"].append(attrs.get("alt", ""))
        elif tag == "figcaption":
            self.caption = []
        elif tag == "span" and attrs.get("class") in ("label", "value"):
            self.span = (attrs["class"], [])

    def handle_endtag(self, tag):
        section = self.sections[self.sid]
        if tag in ("td", "th") and self.cell is not None:
            section["rows"][-1].append(" ".join("".join(self.cell).split()))
            self.cell = None
        elif tag == "figcaption" and self.caption is not None:
            section["captions"].append("".join(self.caption))
            self.caption = None
        elif tag == "span" and self.span is not None:
            kind, text = self.span[0], "".join(self.span[1]).strip()
            if kind == "label":
                self.label = text
            elif self.label is not None:
                section["cards"][self.label] = text
                self.label = None
            self.span = None
        elif tag == "section":
            self.sid = None

    def handle_data(self, data):
        section = self.sections[self.sid]
        section["text"].append(data)
        for part in (self.cell, self.caption, self.span[1] if self.span else None):
            if part is not None:
                part.append(data)

    def rows(self, sid):
        return self.sections[sid]["rows"]

    def alts(self, sid):
        return self.sections[sid]["alts"]

    def cards(self, sid):
        return self.sections[sid]["cards"]

    def captions(self, sid):
        return self.sections[sid]["captions"]

    def text(self, sid):
        return " ".join("".join(self.sections[sid]["text"]).split())
