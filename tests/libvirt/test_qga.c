/* test_qga.c - the guest agent for real: guests running Debian's qemu-ga (QEMU/TCG under a
 * private libvirtd) through the driver's quiesced snapshot and set_admin_password.
 *
 *   A (hw_qemu_guest_agent + os_require_quiesce): a file written in the guest just before
 *     the snapshot (never synced) is in the snapshot; the guest printed FREEZE before the
 *     copy's cut and THAW after it, by the driver's own record (snapshot.log); the image's
 *     ext4 superblock says clean (a cut while frozen); the guest ran throughout; a second
 *     guest booted from the snapshot reads the file; a copy job left on the disk (an agent
 *     that crashed mid-snapshot) is cancelled by the next snapshot; set_admin_password puts a hash in the
 *     guest's /etc/shadow that verifies against the password, which no log holds; paused
 *     for the copy (live_snapshot = false) and the copy failing, the guest is resumed and
 *     thawed; qemu-ga killed, the snapshot fails naming the agent and the guest keeps
 *     running and writing.
 *   C (hw_qemu_guest_agent only): a soft reboot shuts the guest down through qemu-ga (no
 *     ACPI button); its agent killed, a stop falls back to the button; its agent killed
 *     again, the snapshot is taken unfrozen, and the superblock shows it (needs_recovery:
 *     the control that the check above can fail).
 *   D (no agent): set_admin_password is not supported.
 *
 * Run by qga_qemu.sh: HV_QGA_URI, HV_QGA_KERNEL, HV_QGA_INITRD, HV_QGA_DATA, HV_QGA_DIR. */
#include <crypt.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lvtest.h"

#define UA "a9a0c0de-0000-4000-8000-0000000000a1"
#define UB "a9a0c0de-0000-4000-8000-0000000000b2"
#define UC "a9a0c0de-0000-4000-8000-0000000000c3"
#define UD "a9a0c0de-0000-4000-8000-0000000000d4"
#define BOOT_S 240

static struct lvt T;
static int failures;
static double t0;
static const char *uri;

#define CHECK(cond, ...)                                            \
	do {                                                        \
		if (!(cond)) {                                      \
			printf("FAIL %s:%d: ", __FILE__, __LINE__); \
			printf(__VA_ARGS__);                        \
			printf("\n");                               \
			failures++;                                 \
			goto out;                                   \
		}                                                   \
	} while (0)

static void
step(const char *what)
{
	printf("[%6.1fs] %s\n", lvt_now() - t0, what);
	fflush(stdout);
}

/* ---- files */

static char *
inst_file(const char *uuid, const char *file)
{
	char path[700];

	snprintf(path, sizeof path, "%s/%s/%s", T.instances, uuid, file);
	return lvt_read(path);
}

/* Markers on complete lines only: the serial console reaches the file a few bytes at a
 * time, so a line without its newline yet may still be growing. */
static int
count_in(const char *text, const char *marker)
{
	int n = 0;

	for (const char *p = text; p && (p = strstr(p, marker)); p += strlen(marker))
		if (strchr(p, '\n'))
			n++;
	return n;
}

static int
console_count(const char *uuid, const char *marker)
{
	char *text = inst_file(uuid, "console.log");
	int n = count_in(text, marker);

	free(text);
	return n;
}

static bool
wait_console(const char *uuid, const char *marker, int n, unsigned timeout_s)
{
	double end = lvt_now() + timeout_s;

	while (lvt_now() < end) {
		if (console_count(uuid, marker) >= n)
			return true;
		usleep(200000);
	}
	return false;
}

/* The text after marker on its last complete line in the console ("" when absent). */
static void
console_value(const char *uuid, const char *marker, char *buf, size_t size)
{
	char *text = inst_file(uuid, "console.log"), *p = text, *last = NULL;

	buf[0] = '\0';
	while (p && (p = strstr(p, marker)))
		if (strchr(p += strlen(marker), '\n'))
			last = p;
	if (last)
		snprintf(buf, size, "%.*s", (int)strcspn(last, "\r\n"), last);
	free(text);
}

/* The time of the first line "<time> <step>" in snapshot.log, or -1. */
static double
log_time(const char *log, const char *what)
{
	for (const char *p = log; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		char name[64];
		double t;
		if (sscanf(p, "%lf %63s", &t, name) == 2 && strcmp(name, what) == 0)
			return t;
	}
	return -1;
}

/* ---- the console, watched while the snapshot runs: when each marker first appeared */

static struct {
	pthread_t thread;
	const char *uuid;
	size_t from; /* console bytes present before the snapshot */
	volatile bool stop;
	double seen_freeze, seen_thaw;
} W;

static void *
watch(void *arg)
{
	char path[700];

	(void)arg;
	snprintf(path, sizeof path, "%s/%s/console.log", T.instances, W.uuid);
	while (!W.stop) {
		char *text = lvt_read(path);
		double t = lvt_now();
		if (text && strlen(text) > W.from) {
			if (W.seen_freeze < 0 && strstr(text + W.from, "HVGUEST-FREEZE"))
				W.seen_freeze = t;
			if (W.seen_thaw < 0 && strstr(text + W.from, "HVGUEST-THAW"))
				W.seen_thaw = t;
		}
		free(text);
		usleep(2000);
	}
	return NULL;
}

static void
watch_start(const char *uuid)
{
	char *text = inst_file(uuid, "console.log");

	W.uuid = uuid;
	W.from = text ? strlen(text) : 0;
	W.stop = false;
	W.seen_freeze = W.seen_thaw = -1;
	free(text);
	pthread_create(&W.thread, NULL, watch, NULL);
}

static void
watch_stop(void)
{
	usleep(500000); /* a marker printed at the very end still lands */
	W.stop = true;
	pthread_join(W.thread, NULL);
}

/* ---- the guest agent, driven as an operator would (virsh qemu-agent-command) */

static int
agent(const char *uuid, const char *json)
{
	char name[64];
	const char *argv[] = {"virsh",     "-q", "-c", uri,  "qemu-agent-command",
			      "--timeout", "10", name, json, NULL};

	snprintf(name, sizeof name, "instance-%s", uuid);
	return lvt_run_quiet(argv);
}

/* Runs a shell line in the guest through guest-exec. */
static int
guest_sh(const char *uuid, const char *line)
{
	char json[1024];

	snprintf(json, sizeof json,
		 "{\"execute\":\"guest-exec\",\"arguments\":{\"path\":\"/bin/sh\","
		 "\"arg\":[\"-c\",\"%s\"]}}",
		 line);
	return agent(uuid, json);
}

static bool
kill_agent(const char *uuid)
{
	if (guest_sh(uuid, "sleep 0.2; killall qemu-ga") != 0)
		return false;
	for (int i = 0; i < 100; i++) {
		if (agent(uuid, "{\"execute\":\"guest-ping\"}") != 0)
			return true;
		usleep(100000);
	}
	return false;
}

/* ---- images */

static void
spec_of(struct hvd_instance_spec *s, const char *uuid, const struct hvd_image *img, bool power_on)
{
	memset(s, 0, sizeof *s);
	s->struct_size = sizeof *s;
	s->uuid = uuid;
	s->name = "qga";
	s->hostname = "qga";
	s->flavor = (struct hvd_flavor){.name = "tiny", .vcpus = 1, .ram_mb = 256};
	s->image = *img;
	s->power_on = power_on;
}

/* Runs cmd (a shell line over test paths) and returns its stdout. */
static char *
output_of(const char *cmd)
{
	FILE *p = popen(cmd, "r");
	char *out;

	if (!p)
		return NULL;
	out = lvt_read_stream(p);
	pclose(p);
	return out;
}

/* The ext4 superblock's features and /marker of a snapshot image. */
static bool
read_image(const char *image, char *features, size_t fsize, char *marker, size_t msize)
{
	char raw[600], cmd[1400];
	char *out;
	const char *conv[] = {"qemu-img", "convert", "-O", "raw", image, raw, NULL};

	snprintf(raw, sizeof raw, "%s.raw", image);
	if (lvt_run(conv) != 0)
		return false;
	snprintf(cmd, sizeof cmd, "dumpe2fs -h '%s' 2>/dev/null | grep '^Filesystem features:'",
		 raw);
	out = output_of(cmd);
	snprintf(features, fsize, "%s", out ? out : "");
	free(out);
	snprintf(cmd, sizeof cmd, "debugfs -R 'cat /marker' '%s' 2>/dev/null", raw);
	out = output_of(cmd);
	snprintf(marker, msize, "%.*s", out ? (int)strcspn(out, "\n") : 0, out ? out : "");
	free(out);
	unlink(raw);
	return features[0] != '\0';
}

int
main(void)
{
	const char *kernel = getenv("HV_QGA_KERNEL"), *initrd = getenv("HV_QGA_INITRD");
	const char *data = getenv("HV_QGA_DATA"), *dir = getenv("HV_QGA_DIR");
	const char *cmdline = "console=ttyS0 quiet panic=-1 printk.devkmsg=on hvqga=1";
	struct hv_error err = {0};
	struct hvd_instance_spec s;
	char snap1[600], snap2[600], snap3[600], nonce[64], pw[64], buf[512];
	int r;

	uri = getenv("HV_QGA_URI");
	if (!uri || !kernel || !initrd || !data || !dir) {
		printf("run through qga_qemu.sh\n");
		return 77;
	}
	struct hvd_kv cfg[] = {
		{"uri", uri},
		{"virt_type", "qemu"},
		{"serial_port_range", ""},
		{"shutdown_timeout", "5"},
	};
	struct hvd_kv qprops[] = {{"kernel", kernel},
				  {"initrd", initrd},
				  {"os_command_line", cmdline},
				  {"hw_qemu_guest_agent", "yes"},
				  {"os_require_quiesce", "yes"}};
	struct hvd_image qimg = {.id = "qga",
				 .format = "raw",
				 .path = data,
				 .properties = qprops,
				 .n_properties = 5};
	struct hvd_image pimg = qimg, simg = qimg, nimg = qimg;

	pimg.n_properties = 4; /* quiesce possible, not required */
	nimg.n_properties = 3; /* no agent */
	simg.format = "qcow2";
	simg.n_properties = 3;

	t0 = lvt_now();
	if (lvt_open(&T, cfg, sizeof cfg / sizeof cfg[0], &err) < 0) {
		printf("FAIL open %s: %s\n", uri, err.message);
		lvt_close(&T);
		return 1;
	}
	snprintf(snap1, sizeof snap1, "%s/snap-quiesced.qcow2", T.dir);
	snprintf(snap2, sizeof snap2, "%s/snap-noagent.qcow2", T.dir);
	snprintf(snap3, sizeof snap3, "%s/snap-possible.qcow2", T.dir);
	snprintf(nonce, sizeof nonce, "written-%ld-%d", (long)time(NULL), (int)getpid());
	snprintf(pw, sizeof pw, "Pw-%08lx-%d", (unsigned long)random() ^ (unsigned long)time(NULL),
		 (int)getpid());

	step("A: a guest whose image requires quiesce boots with qemu-ga running");
	spec_of(&s, UA, &qimg, true);
	CHECK(T.ops->spawn(T.host, &s, &err) == 0, "spawn A: %s", err.message);
	CHECK(wait_console(UA, "HVGUEST-QGA port=", 1, BOOT_S), "qemu-ga started in A");
	CHECK(wait_console(UA, "HVGUEST-TICK", 1, 60), "A writes to its ext4 disk");
	CHECK(wait_console(UA, "HVGUEST-DATA fresh", 1, 1), "A mounted the image's file system");
	for (int i = 0; i < 100 && agent(UA, "{\"execute\":\"guest-ping\"}") != 0; i++)
		usleep(200000);

	step("A: a file written just before the snapshot (not synced); the snapshot");
	{
		char line[300], *log;
		double frozen, cut, thawed, freeze;
		snprintf(line, sizeof line,
			 "echo %s >/data/marker && echo '<2>HVGUEST-WROTE %s' >/dev/kmsg", nonce,
			 nonce);
		CHECK(guest_sh(UA, line) == 0, "guest-exec in A");
		snprintf(line, sizeof line, "HVGUEST-WROTE %s", nonce);
		CHECK(wait_console(UA, line, 1, 30), "A wrote the file");
		watch_start(UA);
		r = T.ops->snapshot(T.host, UA, snap1, "qcow2", &err);
		watch_stop();
		CHECK(r == 0, "snapshot of A: %s", err.message);
		log = inst_file(UA, "snapshot.log");
		CHECK(log, "the driver left snapshot.log");
		printf("%s", log);
		freeze = log_time(log, "freeze");
		frozen = log_time(log, "frozen");
		cut = log_time(log, "cut");
		thawed = log_time(log, "thawed");
		CHECK(strstr(log, "method=live result=ok"), "a live snapshot");
		CHECK(freeze > 0 && frozen >= freeze && cut > frozen && thawed > cut,
		      "the driver froze, cut the copy, then thawed");
		CHECK(W.seen_freeze > 0 && W.seen_thaw > 0, "the guest printed FREEZE and THAW");
		printf("         FREEZE seen %+.3fs and THAW %+.3fs from the cut\n",
		       W.seen_freeze - cut, W.seen_thaw - cut);
		CHECK(W.seen_freeze >= freeze && W.seen_freeze < cut,
		      "FREEZE appeared after the freeze was asked and before the cut");
		CHECK(W.seen_thaw > cut, "THAW appeared after the cut");
		CHECK(console_count(UA, "HVGUEST-FREEZE") == 1 &&
			      console_count(UA, "HVGUEST-THAW") == 1,
		      "one freeze, one thaw");
		free(log);
	}
	CHECK(lvt_power(&T, UA) == HVD_POWER_RUNNING, "A is still running");
	{
		char features[512], marker[128];
		CHECK(read_image(snap1, features, sizeof features, marker, sizeof marker),
		      "read the snapshot's file system");
		printf("         snapshot: %s         /marker: %s\n", features, marker);
		CHECK(strcmp(marker, nonce) == 0, "the file written before the snapshot is in it");
		CHECK(!strstr(features, "needs_recovery"),
		      "the file system in the snapshot is clean: it was cut while frozen");
	}
	{
		int ticks = console_count(UA, "HVGUEST-TICK");
		CHECK(wait_console(UA, "HVGUEST-TICK", ticks + 2, 30), "A writes after the thaw");
	}

	step("B: a second guest boots from the snapshot and reads the file");
	simg.path = snap1;
	spec_of(&s, UB, &simg, true);
	CHECK(T.ops->spawn(T.host, &s, &err) == 0, "spawn B: %s", err.message);
	snprintf(buf, sizeof buf, "HVGUEST-DATA %s", nonce);
	CHECK(wait_console(UB, buf, 1, BOOT_S), "B read the file from the snapshot");
	CHECK(T.ops->destroy(T.host, UB, true, &err) == 0, "destroy B: %s", err.message);

	step("A: a copy job left on the disk (an agent that crashed mid-snapshot) is cancelled");
	{
		char stale[600], name[64], dest[600], *log;
		snprintf(stale, sizeof stale, "%s/stale.qcow2", T.dir);
		snprintf(dest, sizeof dest, "%s/snap-again.qcow2", T.dir);
		snprintf(name, sizeof name, "instance-%s", UA);
		const char *argv[] = {"virsh",           "-q", "-c",  uri,
				      "blockcopy",       name, "vda", stale,
				      "--transient-job", NULL};
		CHECK(lvt_run_quiet(argv) == 0, "virsh blockcopy");
		CHECK(T.ops->snapshot(T.host, UA, dest, "qcow2", &err) == 0, "snapshot: %s",
		      err.message);
		log = inst_file(UA, "snapshot.log");
		CHECK(log && strstr(log, "stale-copy-cancelled") &&
			      strstr(log, "method=live result=ok"),
		      "the stale job was cancelled and the snapshot taken");
		free(log);
	}

	step("A: set_admin_password through qemu-ga");
	{
		char hash[256], *out, cmd[1400];
		struct crypt_data cd = {0};
		const char *v;
		int n = console_count(UA, "HVGUEST-SHADOW");
		CHECK(T.ops->set_admin_password(T.host, UA, "root", pw, &err) == 0,
		      "set_admin_password: %s", err.message);
		CHECK(wait_console(UA, "HVGUEST-SHADOW root:", n + 1, 30),
		      "the guest's /etc/shadow changed");
		console_value(UA, "HVGUEST-SHADOW root:", hash, sizeof hash);
		printf("         /etc/shadow: root:%s\n", hash);
		CHECK(strncmp(hash, "$6$", 3) == 0, "a SHA-512 crypt hash");
		v = crypt_r(pw, hash, &cd);
		CHECK(v && strcmp(v, hash) == 0, "the hash verifies against the password");
		v = crypt_r("not-the-password", hash, &cd);
		CHECK(v && strcmp(v, hash) != 0, "and not against another");
		snprintf(
			cmd, sizeof cmd,
			"grep -c guest-set-user-password '%s/libvirtd.log'; "
			"grep -rlF -- '%s' '%s' '%s' /proc/$(cat '%s/ns.pid')/root/var/log/libvirt "
			"2>/dev/null",
			dir, pw, dir, T.dir, dir);
		out = output_of(cmd);
		printf("         libvirtd.log lines naming guest-set-user-password, then files "
		       "holding the password: %s",
		       out ? out : "?\n");
		CHECK(out && atoi(out) > 0,
		      "libvirtd logged the agent traffic (the check sees it)");
		CHECK(out && !strchr(out, '/'), "no log, console or disk holds the password");
		free(out);
	}

	step("A: paused for the copy (live_snapshot=false), the copy fails: resumed and thawed");
	{
		const struct hvd_kv pcfg[] = {cfg[0],
					      cfg[1],
					      cfg[2],
					      cfg[3],
					      {"instances_path", T.instances},
					      {"live_snapshot", "false"}};
		struct hvd_host *ph = NULL;
		char bad[700], *log;
		int freezes = console_count(UA, "HVGUEST-FREEZE");
		CHECK(T.ops->open(pcfg, 6, &ph, &err) == 0, "open: %s", err.message);
		snprintf(bad, sizeof bad, "%s/no-such-dir/snap.qcow2", T.dir);
		r = T.ops->snapshot(ph, UA, bad, "qcow2", &err);
		T.ops->close(ph);
		printf("         %d %s: %.150s\n", r, err.field, err.message);
		CHECK(r < 0, "the copy failed");
		log = inst_file(UA, "snapshot.log");
		printf("%s", log ? log : "");
		CHECK(log && strstr(log, "method=paused result=error") &&
			      strstr(log, "copy-failed") && strstr(log, "resumed") &&
			      strstr(log, "thawed"),
		      "the driver resumed and thawed after the failed copy");
		free(log);
		CHECK(wait_console(UA, "HVGUEST-THAW", freezes + 1, 30) &&
			      console_count(UA, "HVGUEST-FREEZE") == freezes + 1,
		      "the guest froze once and thawed");
		CHECK(lvt_power(&T, UA) == HVD_POWER_RUNNING, "A is running");
		int ticks = console_count(UA, "HVGUEST-TICK");
		CHECK(wait_console(UA, "HVGUEST-TICK", ticks + 2, 30), "A writes again");
	}

	step("A: qemu-ga killed, the required quiesce fails the snapshot; A runs, thawed");
	{
		char *log;
		CHECK(kill_agent(UA), "qemu-ga is gone from A");
		r = T.ops->snapshot(T.host, UA, snap2, "qcow2", &err);
		printf("         %d %s: %s\n", r, err.field, err.message);
		CHECK(r < 0 && strcmp(err.field, "image.os_require_quiesce") == 0 &&
			      strstr(err.message, "guest agent"),
		      "a clear error naming the agent");
		CHECK(access(snap2, F_OK) != 0, "no snapshot image");
		log = inst_file(UA, "snapshot.log");
		CHECK(log && strstr(log, "result=error") && !strstr(log, " cut\n"),
		      "the copy was never cut");
		free(log);
		{
			char p[700];
			snprintf(p, sizeof p, "%s/%s/disk.snap", T.instances, UA);
			CHECK(access(p, F_OK) != 0, "no scratch copy left");
		}
		CHECK(lvt_power(&T, UA) == HVD_POWER_RUNNING, "A is running");
		int ticks = console_count(UA, "HVGUEST-TICK");
		CHECK(wait_console(UA, "HVGUEST-TICK", ticks + 2, 30),
		      "A still writes to its disk");
		r = T.ops->set_admin_password(T.host, UA, "root", pw, &err);
		CHECK(r < 0 && !strstr(err.message, pw), "no agent, no password: %s", err.message);
	}

	step("C: an image with hw_qemu_guest_agent only");
	spec_of(&s, UC, &pimg, true);
	CHECK(T.ops->spawn(T.host, &s, &err) == 0, "spawn C: %s", err.message);
	CHECK(wait_console(UC, "HVGUEST-QGA port=", 1, BOOT_S), "qemu-ga started in C");
	CHECK(wait_console(UC, "HVGUEST-TICK", 1, 60), "C writes to its ext4 disk");
	for (int i = 0; i < 100 && agent(UC, "{\"execute\":\"guest-ping\"}") != 0; i++)
		usleep(200000);

	step("C: a soft reboot goes through qemu-ga, not the ACPI button");
	CHECK(T.ops->reboot(T.host, UC, HVD_REBOOT_SOFT, 90, &err) == 0, "soft reboot: %s",
	      err.message);
	CHECK(console_count(UC, "HVGUEST-AGENT-SHUTDOWN -h -P +0") == 1,
	      "qemu-ga ran the guest's shutdown");
	CHECK(console_count(UC, "HVGUEST-POWERBUTTON") == 0, "no ACPI button was pressed");
	CHECK(wait_console(UC, "HVGUEST-QGA port=", 2, BOOT_S), "C booted again");

	step("C: qemu-ga killed, a graceful stop falls back to the ACPI button");
	for (int i = 0; i < 100 && agent(UC, "{\"execute\":\"guest-ping\"}") != 0; i++)
		usleep(200000);
	CHECK(kill_agent(UC), "qemu-ga is gone from C");
	CHECK(T.ops->power_off(T.host, UC, 90, &err) == 0, "power off: %s", err.message);
	CHECK(lvt_power(&T, UC) == HVD_POWER_SHUTDOWN, "C is shut down");
	CHECK(console_count(UC, "HVGUEST-POWERBUTTON") == 1 &&
		      console_count(UC, "HVGUEST-AGENT-SHUTDOWN") == 1,
	      "the guest shut down on the ACPI button");
	CHECK(T.ops->power_on(T.host, UC, &err) == 0, "power on: %s", err.message);
	CHECK(wait_console(UC, "HVGUEST-QGA port=", 3, BOOT_S), "C booted again");
	CHECK(wait_console(UC, "HVGUEST-TICK", 1, 60), "C writes to its ext4 disk");
	for (int i = 0; i < 100 && agent(UC, "{\"execute\":\"guest-ping\"}") != 0; i++)
		usleep(200000);

	step("C: quiesce possible, agent killed: the snapshot is taken unfrozen");
	CHECK(kill_agent(UC), "qemu-ga is gone from C");
	CHECK(T.ops->snapshot(T.host, UC, snap3, "qcow2", &err) == 0, "snapshot of C: %s",
	      err.message);
	{
		char *log = inst_file(UC, "snapshot.log"), features[512], marker[128];
		CHECK(log && strstr(log, "freeze-failed") && strstr(log, "unquiesced") &&
			      strstr(log, "result=ok"),
		      "the driver tried, then went on unfrozen");
		free(log);
		CHECK(read_image(snap3, features, sizeof features, marker, sizeof marker),
		      "read C's snapshot");
		CHECK(strstr(features, "needs_recovery"),
		      "an unfrozen cut leaves the journal to replay: %s", features);
	}
	CHECK(T.ops->destroy(T.host, UC, true, &err) == 0, "destroy C: %s", err.message);

	step("D: no agent: set_admin_password is not supported");
	spec_of(&s, UD, &nimg, false);
	CHECK(T.ops->spawn(T.host, &s, &err) == 0, "define D: %s", err.message);
	r = T.ops->set_admin_password(T.host, UD, "root", pw, &err);
	CHECK(r == -EOPNOTSUPP && strcmp(err.field, "image.hw_qemu_guest_agent") == 0,
	      "not supported: %d %s", r, err.message);
	CHECK(T.ops->destroy(T.host, UD, true, &err) == 0, "destroy D: %s", err.message);
	step("done");
out:
	if (failures) {
		const char *all[] = {UA, UB, UC};
		for (size_t i = 0; i < 3; i++) {
			char *text = inst_file(all[i], "console.log");
			if (text)
				printf("--- console of %s (tail) ---\n%s\n", all[i],
				       strlen(text) > 3000 ? text + strlen(text) - 3000 : text);
			free(text);
		}
	}
	{
		const char *all[] = {UA, UB, UC, UD};
		for (size_t i = 0; i < 4; i++)
			T.ops->destroy(T.host, all[i], true, &err);
	}
	lvt_close(&T);
	return failures ? 1 : 0;
}
