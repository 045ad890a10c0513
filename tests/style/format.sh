#!/usr/bin/env bash
# Every C source and header of the tree is in the tree's one format (.clang-format): a file
# written another way fails, naming the file and the first line that differs.
# Skips (77) when clang-format 14 is not installed.
set -u
root=${1:?source root}
fmt=$(command -v clang-format-14 || command -v clang-format) || { echo "SKIP: clang-format is not installed"; exit 77; }
"$fmt" --version | grep -q 'version 14\.' || { echo "SKIP: $fmt is not clang-format 14 (the format is pinned to it)"; exit 77; }
cd "$root" || exit 1
files=$(git ls-files '*.c' '*.h' 2>/dev/null) || { echo "SKIP: not a git checkout"; exit 77; }
# shellcheck disable=SC2086 # one word per file name: git ls-files names have no spaces here
if ! out=$("$fmt" --dry-run --Werror $files 2>&1); then
	echo "$out" | grep -o '^[^:]*:[0-9]*' | sort -u -t: -k1,1 | sed 's/^/not ok - not in the tree'"'"'s format: /'
	echo "fix with: $fmt -i FILE"
	exit 1
fi
echo "ok - $(echo "$files" | wc -l) files in the tree's format"
