#!/usr/bin/env python3
"""Checks that every public liburing-ext function has a man page.

Usage: check_man_pages.py INCLUDE_DIR MAN_DIR

INCLUDE_DIR holds the public headers (liburing-ext/include/uringx). A public
function is a uringx_* declaration starting at column 0 (the return type on
the same line or the line before; "static inline" ones count too); calls
inside inline bodies are indented and do not count.

MAN_DIR is the man root: pages in MAN_DIR/man3 and MAN_DIR/man7 (or, for a
flat layout, MAN_DIR itself). A page whose only line is ".so man3/X.3" is an
alias of X.3; every other page is a full page.

Fails, naming the function or page, when:
  1. a public function has no page MAN3/<name>.3 (full page or alias);
  2. a full page's NAME or alias lists a function its SYNOPSIS has no
     prototype for, a SYNOPSIS prototype differs from the header's
     declaration (whitespace aside; "static inline" may be left out), a
     documented function is not mentioned in DESCRIPTION, a section 3 page
     lacks NAME, SYNOPSIS, DESCRIPTION, RETURN VALUE or SEE ALSO, a line has
     trailing whitespace or starts with "'", or
     `groff -man -ww -z -Tutf8 PAGE` prints anything on stderr;
  3. an alias's .so target does not exist, or does not document the alias;
  4. a page documents a function no header declares (stale page or alias),
     or names a uringx_*/URINGX_* identifier that no header has.
"""
import os
import re
import shutil
import subprocess
import sys

PROG = "check_man_pages"

DECL_RE = re.compile(r"^((?:[A-Za-z_]\w*[\s*]+)*)(uringx_[a-z0-9_]+)\s*\(")
TYPE_WORDS_BAD = {"return", "typedef", "if", "while", "for", "switch", "sizeof"}
REQUIRED_SECTIONS_3 = ("NAME", "SYNOPSIS", "DESCRIPTION", "RETURN VALUE", "SEE ALSO")


def strip_comments(text):
    """C comments replaced by spaces, newlines kept, so columns stay."""
    def blank(m):
        return re.sub(r"[^\n]", " ", m.group(0))
    text = re.sub(r"/\*.*?\*/", blank, text, flags=re.S)
    return re.sub(r"//[^\n]*", blank, text)


def normalize(proto):
    """One spelling of a prototype: single spaces, none around * ( ) ,."""
    s = " ".join(proto.split())
    s = re.sub(r"\s*([*(),])\s*", r"\1", s)
    s = s.rstrip(";").strip()
    s = re.sub(r"^(?:static\s+)?(?:inline\s+)", "", s)
    s = re.sub(r"^static\s+", "", s)
    return s


def parse_headers(include_dir):
    """{name: (normalized prototype, header)} and the set of all identifiers."""
    funcs = {}
    idents = set()
    headers = sorted(f for f in os.listdir(include_dir) if f.endswith(".h"))
    if not headers:
        fail(f"no headers in {include_dir}")
    for h in headers:
        path = os.path.join(include_dir, h)
        with open(path, encoding="utf-8") as f:
            raw = f.read()
        text = strip_comments(raw)
        idents.update(re.findall(r"\b(?:uringx|URINGX)_\w+", text))
        lines = text.split("\n")
        for i, line in enumerate(lines):
            if not line or line[0] in " \t#{}":
                continue
            m = DECL_RE.match(line)
            if not m:
                continue
            pre = m.group(1)
            if set(pre.replace("*", " ").split()) & TYPE_WORDS_BAD:
                continue
            start = "\n".join(lines[i:])
            if not pre.strip():
                # Return type on the line before (GNU style).
                prev = lines[i - 1].strip() if i else ""
                if not prev or prev.endswith((";", "}", "{")):
                    continue
                start = prev + "\n" + start
            # The declaration runs to the parenthesis closing its parameters.
            open_at = start.index("(", start.index(m.group(2)))
            depth = 0
            end = None
            for j in range(open_at, len(start)):
                if start[j] == "(":
                    depth += 1
                elif start[j] == ")":
                    depth -= 1
                    if depth == 0:
                        end = j
                        break
            if end is None:
                fail(f"{h}:{i + 1}: unterminated declaration of {m.group(2)}")
            rest = start[end + 1:].lstrip()
            if not rest or rest[0] not in ";{":
                continue  # not a declaration or definition (e.g. a macro use)
            name = m.group(2)
            if name in funcs:
                fail(f"{name} declared twice ({funcs[name][1]} and {h})")
            funcs[name] = (normalize(start[:end + 1]), h)
    return funcs, idents


def roff_args(s):
    """Macro arguments: quoted strings or words."""
    args = []
    i = 0
    while i < len(s):
        if s[i] in " \t":
            i += 1
            continue
        if s[i] == '"':
            j = i + 1
            buf = []
            while j < len(s):
                if s[j] == '"':
                    if j + 1 < len(s) and s[j + 1] == '"':
                        buf.append('"')
                        j += 2
                        continue
                    break
                buf.append(s[j])
                j += 1
            args.append("".join(buf))
            i = j + 1
        else:
            j = i
            while j < len(s) and s[j] not in " \t":
                j += 1
            args.append(s[i:j])
            i = j
    return args


def unescape(s):
    s = re.sub(r"\\f(?:\[[^\]]*\]|\(..|.)", "", s)
    s = s.replace("\\-", "-").replace("\\e", "\\").replace("\\&", "")
    s = s.replace("\\ ", " ").replace("\\~", " ").replace("\\|", "").replace("\\^", "")
    s = s.replace("\\(aq", "'").replace("\\(dq", '"').replace("\\:", "")
    s = re.sub(r"\\\((..)", "", s)
    return s


def roff_text(lines):
    """Plain text of roff lines (font macros resolved, requests dropped)."""
    out = []
    for line in lines:
        if line.startswith(".\\\"") or line.startswith("'\\\""):
            continue
        if line.startswith("."):
            m = re.match(r"\.(\S+)\s*(.*)$", line)
            if not m:
                continue
            mac, rest = m.group(1), m.group(2)
            if mac in ("B", "I", "SM", "SB"):
                out.append(unescape(" ".join(roff_args(rest))))
            elif mac in ("BI", "IB", "BR", "RB", "IR", "RI"):
                out.append(unescape("".join(roff_args(rest))))
            elif mac in ("SH", "SS"):
                out.append(unescape(" ".join(roff_args(rest))))
            # other requests carry no text we check
        else:
            out.append(unescape(line))
    return out


def sections(lines):
    """{section title: [lines]} in page order."""
    secs = {}
    cur = None
    for line in lines:
        m = re.match(r"\.SH\s+(.*)$", line)
        if m:
            cur = " ".join(roff_args(m.group(1))).strip()
            secs[cur] = []
        elif cur is not None:
            secs[cur].append(line)
    return secs


def synopsis_protos(syn_lines):
    """{name: normalized prototype} of the SYNOPSIS."""
    text = [t for t in roff_text(syn_lines) if not t.lstrip().startswith("#include")]
    joined = " ".join(text)
    protos = {}
    for stmt in joined.split(";"):
        stmt = stmt.strip()
        m = re.search(r"(uringx_[a-z0-9_]+)\s*\(", stmt)
        if not m:
            continue
        # A prototype: only type words before the name (not a struct body).
        if not re.fullmatch(r"(?:[A-Za-z_]\w*[\s*]+)*", stmt[:m.start()]):
            continue
        protos.setdefault(m.group(1), []).append(normalize(stmt))
    return protos


def fail(msg):
    print(f"{PROG}: FAIL: {msg}")
    sys.exit(1)


def main():
    if len(sys.argv) != 3:
        print(__doc__.strip().split("\n\n")[1], file=sys.stderr)
        sys.exit(2)
    include_dir, man_dir = sys.argv[1], sys.argv[2]
    if not os.path.isdir(include_dir):
        fail(f"{include_dir}: no such directory")
    if not os.path.isdir(man_dir):
        fail(f"{man_dir}: no such directory")
    if not shutil.which("groff"):
        fail("groff not found (Debian: apt-get install groff)")
    funcs, idents = parse_headers(include_dir)
    if not funcs:
        fail(f"no public uringx_* functions found in {include_dir}")

    man3 = os.path.join(man_dir, "man3")
    if not os.path.isdir(man3):
        man3 = man_dir
    page_files = []
    for d in sorted({man3, os.path.join(man_dir, "man7"), man_dir}):
        if os.path.isdir(d):
            page_files += [os.path.join(d, f) for f in sorted(os.listdir(d))
                           if re.search(r"\.[1-9]$", f)]
    page_files = sorted(set(page_files))
    if not page_files:
        fail(f"no pages in {man_dir}")

    errors = []
    aliases = {}   # alias path -> target path
    full = {}      # page path -> lines
    for p in page_files:
        with open(p, encoding="utf-8") as f:
            content = f.read()
        lines = content.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        if lines and lines[0].startswith(".so"):
            if len(lines) != 1:
                errors.append(f"{p}: an alias page must be the one line '.so man3/PAGE.3'")
                continue
            m = re.fullmatch(r"\.so (\S+)", lines[0])
            if not m:
                errors.append(f"{p}: malformed .so line: {lines[0]!r}")
                continue
            target = os.path.join(man_dir, m.group(1))
            if not os.path.isfile(target) and man3 == man_dir:
                target = os.path.join(man_dir, os.path.basename(m.group(1)))
            if not os.path.isfile(target):
                errors.append(f"{p}: .so target {m.group(1)} does not exist")
                continue
            aliases[p] = target
        else:
            full[p] = lines

    # Aliases pointing at aliases would not render: the target must be a full page.
    aliased_to = {}
    for a, t in aliases.items():
        if t in aliases:
            errors.append(f"{a}: .so target {t} is itself an alias")
            continue
        aliased_to.setdefault(t, []).append(os.path.basename(a)[:-2])

    documented_by = {}  # function -> page
    for p, lines in full.items():
        base = os.path.basename(p)
        section = base.rsplit(".", 1)[1]
        for n, line in enumerate(lines, 1):
            if line != line.rstrip():
                errors.append(f"{p}:{n}: trailing whitespace")
            if line.startswith("'") and not line.startswith("'\\\""):
                errors.append(f"{p}:{n}: line starts with ' (a control line)")
        secs = sections(lines)
        if section == "3":
            for s in REQUIRED_SECTIONS_3:
                if s not in secs:
                    errors.append(f"{p}: no {s} section")
        name_text = " ".join(roff_text(secs.get("NAME", [])))
        name_list = re.findall(r"\buringx_[a-z0-9_]+", name_text.split(" - ")[0])
        protos = synopsis_protos(secs.get("SYNOPSIS", []))
        desc = " ".join(roff_text(secs.get("DESCRIPTION", [])))
        wanted = set(name_list) | set(aliased_to.get(p, []))
        if section == "3" and base[:-2] in funcs:
            wanted.add(base[:-2])
        for fn in sorted(wanted | set(protos)):
            if fn not in funcs:
                errors.append(f"{p}: documents {fn}, which no header declares (stale)")
                continue
            if fn not in protos:
                errors.append(f"{p}: {fn} has no prototype in SYNOPSIS")
                continue
            want = funcs[fn][0]
            for got in protos[fn]:
                if got != want:
                    errors.append(f"{p}: SYNOPSIS prototype of {fn} differs from "
                                  f"{funcs[fn][1]}:\n    page:   {got}\n    header: {want}")
            if fn not in wanted:
                errors.append(f"{p}: {fn} is in SYNOPSIS but neither in NAME nor aliased here")
            if not re.search(r"\b%s\b" % re.escape(fn), desc):
                errors.append(f"{p}: {fn} is not described in DESCRIPTION")
            if fn in documented_by:
                errors.append(f"{fn} is documented by both {documented_by[fn]} and {p}")
            documented_by[fn] = p
        # Every uringx_/URINGX_ name a page uses must exist.
        page_names = {os.path.basename(q).rsplit(".", 1)[0] for q in page_files}
        text = "\n".join(roff_text(lines))
        for ident in sorted(set(re.findall(r"\b(?:uringx|URINGX)_[A-Za-z0-9_]+", text))):
            if ident not in idents and ident not in page_names:
                errors.append(f"{p}: names {ident}, which no header has (stale?)")
        r = subprocess.run(["groff", "-man", "-ww", "-z", "-Tutf8", p],
                           capture_output=True, text=True)
        if r.stderr.strip() or r.returncode:
            errors.append(f"{p}: groff -man -ww -z -Tutf8 (rc {r.returncode}):\n"
                          + r.stderr.rstrip())

    for a, t in aliases.items():
        name = os.path.basename(a)[:-2]
        if name not in funcs:
            errors.append(f"{a}: alias for {name}, which no header declares (stale)")
        elif documented_by.get(name) != t and t in full:
            errors.append(f"{a}: its target {os.path.basename(t)} does not document {name}")

    for fn in sorted(funcs):
        page = os.path.join(man3, fn + ".3")
        if not os.path.isfile(page):
            errors.append(f"{fn} ({funcs[fn][1]}) has no page {page}")
        elif fn not in documented_by:
            errors.append(f"{fn} ({funcs[fn][1]}): {page} exists but no page documents it")

    if errors:
        for e in errors:
            print(f"{PROG}: FAIL: {e}")
        print(f"{PROG}: {len(errors)} problem(s)")
        sys.exit(1)
    print(f"{PROG}: {len(funcs)} functions, {len(full)} pages, {len(aliases)} aliases: ok")


if __name__ == "__main__":
    main()
