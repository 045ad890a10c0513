#!/usr/bin/python3
"""check-pages.py - keeps the man pages in step with the programs.

For hvagent(8), hvcentral(8) and hv(1): every option the program offers in --help (its
usage block and option list; hvagent: also image-import -h; hv: at every
level) is defined in the page (a line of the page starting with the option in bold),
and every option the page defines is one the program prints. For hvagent.conf(5) and the
CONFIGURATION section of hvcentral(8): the page has one `## [section]` heading per section
and, under it, one `*key* = default` line per key, exactly as `--check-config` prints them
for an empty config, and no other key. hv's exit codes are all listed under EXIT STATUS.

Reads the configured .scd sources (build dir), so it works without scdoc installed.
Prints every problem; exits 1 if there was any, else 0.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

OPTION = re.compile(r"(?<![\w/$-])(--[a-z][a-z0-9-]*|-[A-Za-z])(?![\w-])")
problems = []


def problem(page, text):
    problems.append("%s: %s" % (page, text))


def run(argv):
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=20)
    return p.returncode, p.stdout, p.stderr


def unescape(line):
    """scdoc source -> plain text: drop the \\ escapes and the bold/underline markers."""
    out, i = [], 0
    while i < len(line):
        c = line[i]
        if c == "\\" and i + 1 < len(line):
            out.append(line[i + 1])
            i += 2
            continue
        if c == "*":
            i += 1
            continue
        out.append(c)
        i += 1
    return "".join(out)


def read_page(pages, name):
    path = os.path.join(pages, name + ".scd")
    with open(path, encoding="utf-8") as f:
        return f.read().splitlines()


def defined_options(lines):
    """Options a page defines: those on lines that begin with a bold option (*-x*, *--xyz*)."""
    opts = set()
    for line in lines:
        if line.startswith("*-"):
            opts.update(OPTION.findall(unescape(line)))
    return opts


def help_options(text):
    """Options a --help text offers: those in its usage block (the first paragraph) and on
    the lines of its option list (lines that begin with an option). Options named in
    prose or examples (another program's, say) do not count."""
    usage, _, rest = text.partition("\n\n")
    opts = set(OPTION.findall(usage))
    for line in rest.splitlines():
        if line.lstrip().startswith("-"):
            opts.update(OPTION.findall(line))
    return opts


def check_options(page, lines, helps):
    printed = set()
    for text in helps:
        printed.update(help_options(text))
    defined = defined_options(lines)
    for o in sorted(printed - defined):
        problem(page, "%s is printed by --help but not defined in the page" % o)
    for o in sorted(defined - printed):
        problem(page, "%s is defined in the page but not printed by --help" % o)


def parse_ini(text):
    """`--check-config` output -> [(section, key, value)] in order."""
    keys, section = [], None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(";") or line.startswith("#"):
            continue
        m = re.fullmatch(r"\[(.+)\]", line)
        if m:
            section = m.group(1)
            continue
        k, _, v = line.partition("=")
        keys.append((section, k.strip(), v.strip()))
    return keys


def page_keys(lines):
    """`## [section]` headings and `*key* = value` lines -> {(section, key): value}."""
    keys, sections, section = {}, set(), None
    for line in lines:
        m = re.fullmatch(r"## \[(.+)\]\s*", line)
        if m:
            section = unescape(m.group(1))
            sections.add(section)
            continue
        if line.startswith("#"):
            section = None
            continue
        m = re.fullmatch(r"\*([A-Za-z0-9_.\\-]+)\* =(.*)", line)
        if m and section:
            keys[(section, unescape(m.group(1)))] = unescape(m.group(2)).strip()
    return keys, sections


def check_config(page, lines, output):
    want = parse_ini(output)
    if not want:
        problem(page, "--check-config printed no keys")
    have, sections = page_keys(lines)
    for section, key, value in want:
        if section not in sections:
            problem(page, "no '## [%s]' heading" % section)
            sections.add(section)  # report it once
        if (section, key) not in have:
            problem(page, "[%s] %s is not documented (want a line '*%s* = %s')"
                    % (section, key, key, value))
        elif have[(section, key)] != value:
            problem(page, "[%s] %s: the page says default '%s', the program '%s'"
                    % (section, key, have[(section, key)], value))
    known = {(s, k) for s, k, _ in want}
    for section, key in sorted(set(have) - known):
        problem(page, "[%s] %s is documented but the program has no such key" % (section, key))


def section_text(lines, title):
    out, inside = [], False
    for line in lines:
        if line.startswith("# "):
            inside = line[2:].strip() == title
            continue
        if inside:
            out.append(line)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", required=True, help="directory of the configured .scd files")
    ap.add_argument("--hvagent", required=True)
    ap.add_argument("--hvcentral", required=True)
    ap.add_argument("--hv", required=True)
    a = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        empty = os.path.join(tmp, "empty.conf")
        open(empty, "w").close()

        # hvagent(8) and hvagent.conf(5)
        agent_helps = []
        for words in (["--help"], ["image-import", "-h"]):
            rc, out, _ = run([a.hvagent] + words)
            if rc != 0:
                problem("hvagent.8", "hvagent %s exited %d" % (" ".join(words), rc))
            agent_helps.append(out)
        check_options("hvagent.8", read_page(a.pages, "hvagent.8"), agent_helps)
        rc, out, err = run([a.hvagent, "--check-config", "-c", empty])
        if rc != 0:
            problem("hvagent.conf.5", "hvagent --check-config of an empty file exited %d: %s"
                    % (rc, err.strip()))
        check_config("hvagent.conf.5", read_page(a.pages, "hvagent.conf.5"), out)

        # hvcentral(8), its options and its config keys
        central = read_page(a.pages, "hvcentral.8")
        rc, central_help, _ = run([a.hvcentral, "--help"])
        if rc != 0:
            problem("hvcentral.8", "hvcentral --help exited %d" % rc)
        check_options("hvcentral.8", central, [central_help])
        rc, out, err = run([a.hvcentral, "--check-config", "-c", empty])
        if rc != 0:
            problem("hvcentral.8", "hvcentral --check-config of an empty file exited %d: %s"
                    % (rc, err.strip()))
        check_config("hvcentral.8", central, out)

        # hv(1): the help of every level, and the exit codes it lists
        hv = read_page(a.pages, "hv.1")
        helps = []
        for words in (["--help"], ["host", "--help"], ["server", "--help"],
                      ["server", "create", "--help"], ["project", "--help"],
                      ["quota", "--help"], ["flavor", "--help"], ["keypair", "--help"],
                      ["network", "--help"], ["subnet", "--help"], ["port", "--help"],
                      ["security", "--help"], ["floating", "--help"],
                      ["aggregate", "--help"], ["availability", "zone", "--help"],
                      ["server", "group", "--help"], ["usage", "--help"],
                      ["hypervisor", "--help"], ["image", "--help"], ["user", "--help"]):
            rc, out, _ = run([a.hv] + words)
            if rc != 0:
                problem("hv.1", "hv %s exited %d" % (" ".join(words), rc))
            helps.append(out)
        check_options("hv.1", hv, helps)
        codes = re.findall(r"^\s+(\d+)\s+\S", helps[0].partition("Exit status:")[2].split("\n\n")[0],
                           re.M)
        listed = {m.group(1) for line in section_text(hv, "EXIT STATUS")
                  for m in [re.match(r"\*(\d+)\*", line)] if m}
        if not codes:
            problem("hv.1", "hv --help lists no exit codes")
        for c in codes:
            if c not in listed:
                problem("hv.1", "exit code %s is printed by hv --help but not under EXIT STATUS" % c)

    for p in problems:
        print(p)
    if problems:
        print("%d problem(s): update docs/man/ to match the programs" % len(problems))
        return 1
    print("man pages match the programs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
