# targets.sh - the libFuzzer targets and how each is built, sourced by run_fuzz.sh (the
# bounded runs of the test suite) and bench/fuzz.sh (the long runs). meson builds with gcc,
# which has no libFuzzer, so each target is compiled here with clang from the product
# sources it exercises (one list per target below; the product files are compiled as they
# are, nothing is stubbed but the entropy source, see fuzz_det.c).
# shellcheck shell=bash

# Every target, in the order the suite and the bench run them.
# shellcheck disable=SC2034 # read by the scripts that source this file
FUZZ_TARGETS="proto req sshkey netfilter link config extraspecs api os"

# ASan for the runs: leak detection on, and a smaller quarantine without malloc fill, which
# more than doubles the executions per second of the targets that allocate much (sqlite,
# libxml2) on a small machine; a use after free of the last 32 MiB freed is still caught,
# and uninitialized reads are not ASan's to find anyway.
# shellcheck disable=SC2034
FUZZ_ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:quarantine_size_mb=32:max_malloc_fill_size=0

# fuzz_sources TARGET: prints "SOURCES... -- PKG-CONFIG MODULES..." relative to the source root.
fuzz_sources() {
	local central="common/proto.c common/json.c common/lifecycle.c common/keys.c central/allow.c
		central/journal.c central/link.c central/registry.c central/store/sqlite.c
		central/store/sqlite_catalog.c central/store/sqlite_network.c
		central/service/service.c central/service/server.c central/service/network.c
		central/service/secgroup.c central/service/floatip.c
		central/store/sqlite_identity.c central/service/identity.c
		central/service/host.c central/service/project.c central/service/flavor.c
		central/service/keypair.c central/service/place.c central/service/aggregate.c
		central/service/servergroup.c central/service/usage.c central/service/hypervisor.c
		central/service/schedconf.c central/service/servertag.c central/store/sqlite_aggregate.c common/config.c
		central/service/console.c central/console/token.c
		central/sched/sched.c central/sched/match.c central/sched/numa.c common/sshkey.c
		central/link_image.c central/imgdata.c central/md5.c central/store/sqlite_image.c central/service/image.c
		common/fault.c
		tests/fuzz/fuzz_det.c tests/fuzz/fuzz_central.c"
	case $1 in
	proto) echo "tests/fuzz/fuzz_proto.c common/proto.c common/json.c agent/req.c agent/inst.c
		agent/net.c common/lifecycle.c -- jansson libzmq libsodium" ;;
	req) echo "tests/fuzz/fuzz_req.c common/proto.c common/json.c agent/req.c agent/inst.c
		agent/net.c common/lifecycle.c common/sshkey.c -- jansson libzmq libsodium" ;;
	sshkey) echo "tests/fuzz/fuzz_sshkey.c common/sshkey.c -- libsodium" ;;
	config) echo "tests/fuzz/fuzz_config.c common/config.c agent/agent_config.c
		common/proto.c common/json.c plugins/loader.c plugins/bundled.c
		drivers/fake/fake_config.c drivers/libvirt/lv_config.c -- inih jansson libzmq" ;;
	extraspecs) echo "tests/fuzz/fuzz_extraspecs.c drivers/libvirt/domxml.c -- libxml-2.0" ;;
	netfilter) echo "tests/fuzz/fuzz_netfilter.c netfilter/model.c netfilter/diff.c
		netfilter/render.c common/json.c -- jansson" ;;
	link) echo "tests/fuzz/fuzz_link.c $central -- inih jansson sqlite3 libzmq libsodium" ;;
	api) echo "tests/fuzz/fuzz_api.c central/api/api.c $central
		-- inih jansson sqlite3 libzmq libsodium" ;;
	os) echo "tests/fuzz/fuzz_os.c central/api/os_route.c central/api/os_identity.c
		central/api/os_compute.c central/api/os_admin.c central/api/os_catalog.c
		central/api/os_actions.c central/api/os_image.c central/api/os_network.c
		central/api/os_remote.c central/api/os_console.c
		central/console/ws.c common/log.c central/api/os_tags.c central/api/os_policy.c
		central/api/api.c
		$central
		-- inih jansson sqlite3 libzmq libsodium libmicrohttpd" ;;
	*) return 1 ;;
	esac
}

# fuzz_build SOURCE_ROOT OUT_DIR TARGET: compiles OUT_DIR/fuzz-TARGET unless it is newer than
# every file it is built from. Prints why it cannot build and returns 77 when clang, its
# libFuzzer runtime or a library's development files are missing; 1 when compiling fails.
fuzz_build() {
	local src=$1 outdir=$2 target=$3 list srcs mods flags out probe
	out=$outdir/fuzz-$target
	list=$(fuzz_sources "$target") || { echo "unknown fuzz target $target"; return 1; }
	srcs=${list%%--*} mods=${list#*--}
	# up to date: nothing to check or compile (the suite runs each target often)
	local stale=0 f
	[ -x "$out" ] || stale=1
	for f in $srcs "$src"/*/*.h "$src"/*/*/*.h "$src"/plugins/include/hvagent/*.h \
		"$src"/tests/fuzz/targets.sh; do
		case $f in /*) ;; *) f=$src/$f ;; esac
		[ "$f" -nt "$out" ] && stale=1
	done
	[ "$stale" = 0 ] && return 0
	if ! command -v clang >/dev/null; then
		echo "SKIP: clang is not installed (apt-get install clang libclang-rt-14-dev)"
		return 77
	fi
	mkdir -p "$outdir" || return 1
	probe=$(mktemp -d /tmp/hv-fuzz-probe-XXXXXX) || return 1
	echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }' >"$probe/p.c"
	if ! clang -fsanitize=fuzzer "$probe/p.c" -o "$probe/p" 2>/dev/null; then
		rm -rf "$probe"
		echo "SKIP: clang has no libFuzzer runtime (apt-get install libclang-rt-14-dev)"
		return 77
	fi
	rm -rf "$probe"
	# shellcheck disable=SC2086
	if ! flags=$(pkg-config --cflags --libs $mods 2>/dev/null); then
		echo "SKIP: development files missing for one of:$mods"
		return 77
	fi
	local abs=() i
	for f in $srcs; do abs+=("$src/$f"); done
	i="-I$src/common -I$src/agent -I$src/central -I$src/guest -I$src/netfilter"
	i="$i -I$src/drivers/libvirt -I$src/drivers/fake -I$src/plugins -I$src/plugins/include"
	# hv-features.h: every optional feature off, which none of these sources depends on
	mkdir -p "$outdir/inc-$target"
	printf '#define HAVE_%s 0\n' LIBVIRT NETFILTER GUESTFS CONFIGDRIVE SYSTEMD MICROHTTPD \
		>"$outdir/inc-$target/hv-features.h"
	# shellcheck disable=SC2086
	clang -std=c17 -D_GNU_SOURCE -DHV_SYSCONFDIR='"/etc"' -DHV_DRIVERDIR='"/nonexistent"' \
		-DHV_LOCALSTATEDIR='"/var"' -DHV_VERSION='"fuzz"' -DGUEST_HAVE_CRYPT=0 \
		-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
		-Wall -Werror -Wno-unused-parameter $i -I"$outdir/inc-$target" \
		"${abs[@]}" $flags -ldl -lpthread -o "$out.tmp" && mv "$out.tmp" "$out"
}

# fuzz_copy_seeds SOURCE_ROOT TARGET DIR: copies TARGET's committed seeds into DIR (the
# fixed-* ones reproduce bugs found by fuzzing, now fixed: every run checks them again).
fuzz_copy_seeds() {
	find "$1/tests/data/fuzz/$2" -maxdepth 1 -type f -exec cp {} "$3/" \;
}
