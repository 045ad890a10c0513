/* snapshot.c - the snapshot op of the libvirt driver: the instance's root disk, its chain
 * flattened, written to one image, the guest's file systems frozen through its agent when
 * the image asks for it (hw_qemu_guest_agent: try; os_require_quiesce: or refuse).
 *
 * A running guest keeps running. Its root disk is mirrored by qemu (a block copy job) into a
 * scratch qcow2 in the instance directory; once the mirror has caught up, the file systems
 * are frozen, the job is cancelled, which leaves the scratch image consistent as of that
 * moment, and they are thawed: the freeze lasts the cancel, not the copy. The scratch image
 * becomes the destination (renamed, or converted to another format or file system). Where libvirt cannot mirror (the test
 * driver) or live_snapshot = no, the guest is paused for the whole copy instead. Whatever
 * fails after a freeze was asked for, a thaw follows.
 *
 * Each snapshot leaves its steps with their CLOCK_MONOTONIC times in snapshot.log in the
 * instance directory, replaced by the next snapshot: the record tests and benchmarks read.
 * Never logs; never passes a request string to a shell. */
#include "lv-priv.h"
#include "disk.h"
#include "domxml.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#define POLL_MS 20
#define THAW_TRIES 3

struct snap {
	struct hvd_host *h;
	virConnectPtr vc;
	virDomainPtr dom;
	struct domxml_facts facts;
	char scratch[PATH_MAX];
	FILE *log; /* open_memstream over log_text */
	char *log_text;
	size_t log_len;
	double t_frozen, t_paused, frozen_s, paused_s;
	bool freeze_asked, paused;
};

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
note(struct snap *s, const char *step)
{
	double t = now();

	if (s->log)
		fprintf(s->log, "%.6f %s\n", t, step);
	return t;
}

/* ---------------------------------------------------------------- the guest agent */

/* Freezes the guest's file systems. An answer that never came may hide a freeze that
 * happened, so from here on the caller thaws on every path (thaw). */
static int
freeze(struct snap *s, struct hv_error *err)
{
	s->freeze_asked = true;
	s->t_frozen = note(s, "freeze");
	virDomainAgentSetResponseTimeout(s->dom, LV_AGENT_TIMEOUT_S, 0);
	if (virDomainFSFreeze(s->dom, NULL, 0, 0) < 0) {
		int r = conn_error(s->h->conn, s->vc, err, "uuid",
				   "quiesce through the guest agent");
		note(s, "freeze-failed");
		return r;
	}
	note(s, "frozen");
	return 0;
}

/* Thaws after a freeze was asked for, a few times before giving up: a guest left frozen
 * stops writing. Quiet (err untouched) when quiet, for paths already failing. */
static int
thaw(struct snap *s, bool quiet, struct hv_error *err)
{
	struct hv_error scratch = {0};
	int r = 0;

	if (!s->freeze_asked)
		return 0;
	for (int i = 0; i < THAW_TRIES; i++) {
		if (virDomainFSThaw(s->dom, NULL, 0, 0) >= 0) {
			s->freeze_asked = false;
			s->frozen_s = note(s, "thawed") - s->t_frozen;
			return 0;
		}
		r = conn_error(s->h->conn, s->vc, quiet ? &scratch : err, "uuid",
			       "thaw the guest's file systems");
	}
	s->frozen_s = note(s, "thaw-failed") - s->t_frozen;
	return r;
}

/* The freeze the image asks for: required, a failure ends the snapshot (as nova does);
 * merely possible, the snapshot goes on unfrozen. */
static int
quiesce(struct snap *s, struct hv_error *err)
{
	struct hv_error tried = {0};
	int r;

	if (!s->facts.guest_agent)
		return 0;
	r = freeze(s, &tried);
	if (r < 0) {
		/* An agent that failed to freeze is not asked again after the copy. */
		thaw(s, true, NULL);
		s->freeze_asked = false;
		if (s->facts.require_quiesce)
			return hv_error_set(err, r, "image.os_require_quiesce",
					    "the image requires a quiesced snapshot and the guest "
					    "agent did not freeze the file systems (%s)",
					    tried.message);
		note(s, "unquiesced");
	}
	return 0;
}

/* ---------------------------------------------------------------- live: block copy */

/* Waits until the mirror has caught up with the disk (libvirt reports cur == end only once
 * qemu says the job is ready), or the job is gone (it failed). */
static int
mirror_ready(struct snap *s, uint32_t timeout_s, struct hv_error *err)
{
	double end = now() + timeout_s;

	for (;;) {
		virDomainBlockJobInfo info;
		struct timespec ts = {0, POLL_MS * 1000000L};
		int r = virDomainGetBlockJobInfo(s->dom, s->facts.root_disk, &info, 0);

		if (r < 0)
			return conn_error(s->h->conn, s->vc, err, "uuid", "watch the disk copy");
		if (r == 0)
			return hv_error_set(err, -EIO, "uuid",
					    "the disk copy stopped before it caught up");
		if (info.end > 0 && info.cur == info.end)
			return 0;
		if (now() > end)
			return hv_error_set(err, -ETIMEDOUT, "snapshot_timeout",
					    "the disk copy did not catch up in %u s", timeout_s);
		nanosleep(&ts, NULL);
	}
}

static void
mirror_cancel(struct snap *s)
{
	virDomainBlockJobAbort(s->dom, s->facts.root_disk, 0);
}

/* Starts the mirror into s->scratch. -EOPNOTSUPP when libvirt cannot. */
static int
mirror_start(struct snap *s, struct hv_error *err)
{
	uint64_t size;
	char *xml = NULL;
	int r;

	/* A copy job already on the disk is a snapshot of ours that an agent crash cut short:
	 * nothing else here copies disks. */
	{
		virDomainBlockJobInfo info;
		if (virDomainGetBlockJobInfo(s->dom, s->facts.root_disk, &info, 0) == 1 &&
		    info.type == VIR_DOMAIN_BLOCK_JOB_TYPE_COPY) {
			mirror_cancel(s);
			note(s, "stale-copy-cancelled");
		}
	}
	unlink(s->scratch);
	/* Made here, as a copy of the disk's size (qemu refuses a mirror of another size), so
	 * that libvirt only opens it: the file is ours, wherever the daemon runs. */
	if ((r = disk_virtual_size(s->facts.root_disk, &size, err)) < 0 ||
	    (r = disk_blank_bytes(s->scratch, size, err)) < 0 ||
	    (r = domxml_copy_target(s->scratch, "qcow2", &xml, err)) < 0)
		return r;
	note(s, "copy");
	if (virDomainBlockCopy(s->dom, s->facts.root_disk, xml, NULL, 0,
			       VIR_DOMAIN_BLOCK_COPY_REUSE_EXT |
				       VIR_DOMAIN_BLOCK_COPY_TRANSIENT_JOB) < 0)
		r = conn_error(s->h->conn, s->vc, err, "uuid", "copy the disk");
	free(xml);
	return r;
}

/* Mirror, freeze, cut, thaw. On success s->scratch holds the disk as of the cut. */
static int
snapshot_live(struct snap *s, struct hv_error *err)
{
	int r = mirror_start(s, err);

	if (r < 0)
		return r;
	if ((r = mirror_ready(s, s->h->snapshot_timeout, err)) < 0) {
		mirror_cancel(s);
		return r;
	}
	note(s, "copy-ready");
	if ((r = quiesce(s, err)) < 0) {
		mirror_cancel(s);
		return r;
	}
	/* Cancelling a mirror that caught up completes it: the copy stands as of now. */
	if (virDomainBlockJobAbort(s->dom, s->facts.root_disk, 0) < 0)
		r = conn_error(s->h->conn, s->vc, err, "uuid", "finish the disk copy");
	else
		note(s, "cut");
	{
		int t = thaw(s, r < 0, err);
		if (r == 0)
			r = t;
	}
	return r;
}

/* Moves the finished copy to tmp: it already stands alone (a full mirror has no backing
 * file), so a qcow2 on the same file system is only renamed; otherwise qemu-img converts. */
static int
take_scratch(struct snap *s, const char *tmp, const char *format, struct hv_error *err)
{
	int r = 0;

	if (strcmp(format, "qcow2") == 0 && rename(s->scratch, tmp) == 0) {
		note(s, "moved");
		return 0;
	}
	r = disk_convert(s->scratch, tmp, format, false, err);
	note(s, "flattened");
	return r;
}

/* ---------------------------------------------------------------- paused */

/* Freeze, pause, copy the chain as it stands, resume, thaw. */
static int
snapshot_paused(struct snap *s, const char *tmp, const char *format, struct hv_error *err)
{
	int r;

	if ((r = quiesce(s, err)) < 0)
		return r;
	if (virDomainSuspend(s->dom) < 0) {
		r = conn_error(s->h->conn, s->vc, err, "uuid", "pause for the snapshot");
		thaw(s, true, NULL);
		return r;
	}
	s->paused = true;
	s->t_paused = note(s, "paused");
	note(s, "copy");
	r = disk_convert(s->facts.root_disk, tmp, format, true, err);
	note(s, r < 0 ? "copy-failed" : "cut");
	if (virDomainResume(s->dom) < 0 && r == 0)
		r = conn_error(s->h->conn, s->vc, err, "uuid", "resume after the snapshot");
	s->paused_s = note(s, "resumed") - s->t_paused;
	{
		int t = thaw(s, r < 0, err);
		if (r == 0)
			r = t;
	}
	return r;
}

/* ---------------------------------------------------------------- the op */

static int
check_dest(const char *dest_path, const char *dest_format, struct hv_error *err)
{
	if (!dest_path || dest_path[0] != '/' || strstr(dest_path, "/../") ||
	    strlen(dest_path) > PATH_MAX - 8)
		return hv_error_set(err, -EINVAL, "dest_path",
				    "dest_path must be an absolute path without '..'");
	if (!dest_format || (strcmp(dest_format, "qcow2") != 0 && strcmp(dest_format, "raw") != 0))
		return hv_error_set(err, -EINVAL, "dest_format",
				    "dest_format must be qcow2 or raw");
	return 0;
}

/* Writes snapshot.log: the steps, then one summary line. */
static void
save_log(struct snap *s, const char *uuid, const char *method, int r)
{
	char path[PATH_MAX];
	FILE *f;

	if (!s->log)
		return;
	fprintf(s->log, "done method=%s result=%s frozen_ms=%.1f paused_ms=%.1f\n", method,
		r < 0 ? "error" : "ok", s->frozen_s * 1000, s->paused_s * 1000);
	fclose(s->log);
	s->log = NULL;
	if (lv_inst_path(s->h, uuid, "snapshot.log", path, sizeof path) == 0 &&
	    (f = fopen(path, "we"))) {
		fwrite(s->log_text, 1, s->log_len, f);
		fclose(f);
	}
	free(s->log_text);
	s->log_text = NULL;
}

/* Runs the snapshot of a domain in state state into tmp; *method names the way taken. */
static int
snapshot_to(struct snap *s, int state, const char *tmp, const char *format, const char **method,
	    struct hv_error *err)
{
	int r;

	if (state == VIR_DOMAIN_PAUSED && s->facts.require_quiesce)
		return hv_error_set(err, -EBUSY, "uuid",
				    "the image requires a quiesced snapshot: a paused guest "
				    "cannot freeze its file systems, unpause it first");
	if (state != VIR_DOMAIN_RUNNING) {
		*method = "offline";
		note(s, "copy");
		r = disk_convert(s->facts.root_disk, tmp, format, virDomainIsActive(s->dom) == 1,
				 err);
		note(s, "cut");
		return r;
	}
	if (s->h->live_snapshot) {
		*method = "live";
		r = snapshot_live(s, err);
		if (r != -EOPNOTSUPP) {
			if (r == 0)
				r = take_scratch(s, tmp, format, err);
			unlink(s->scratch);
			return r;
		}
		unlink(s->scratch);
		note(s, "live-unsupported");
	}
	*method = "paused";
	return snapshot_paused(s, tmp, format, err);
}

int
lv_snapshot(struct hvd_host *h, const char *uuid, const char *dest_path, const char *dest_format,
	    struct hv_error *err)
{
	struct snap s = {.h = h};
	const char *method = "none";
	char *xml = NULL, tmp[PATH_MAX];
	int r;

	if ((r = check_dest(dest_path, dest_format, err)) < 0)
		return r;
	if ((r = lv_dom_get(h, uuid, &s.vc, &s.dom, err)) < 0)
		return r;
	if (!(xml = virDomainGetXMLDesc(s.dom, VIR_DOMAIN_XML_INACTIVE))) {
		r = conn_error(h->conn, s.vc, err, "uuid", "read definition");
		goto out;
	}
	if ((r = domxml_read_facts(xml, &s.facts, err)) < 0 ||
	    (r = lv_inst_path(h, uuid, "disk.snap", s.scratch, sizeof s.scratch)) < 0)
		goto out;
	s.log = open_memstream(&s.log_text, &s.log_len);
	snprintf(tmp, sizeof tmp, "%s.part", dest_path);
	r = snapshot_to(&s, lv_dom_state(s.dom), tmp, dest_format, &method, err);
	if (r == 0 && rename(tmp, dest_path) < 0)
		r = hv_error_set(err, -errno, "dest_path", "cannot rename to %s: %s", dest_path,
				 strerror(errno));
	if (r < 0)
		unlink(tmp);
	save_log(&s, uuid, method, r);
out:
	free(xml);
	lv_dom_put(s.vc, s.dom);
	return r;
}
