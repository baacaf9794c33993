#!/usr/bin/env python3
"""Writes the README's C++ examples to one file, so a test compiles them.

Usage: extract_readme_cpp.py README.md OUT.inc
Every ```cpp block in README.md is copied in order, each preceded by a
#line directive pointing into the README, so a compile error names the
README line. The test that includes OUT.inc runs the examples.
"""
import sys


def main():
    readme, out = sys.argv[1], sys.argv[2]
    blocks, block, start = [], None, 0
    with open(readme) as f:
        for n, line in enumerate(f, 1):
            if block is None and line.strip() == "```cpp":
                block, start = [], n + 1
            elif block is not None and line.strip() == "```":
                blocks.append((start, "".join(block)))
                block = None
            elif block is not None:
                block.append(line)
    if not blocks:
        sys.exit(f"extract_readme_cpp: no ```cpp block in {readme}")
    with open(out, "w") as f:
        f.write("// Generated from README.md by tests/tools/extract_readme_cpp.py.\n")
        for start, text in blocks:
            f.write(f'#line {start} "README.md"\n{text}\n')


if __name__ == "__main__":
    main()
