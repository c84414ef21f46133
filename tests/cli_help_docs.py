#!/usr/bin/python3
"""Every verb's `ondine VERB --help` and its section of docs/cli.md name the same options: each
flag the help lists has a row in the section's table and each flag in the table is in the help.
Usage: cli_help_docs.py ONDINE_BINARY DOCS_CLI_MD"""
import re
import subprocess
import sys

ondine, doc = sys.argv[1:3]
text = open(doc).read()
FLAG = r"(?<![\w-])(--[a-z][a-z0-9-]*|-O[012]|-[a-zA-Z])(?![\w-])"
bad = []
for verb in ("inspect", "optimize", "quantize", "run", "bench", "test", "serve"):
    help_text = subprocess.run([ondine, verb, "--help"], capture_output=True, text=True,
                               check=True).stdout
    # Option lines: two spaces, the flags, two or more spaces, the description.
    helped = {f for line in help_text.splitlines() if re.match(r"\s+-", line)
              for f in re.findall(FLAG, re.split(r"\s{2,}", line.strip())[0])} - {"-h", "--help"}
    m = re.search(rf"^## `ondine {verb}\b.*?$(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert m, f"docs/cli.md has no section for ondine {verb}"
    rows = [l.split("|")[1] for l in m.group(1).splitlines() if l.startswith("| `")]
    documented = {f for cell in rows for f in re.findall(FLAG, cell)} - {"-h", "--help"}
    for f in sorted(helped - documented):
        bad.append(f"ondine {verb} --help lists {f}, docs/cli.md's table does not")
    for f in sorted(documented - helped):
        bad.append(f"docs/cli.md lists {f} for ondine {verb}, its --help does not")
if bad:
    sys.exit("\n".join(bad))
print("help and docs/cli.md agree")
