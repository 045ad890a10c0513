#!/usr/bin/env bash
# build-rpm.sh OUTDIR - builds the SRPM and every binary RPM of packaging/hvagent.spec on
# this Debian machine, then runs rpmlint on all of them with packaging/rpmlint.toml.
# The sources are the working tree's tracked files as they are now, committed or not
# (`git stash create`, or HEAD when the tree is clean); untracked files are left out,
# so `git add` a new file before building. Results: OUTDIR/SRPMS, OUTDIR/RPMS/ARCH,
# OUTDIR/rpmlint.txt, OUTDIR/build.log. Exits non-zero when the build fails or rpmlint
# reports an error. Must never touch ~/rpmbuild or the system rpm database.
# Environment: HV_RPM_JOBS (default 2) compiler jobs; HV_RPM_NOCHECK=1 skips %check.
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 OUTDIR" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/.." && pwd)
mkdir -p "$1"
out=$(cd "$1" && pwd)

version=$(sed -n "s/^  version: '\([^']*\)',$/\1/p" "$src/meson.build")
specver=$(sed -n 's/^Version:[[:space:]]*//p' "$here/hvagent.spec")
if [ "$version" != "$specver" ]; then
  echo "build-rpm.sh: meson.build says version $version, hvagent.spec $specver" >&2
  exit 1
fi

top=$out/rpmbuild
rm -rf "$top" "$out/SRPMS" "$out/RPMS"
mkdir -p "$top"/{SOURCES,SPECS,BUILD,BUILDROOT,RPMS,SRPMS}
tree=$(git -C "$src" stash create)
tree=${tree:-HEAD}
git -C "$src" archive --format=tar.gz --prefix="hvagent-$version/" -o "$top/SOURCES/hvagent-$version.tar.gz" "$tree"
cp "$here/hvcentral.sysusers" "$top/SOURCES/"
cp "$here/hvagent.spec" "$top/SPECS/"

# --nodeps: the BuildRequires name Fedora packages, which Debian's rpm database does not
# know; the Debian equivalents are installed by scripts/deps.sh.
rpmbuild_args=(
  --define "_topdir $top"
  --define "_smp_build_ncpus ${HV_RPM_JOBS:-2}"
  --load "$here/macros.debian-compat"
  --nodeps
)
[ "${HV_RPM_NOCHECK:-0}" = 1 ] && rpmbuild_args+=(--nocheck)

start=$(date +%s)
if ! nice -n 10 rpmbuild "${rpmbuild_args[@]}" -ba "$top/SPECS/hvagent.spec" >"$out/build.log" 2>&1; then
  tail -n 40 "$out/build.log" >&2
  echo "build-rpm.sh: rpmbuild failed (full log: $out/build.log)" >&2
  exit 1
fi
echo "build-rpm.sh: built in $(($(date +%s) - start)) s from $tree"
mv "$top/SRPMS" "$top/RPMS" "$out/"
rm -rf "$top"

rc=0
rpmlint -c "$here/rpmlint.toml" "$out"/SRPMS/*.rpm "$out"/RPMS/*/*.rpm >"$out/rpmlint.txt" 2>&1 || rc=$?
cat "$out/rpmlint.txt"
# rpmlint exits 64 when it found errors, 66 when the badness threshold is exceeded.
if [ $rc -ne 0 ]; then
  echo "build-rpm.sh: rpmlint failed (exit $rc)" >&2
  exit 1
fi
