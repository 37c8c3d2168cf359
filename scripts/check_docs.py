"""Checks that the documents say what the repository holds.

1. Every environment variable the code reads is in the configuration page
   (docs/src/configuration.md): named in the first column of one of its tables. The variables
   are found where the code reads them, in src/, crates/host/src/ and functions/*/src/ (not the tests' tools):
   the typed readers of crates/host/src/config/env.rs (`env.text("NAME")`, `env.required("NAME", …)`,
   `.flag(`, `.choice(`, `.number(`, `.both("A", "B", …)`, …, whatever methods env.rs
   defines), helpers handed the environment and a name (`session_name(env, "NAME")`), the
   `VARIABLES` lists, names chained into those lists (`.chain(["A", "B"]…)`), closures over a
   lookup (`let set = |name| …deferred(name)…; set("NAME")`), `deferred("NAME")`, and
   `std::env::var("NAME")` / `var_os`. PLATFORM_UNDOCUMENTED lists the few the page need not
   name, each with its reason.
2. Every `.rs` file git tracks under src/, functions/*/src/ and crates/*/src/ is named, by its
   path, in ARCHITECTURE.md, and every `.rs` path ARCHITECTURE.md names exists.
3. Every relative link (`[text](path)`, `[text](path#anchor)`, `[text](#anchor)`; not
   http(s)://, mailto:) in README.md, ARCHITECTURE.md and docs/**/*.md resolves to a file or
   folder, and its anchor, when the target is a Markdown file, names one of its headings (slugs
   as GitHub and mdBook make them) or an explicit `id="…"`. mdBook `{{#include path…}}` lines
   must name a file that exists, and an `:anchor` in them an `ANCHOR:` marker in that file.
   A link in the book (docs/src/) may not leave docs/src/: mdBook would turn it into a broken
   `.html` link (include the file, or name it in code, instead).

Standard library only. usage: python3 scripts/check_docs.py [repository root]
"""

import pathlib
import re
import subprocess
import sys

# Read by the code, but not stsvend settings: the configuration page need not name them.
PLATFORM_UNDOCUMENTED = {
    "HOME": "the user's home directory, set by the system; the configuration and keyless pages "
    "name the profile files under it (~/.aliyun/config.json, ~/.aws/credentials, ...), as the "
    "official SDKs find them",
}

NAME = r'"([A-Z][A-Z0-9_]*)"'


def strip_line_comments(source: str) -> str:
    """`source` without `//` comments (doc comments name variables they do not read)."""
    out = []
    for line in source.split("\n"):
        stripped = line.lstrip()
        out.append("" if stripped.startswith("//") else line)
    return "\n".join(out)


def without_tests(source: str) -> str:
    """`source` up to its test module (`#[cfg(test)]` then `mod tests`, last in a file by this
    code's convention): a variable a test makes up to read is no variable the code reads."""
    match = re.search(r"^#\[cfg\(test\)\]\s*\n\s*mod tests\b", source, re.M)
    return source[: match.start()] if match else source


def env_readers(root: pathlib.Path) -> list[str]:
    """The reader methods `Env` defines: every `fn name(&self, …` in crates/host/src/config/env.rs."""
    text = (root / "crates/host/src/config/env.rs").read_text()
    return re.findall(r"fn\s+(\w+)\s*(?:<[^>]*>)?\(\s*&self\b", text)


def variables_read(root: pathlib.Path) -> dict[str, set[str]]:
    """Each variable the code reads, with the files that read it."""
    readers = env_readers(root)
    if not readers:
        raise SystemExit("FAIL crates/host/src/config/env.rs defines no reader methods: update check_docs.py")
    calls = re.compile(r"\.\s*(?:%s)\(\s*((?:\"[A-Z][A-Z0-9_]*\"\s*,\s*)*\"[A-Z][A-Z0-9_]*\")" % "|".join(readers))
    helper = re.compile(r"\b\w+\(\s*&?env\s*,\s*" + NAME)
    lists = re.compile(r"\bVARIABLES\s*:\s*&\[&str\]\s*=\s*&\[(.*?)\]\s*;", re.S)
    chained = re.compile(r"\.chain\(\s*\[((?:\s*\"[A-Z][A-Z0-9_]*\"\s*,?)+)\s*\]")
    process = re.compile(r"\benv::var(?:_os)?\(\s*" + NAME)
    deferred = re.compile(r"\bdeferred\(\s*" + NAME)
    closure = re.compile(r"let\s+(\w+)\s*=\s*(?:move\s*)?\|\s*name\b[^|]*\|([^;]*)")
    found: dict[str, set[str]] = {}
    files = sorted(root.glob("src/**/*.rs")) + sorted(root.glob("crates/host/src/**/*.rs")) + sorted(root.glob("functions/*/src/**/*.rs"))
    for path in files:
        if path.name == "tests.rs":  # a module of tests on its own
            continue
        code = strip_line_comments(without_tests(path.read_text()))
        names: list[str] = []
        for match in calls.finditer(code):
            names += re.findall(NAME, match.group(1))
        for pattern in (helper, process, deferred):
            names += pattern.findall(code)
        for pattern in (lists, chained):
            for match in pattern.finditer(code):
                names += re.findall(NAME, match.group(1))
        for match in closure.finditer(code):
            var, body = match.groups()
            if re.search(r"env::var|deferred\(|\benv\.", body):
                names += re.findall(r"\b%s\(\s*%s" % (re.escape(var), NAME), code)
        for name in names:
            found.setdefault(name, set()).add(str(path.relative_to(root)))
    return found


def documented_variables(page: str) -> set[str]:
    """The variables named in the first column of the page's tables."""
    names = set()
    for line in page.splitlines():
        if line.startswith("| `"):
            names |= set(re.findall(r"`([A-Z][A-Z0-9_]+)`", line.split("|")[1]))
    return names


def check_variables(root: pathlib.Path, problems: list[str]) -> int:
    page_path = root / "docs/src/configuration.md"
    if not page_path.exists():
        problems.append("docs/src/configuration.md does not exist")
        return 0
    documented = documented_variables(page_path.read_text())
    read = variables_read(root)
    if len(read) < 10:
        problems.append(f"only {len(read)} environment variables found in the code: check_docs.py no longer sees how the code reads them")
    for name in sorted(read):
        if name not in documented and name not in PLATFORM_UNDOCUMENTED:
            where = ", ".join(sorted(read[name]))
            problems.append(f"environment variable {name} (read in {where}) is not in docs/src/configuration.md's tables")
    for name in sorted(PLATFORM_UNDOCUMENTED):
        if name not in read:
            problems.append(f"PLATFORM_UNDOCUMENTED names {name}, which the code no longer reads: remove it")
    return len(read)


def tracked_modules(root: pathlib.Path) -> list[str]:
    out = subprocess.run(
        ["git", "ls-files", "--", "src/*.rs", "functions/*/src/*.rs", "crates/*/src/*.rs"],
        cwd=root, capture_output=True, text=True, check=True,
    ).stdout
    return sorted(line for line in out.splitlines() if line.endswith(".rs"))


def check_architecture(root: pathlib.Path, problems: list[str]) -> int:
    path = root / "ARCHITECTURE.md"
    if not path.exists():
        problems.append("ARCHITECTURE.md does not exist")
        return 0
    text = path.read_text()
    named = set(re.findall(r"(?<![\w./-])((?:[\w.-]+/)+[\w.-]+\.rs)\b", text))
    modules = tracked_modules(root)
    if not modules:
        problems.append("git ls-files found no module files: is this a git checkout?")
    for module in modules:
        if module not in named:
            problems.append(f"ARCHITECTURE.md does not name {module}")
    for name in sorted(named):
        if not (root / name).is_file():
            problems.append(f"ARCHITECTURE.md names {name}, which does not exist")
    return len(modules)


def slug(heading: str) -> str:
    """A heading's anchor, as GitHub and mdBook make it."""
    text = re.sub(r"<[^>]+>", "", heading)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = text.strip().lower()
    text = "".join(c for c in text if c.isalnum() or c in " -_")
    return text.replace(" ", "-")


def anchors(path: pathlib.Path) -> set[str]:
    found: set[str] = set()
    in_code = False
    for line in path.read_text().splitlines():
        if line.lstrip().startswith("```"):
            in_code = not in_code
            continue
        if in_code:
            continue
        heading = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if heading:
            base = slug(heading.group(1))
            anchor, n = base, 0
            while anchor in found:
                n += 1
                anchor = f"{base}-{n}"
            found.add(anchor)
        found |= set(re.findall(r"""\bid=["']([^"']+)["']""", line))
    return found


def links(text: str):
    """(line number, target) of each inline Markdown link outside code."""
    in_code = False
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("```"):
            in_code = not in_code
            continue
        if in_code:
            continue
        line = re.sub(r"`[^`]*`", "", line)
        for target in re.findall(r"\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)", line):
            yield number, target


def check_links(root: pathlib.Path, problems: list[str]) -> int:
    documents = [root / "README.md", root / "ARCHITECTURE.md"] + sorted((root / "docs").rglob("*.md"))
    documents = [d for d in documents if d.exists() and "book" not in d.relative_to(root).parts[:2]]
    count = 0
    for document in documents:
        where = document.relative_to(root)
        text = document.read_text()
        for number, target in links(text):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):
                continue  # http:, https:, mailto:, …
            count += 1
            file_part, _, anchor = target.partition("#")
            resolved = (document.parent / file_part).resolve() if file_part else document
            if file_part and not resolved.exists():
                problems.append(f"{where}:{number}: link {target} does not resolve ({resolved.relative_to(root.resolve()) if resolved.is_relative_to(root.resolve()) else resolved} is missing)")
                continue
            book = root.resolve() / "docs" / "src"
            if document.resolve().is_relative_to(book) and not resolved.is_relative_to(book):
                problems.append(f"{where}:{number}: link {target} leaves docs/src/, so the built book would break it (name the file in code, or include it)")
                continue
            if anchor and resolved.is_file() and resolved.suffix == ".md" and anchor not in anchors(resolved):
                problems.append(f"{where}:{number}: link {target}: no heading or id {anchor!r} in {resolved.name}")
        for number, line in enumerate(text.splitlines(), 1):
            for include in re.findall(r"\{\{#(?:include|rustdoc_include)\s+([^}\s]+)\s*\}\}", line):
                count += 1
                file_part, _, rest = include.partition(":")
                included = (document.parent / file_part).resolve()
                if not included.is_file():
                    problems.append(f"{where}:{number}: include {include}: {file_part} does not exist")
                elif rest and not re.match(r"^\d*(:\d*)?$", rest):
                    if not re.search(r"ANCHOR:\s*%s(?![\w-])" % re.escape(rest), included.read_text()):
                        problems.append(f"{where}:{number}: include {include}: no ANCHOR: {rest} in {file_part}")
    return count


def main() -> int:
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parents[1]).resolve()
    problems: list[str] = []
    variables = check_variables(root, problems)
    modules = check_architecture(root, problems)
    link_count = check_links(root, problems)
    for problem in problems:
        print(f"FAIL {problem}")
    print(
        f"docs: {variables} environment variables read, {modules} module files, {link_count} relative links and includes; "
        f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
