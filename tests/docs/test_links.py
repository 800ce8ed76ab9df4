"""The documentation's links hold: every relative link and #anchor resolves, README.md and
docs/ link each other, no text stands in two places, and every section of the README
before the split into docs/ still has a home.

The documentation is README.md, BENCHMARKS.md and docs/*.md. A link is relative when it
has no scheme (`https:`, `mailto:`): its file must exist inside the project, relative to
the linking file, and its #anchor must be one GitHub gives a heading of that file:
the heading's text as rendered (no backticks, no link syntax, no emphasis), lowercased,
every character that is not a letter, a digit, `-`, `_` or a space removed, each space
turned into `-`; a heading spelled like an earlier one gets `-1`, `-2`, ... Links inside
code (fenced blocks, `code spans`) are text, not links.

Standard library only, so that any python3 runs it: `make docs-check`.
"""
import re
import unittest
from pathlib import Path
from urllib.parse import unquote

ROOT = Path(__file__).resolve().parents[2]

# Every heading of the README as it stood before the split into docs/, and where its
# text lives now. Kept so that a section cannot be dropped by a later edit without
# this list saying where it went.
OLD_SECTIONS = {
    "firehose-logs-processor": "README.md#firehose-logs-processor",
    "Two commands": "README.md#try-it-locally",
    "The lake on a laptop (`make lake`)": "docs/local-lake.md",
    "Output": "docs/output-schema.md",
    "CloudWatch Logs: one line per log event": "docs/output-schema.md#cloudwatch-logs-one-line-per-log-event",
    "EventBridge: the event, unchanged": "docs/output-schema.md#eventbridge-the-event-unchanged",
    "History: export-task objects, converted into the same lines": "docs/history.md#the-converted-lines",
    "Results": "docs/output-schema.md#results",
    "Partition keys": "docs/output-schema.md#partition-keys",
    "Size: never over 6 MB, never a record lost": "docs/size-and-reingestion.md",
    "Operations": "docs/operations.md",
    "Configuration": "README.md#function-settings",
    "Limits": "README.md#limits",
    "Performance": "docs/performance.md",
    "What Lambda bills": "docs/performance.md#what-lambda-bills",
    "Samples (`events/`)": "docs/development.md#samples-events",
    "Code map": "docs/architecture.md#code-map",
    "Deploying the pipeline (`template.yaml`)": "README.md#deploy",
    "Commands": "docs/development.md#template-and-build-checks",
    "Parameters": "README.md#template-parameters",
    "Setup 1: this account's log groups": "docs/setups.md#setup-1-this-accounts-log-groups",
    "Setup 2: other accounts, one by one or a whole organization":
        "docs/setups.md#setup-2-other-accounts-one-by-one-or-a-whole-organization",
    "The dashboard": "docs/operations.md#the-dashboard",
    "Setup 3: CloudTrail through EventBridge": "docs/setups.md#setup-3-cloudtrail-through-eventbridge",
    "Setup 4: history by export task, converted into the live layout": "docs/history.md",
    "Why the processor buffer is 0.25 MB": "docs/size-and-reingestion.md#why-the-processor-buffer-is-025-mb",
    "Active partitions (the 500 limit)": "docs/output-schema.md#active-partitions-the-500-limit",
    "Querying with Athena": "README.md#querying-with-athena",
    "Security notes": "docs/security.md",
    "What cannot be tried without an AWS account": "docs/development.md#what-cannot-be-tried-without-an-aws-account",
}

# Two files sharing this many words in a row (outside code) say the same thing twice.
SHARED_WORDS = 14

FENCE = re.compile(r"^ {0,3}(```|~~~)")
HEADING = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
CODE_SPAN = re.compile(r"(`+)(.+?)\1")
# [text](target "title") and ![alt](src), text with at most one level of brackets inside.
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_DEFINITION = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)")
HTML_ANCHOR = re.compile(r"<[^>]*\s(?:name|id)=\"([^\"]+)\"")
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
LINE_ANCHOR = re.compile(r"^L\d+(-L\d+)?$")
GENERATED = re.compile(r"<!-- *([\w-]+):begin *-->.*?<!-- *\1:end *-->", re.S)


def documentation_files():
    """README.md, BENCHMARKS.md and docs/*.md, as paths relative to the project."""
    files = [Path("README.md"), Path("BENCHMARKS.md")]
    files += sorted(p.relative_to(ROOT) for p in (ROOT / "docs").glob("*.md"))
    return [f for f in files if (ROOT / f).is_file()]


def prose_lines(text):
    """(line number, line) outside fenced code blocks."""
    inside = False
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line):
            inside = not inside
            continue
        if not inside:
            yield number, line


def rendered(heading_text):
    """A heading's text as GitHub shows it: code spans' contents, links' texts, no emphasis
    or HTML."""
    text = CODE_SPAN.sub(lambda m: m.group(2).strip(), heading_text)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"<[^>]+>", "", text)
    return text.replace("*", "")


def slug(heading_text):
    text = rendered(heading_text).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(text):
    """Every anchor a file offers: its headings' slugs, numbered as GitHub numbers
    repeats, and explicit HTML name/id attributes."""
    found, seen = set(), {}
    for _, line in prose_lines(text):
        match = HEADING.match(line)
        if match:
            base = slug(match.group(2) or "")
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f"{base}-{count}")
        found.update(HTML_ANCHOR.findall(line))
    return found


def headings(text):
    return [(number, HEADING.match(line).group(2) or "") for number, line in prose_lines(text)
            if HEADING.match(line)]


def links(text):
    """(line number, target) of every link outside code."""
    for number, line in prose_lines(text):
        line = CODE_SPAN.sub("", line)
        for target in INLINE_LINK.findall(line):
            yield number, target
        match = REFERENCE_DEFINITION.match(line)
        if match:
            yield number, match.group(1)


def words_outside_code(text):
    """The file's words outside code and outside generated regions (between
    `<!-- name:begin -->` and `<!-- name:end -->`, which a make target fills from the same
    source as a document may), lowercased, without markdown punctuation."""
    text = GENERATED.sub(" ", text)
    prose = "\n".join(CODE_SPAN.sub(" ", line) for _, line in prose_lines(text))
    prose = re.sub(r"\]\([^)]*\)", " ", prose)  # link targets
    return re.findall(r"[\w'’.,:;%/+-]+", prose.lower())


def problem_with(source, target):
    """Why `target`, linked from the file `source`, does not resolve; None when it does."""
    if not target:
        return "empty link"
    if SCHEME.match(target) or target.startswith("//"):
        return None
    path_part, _, anchor = target.partition("#")
    path = (ROOT / source).parent / unquote(path_part) if path_part else ROOT / source
    path = path.resolve()
    if ROOT not in path.parents and path != ROOT:
        return f"{target}: outside the project"
    if not path.exists():
        return f"{target}: no such file {path.relative_to(ROOT)}"
    if not anchor:
        return None
    if path.suffix == ".md":
        if unquote(anchor) not in anchors(path.read_text(encoding="utf-8")):
            return f"{target}: no heading of {path.relative_to(ROOT)} has the anchor #{anchor}"
        return None
    if path.is_file() and LINE_ANCHOR.match(anchor):
        return None
    return f"{target}: #{anchor} on a file that has no headings"


class SlugTest(unittest.TestCase):
    def test_headings_become_githubs_anchors(self):
        cases = [
            ("Try it locally", "try-it-locally"),
            ("The lake on a laptop (`make lake`)", "the-lake-on-a-laptop-make-lake"),
            ("Setup 1: this account's log groups", "setup-1-this-accounts-log-groups"),
            ("Why the processor buffer is 0.25 MB", "why-the-processor-buffer-is-025-mb"),
            ("Size: never over 6 MB, never a record lost", "size-never-over-6-mb-never-a-record-lost"),
            ("`PARTITION_LAYOUT` and **bold**", "partition_layout-and-bold"),
            ("A [link](https://example.com) in it", "a-link-in-it"),
            ("Zürich → 東京", "zürich--東京"),
        ]
        for heading, expected in cases:
            with self.subTest(heading=heading):
                self.assertEqual(slug(heading), expected)

    def test_repeated_headings_are_numbered(self):
        text = "# Notes\n## Notes\n```\n# Notes (code, not a heading)\n```\n### Notes\n"
        self.assertEqual(anchors(text), {"notes", "notes-1", "notes-2"})

    def test_generated_regions_are_not_prose(self):
        text = "said here\n<!-- cost:begin -->\n| filled | by make |\n<!-- cost:end -->\nand here\n"
        self.assertEqual(words_outside_code(text), ["said", "here", "and", "here"])

    def test_links_in_code_are_not_links(self):
        text = "[a](x.md) `[b](y.md)`\n```\n[c](z.md)\n```\n[d]: w.md\n"
        self.assertEqual([t for _, t in links(text)], ["x.md", "w.md"])


class LinksTest(unittest.TestCase):
    def test_every_relative_link_and_anchor_resolves(self):
        problems = []
        for source in documentation_files():
            text = (ROOT / source).read_text(encoding="utf-8")
            for number, target in links(text):
                problem = problem_with(source, target)
                if problem:
                    problems.append(f"{source}:{number}: {problem}")
        self.assertEqual(problems, [], "\n" + "\n".join(problems))

    def test_readme_links_every_doc_and_every_doc_links_back(self):
        readme_targets = {
            ((ROOT / target.partition("#")[0]).resolve())
            for _, target in links((ROOT / "README.md").read_text(encoding="utf-8"))
            if not SCHEME.match(target) and target.partition("#")[0]}
        missing = []
        for doc in sorted((ROOT / "docs").glob("*.md")):
            if doc.resolve() not in readme_targets:
                missing.append(f"README.md does not link docs/{doc.name}")
            back = [t for _, t in links(doc.read_text(encoding="utf-8"))
                    if (doc.parent / t.partition("#")[0]).resolve() == (ROOT / "README.md").resolve()
                    and t.partition("#")[0]]
            if not back:
                missing.append(f"docs/{doc.name} does not link back to ../README.md")
        self.assertEqual(missing, [], "\n" + "\n".join(missing))

    def test_every_old_section_has_a_home(self):
        problems = [f"{heading!r} -> {home}: {problem_with(Path('README.md'), home)}"
                    for heading, home in OLD_SECTIONS.items()
                    if problem_with(Path("README.md"), home)]
        self.assertEqual(problems, [], "\n" + "\n".join(problems))

    def test_no_text_stands_in_two_files(self):
        """What README.md and docs/ say is said once: no two files share SHARED_WORDS words
        in a row outside code (commands and sample output may repeat) and outside
        generated regions."""
        runs = {}
        for source in documentation_files():
            words = words_outside_code((ROOT / source).read_text(encoding="utf-8"))
            for start in range(len(words) - SHARED_WORDS + 1):
                runs.setdefault(" ".join(words[start:start + SHARED_WORDS]), set()).add(str(source))
        shared = {}
        for run, sources in runs.items():
            if len(sources) > 1:
                shared.setdefault(tuple(sorted(sources)), run)
        report = [f"{' and '.join(files)}: \"{run} ...\"" for files, run in sorted(shared.items())]
        self.assertEqual(report, [], "\n" + "\n".join(report))


if __name__ == "__main__":
    unittest.main()
