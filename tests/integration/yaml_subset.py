"""A reader for the YAML subset lux's manifests use, standard library only (PyYAML is not
always importable by the suite's python): block mappings and sequences, `- key: value` items,
plain, double-quoted and integer/boolean scalars, flow lists and maps written as JSON, `|`
literal blocks, and whole-line comments. Anything else is an error, not a guess."""

import json
import re


class YamlError(ValueError):
    pass


def _lines(text):
    out = []
    for no, raw in enumerate(text.split("\n"), 1):
        out.append((no, raw))
    return out


def _indent(raw):
    return len(raw) - len(raw.lstrip(" "))


def _skip(raw):
    s = raw.strip()
    return not s or s.startswith("#")


def _scalar(text, no):
    t = text.strip()
    if t.startswith(("[", "{", '"')):
        try:
            return json.loads(t)
        except ValueError as e:
            raise YamlError(f"line {no}: not JSON-compatible: {t} ({e})")
    if t in ("true", "false"):
        return t == "true"
    if re.fullmatch(r"-?\d+", t):
        return int(t)
    if t.startswith(("'", "&", "*", "!", ">", "%", "@", "`")) or " #" in t:
        raise YamlError(f"line {no}: unsupported scalar: {t}")
    return t


class _Reader:
    def __init__(self, text):
        self.lines = _lines(text)
        self.i = 0

    def _next_content(self):
        while self.i < len(self.lines) and _skip(self.lines[self.i][1]):
            self.i += 1
        return self.lines[self.i] if self.i < len(self.lines) else None

    def node(self, indent):
        cur = self._next_content()
        if cur is None or _indent(cur[1]) < indent:
            return None
        if cur[1].lstrip().startswith("- ") or cur[1].strip() == "-":
            return self.sequence(_indent(cur[1]))
        return self.mapping(_indent(cur[1]))

    def literal(self, parent_indent):
        """A `|` block: the following lines indented deeper than the key, newline-terminated."""
        body, block_indent = [], None
        while self.i < len(self.lines):
            no, raw = self.lines[self.i]
            if raw.strip() and _indent(raw) <= parent_indent:
                break
            if raw.strip() and block_indent is None:
                block_indent = _indent(raw)
            body.append(raw[block_indent:] if block_indent and raw.strip() else "")
            self.i += 1
        while body and not body[-1]:
            body.pop()
        return "\n".join(body) + "\n"

    def value_after(self, rest, indent, no):
        """The value of `key: rest` at indent: inline, a literal block, or a nested node."""
        if rest == "|":
            return self.literal(indent)
        if rest:
            return _scalar(rest, no)
        nxt = self._next_content()
        if nxt and _indent(nxt[1]) == indent and nxt[1].lstrip().startswith("- "):
            return self.sequence(indent)  # a list may sit at its key's own indent
        return self.node(indent + 1)

    def mapping(self, indent, first=None):
        out = {}
        while True:
            if first is not None:
                no, text = first
                first = None
            else:
                cur = self._next_content()
                if cur is None or _indent(cur[1]) != indent or cur[1].lstrip().startswith("-"):
                    if cur is not None and _indent(cur[1]) > indent:
                        raise YamlError(f"line {cur[0]}: unexpected indentation")
                    return out
                no, text = cur[0], cur[1].strip()
                self.i += 1
            m = re.fullmatch(r"([A-Za-z0-9_./-]+):(?:\s+(.*))?", text)
            if not m:
                raise YamlError(f"line {no}: expected key: value, found {text}")
            if m.group(1) in out:
                raise YamlError(f"line {no}: duplicate key {m.group(1)}")
            out[m.group(1)] = self.value_after((m.group(2) or "").strip(), indent, no)

    def sequence(self, indent):
        out = []
        while True:
            cur = self._next_content()
            if cur is None or _indent(cur[1]) != indent or not cur[1].lstrip().startswith("-"):
                return out
            no, raw = cur
            self.i += 1
            item = raw.strip()[1:].strip()
            if not item:
                out.append(self.node(indent + 1))
            elif re.match(r"[A-Za-z0-9_./-]+:(\s|$)", item):
                out.append(self.mapping(indent + 2, first=(no, item)))
            else:
                out.append(_scalar(item, no))


def load(text):
    """One document (no `---`) as dicts, lists, str, int and bool."""
    if re.search(r"^---", text, re.M):
        raise YamlError("multiple documents are not supported")
    r = _Reader(text)
    doc = r.node(0)
    if r._next_content() is not None:
        raise YamlError(f"line {r.lines[r.i][0]}: unexpected text")
    return doc
