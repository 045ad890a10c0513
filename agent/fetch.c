/* fetch.c - catalog images a host does not have yet, fetched from the controller over the
 * agent link (IMAGE_GET / IMAGE_DATA, docs/protocol.md section 6.8) on first use. A spawn,
 * rebuild or rescue naming such an image waits (not journaled; ACKed "waiting_image", which
 * promises nothing durable) while the image comes in chunks, a few asked ahead,
 * written to a file beside the store and hashed on the way; only when its SHA-256 is the
 * one the command carried does it enter the image store, and the waiting commands are
 * handled again. Several commands for one image share one fetch. Must never hold an image
 * in memory, nor let an unverified file become an image. */
#include "agent-priv.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "base64.h"
#include "json.h"
#include "log.h"
#include "vec.h"

#define FETCH_TIMEOUT_MS 5000 /* a chunk not answered by then is asked again */
#define FETCH_MAX_TIMEOUTS 12
#define FETCH_MAX_ATTEMPTS 3 /* whole transfers whose checksum disagreed */
/* chunks asked ahead: the controller reads the next while this host writes one */
#define FETCH_WINDOW 4

struct fetch {
	char id[IMGSTORE_ID_MAX + 1], format[8], sha256[65];
	char tmp[PATH_MAX], data[PATH_MAX];
	json_t *props;
	uint64_t size, received, asked; /* asked: the next offset to ask for */
	int64_t heard_ms;               /* when a chunk last arrived (or the fetch started) */
	int fd;
	crypto_hash_sha256_state hash;
	int timeouts, attempts;
	bool failed;
	struct hv_error why; /* when failed: what the waiting commands are refused with */
	struct proto_msg *waiting;
	size_t n_waiting, cap_waiting;
};

static struct fetch *
find(struct agent *a, const char *id)
{
	for (size_t i = 0; i < a->n_fetches; i++)
		if (strcmp(a->fetches[i]->id, id) == 0)
			return a->fetches[i];
	return NULL;
}

static void
fetch_free(struct fetch *f)
{
	if (!f)
		return;
	if (f->fd >= 0) {
		close(f->fd);
		unlink(f->tmp);
	}
	for (size_t i = 0; i < f->n_waiting; i++) {
		req_wipe(f->waiting[i].body);
		proto_msg_release(&f->waiting[i]);
	}
	free(f->waiting);
	json_decref(f->props);
	free(f);
}

/* Keeps FETCH_WINDOW chunks asked ahead of what arrived (again: asks anew from what
 * arrived, the answers in flight then count as lost). */
static void
request(struct agent *a, struct fetch *f, bool again)
{
	if (again || f->asked < f->received)
		f->asked = f->received;
	while (f->asked < f->size && f->asked - f->received < FETCH_WINDOW * PROTO_IMAGE_CHUNK) {
		agent_send(a, PROTO_IMAGE_GET, NULL, false,
			   json_pack("{s:s, s:I, s:i}", "image_id", f->id, "offset",
				     (json_int_t)f->asked, "length", PROTO_IMAGE_CHUNK));
		f->asked += PROTO_IMAGE_CHUNK;
	}
}

static int
restart(struct fetch *f)
{
	f->received = 0;
	crypto_hash_sha256_init(&f->hash);
	if (ftruncate(f->fd, 0) < 0)
		return -errno;
	return 0;
}

static struct fetch *
start(struct agent *a, json_t *im, struct hv_error *err)
{
	struct fetch *f = calloc(1, sizeof *f);
	const char *id = json_string_value(json_object_get(im, "id"));
	if (!f || HV_GROW(a->fetches, a->cap_fetches, a->n_fetches + 1) < 0) {
		free(f);
		hv_error_set(err, -ENOMEM, NULL, "out of memory");
		return NULL;
	}
	f->fd = -1;
	snprintf(f->id, sizeof f->id, "%s", id);
	snprintf(f->format, sizeof f->format, "%s",
		 json_string_value(json_object_get(im, "format")));
	snprintf(f->sha256, sizeof f->sha256, "%s",
		 json_string_value(json_object_get(im, "sha256")));
	f->size = (uint64_t)json_integer_value(json_object_get(im, "size"));
	f->props = json_deep_copy(json_object_get(im, "properties"));
	if (imgstore_data_path(a->store, id, f->data, sizeof f->data, err) < 0) {
		fetch_free(f);
		return NULL;
	}
	/* per process: hosts sharing an image store may fetch the same image at once; the
	 * first rename wins and the others replace it with the same verified bytes */
	snprintf(f->tmp, sizeof f->tmp, "%.*s.fetch.%ld", (int)(sizeof f->tmp - 32), f->data,
		 (long)getpid());
	f->fd = open(f->tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (f->fd < 0) {
		hv_error_set(err, -errno, "body.image.id", "body.image.id: cannot create %s: %s",
			     f->tmp, strerror(errno));
		fetch_free(f);
		return NULL;
	}
	crypto_hash_sha256_init(&f->hash);
	a->fetches[a->n_fetches++] = f;
	hv_log(HV_LOG_INFO, NULL, NULL, "image %s: fetching %llu bytes from the controller", f->id,
	       (unsigned long long)f->size);
	f->heard_ms = agent_mono_ms();
	request(a, f, true);
	return f;
}

static int
wait_on(struct fetch *f, const struct proto_msg *m)
{
	for (size_t i = 0; i < f->n_waiting; i++)
		if (strcmp(f->waiting[i].hdr.cmd_id, m->hdr.cmd_id) == 0)
			return 0; /* a resent command: it is handled once the image is here */
	if (HV_GROW(f->waiting, f->cap_waiting, f->n_waiting + 1) < 0)
		return -ENOMEM;
	struct proto_msg *w = &f->waiting[f->n_waiting];
	*w = (struct proto_msg){.type = m->type, .hdr = m->hdr, .body = json_deep_copy(m->body)};
	if (!w->body)
		return -ENOMEM;
	/* it arrived in time: the fetch is the start of the command, however long it takes */
	w->hdr.deadline_ms = 0;
	f->n_waiting++;
	return 0;
}

int
agent_fetch_gate(struct agent *a, const struct proto_msg *m, const struct req *r,
		 struct hv_error *err)
{
	json_t *im = json_object_get(r->spec, "image");
	const char *id = json_string_value(json_object_get(im, "id"));
	struct imgstore_image *have = NULL;
	if (!a->store || !id || !json_object_get(im, "sha256") ||
	    (r->cmd != CMD_SPAWN && r->cmd != CMD_REBUILD && r->cmd != CMD_RESCUE) ||
	    (r->cmd == CMD_SPAWN && agent_find_inst(a, r->uuid)))
		return 0;
	if (imgstore_get(a->store, id, &have, NULL) == 0) {
		imgstore_image_free(have);
		return 0;
	}
	struct fetch *f = find(a, id);
	if (f && f->failed) {
		*err = f->why;
		return err->code < 0 ? err->code : -EIO;
	}
	if (!f && !(f = start(a, im, err)))
		return err->code < 0 ? err->code : -EIO;
	if (wait_on(f, m) < 0)
		return hv_error_set(err, -ENOMEM, NULL, "out of memory");
	/* not journaled yet: this ACK only keeps the controller from expiring the command */
	agent_send(a, PROTO_ACK, m->hdr.msg_id, false,
		   json_pack("{s:s, s:s}", "cmd_id", m->hdr.cmd_id, "state", "waiting_image"));
	hv_log(HV_LOG_INFO, r->uuid, m->hdr.cmd_id, "%s waits for image %s (%llu of %llu bytes)",
	       inst_cmd_name(r->cmd), id, (unsigned long long)f->received,
	       (unsigned long long)f->size);
	return 1;
}

/* <data>.fetched marks an image of the cache (fetch.c removes only those); its mtime is
 * when an instance last used it. */
static void
mark_used(const char *data)
{
	char marker[PATH_MAX + 16];
	int fd;

	snprintf(marker, sizeof marker, "%s.fetched", data);
	fd = open(marker, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd >= 0) {
		futimens(fd, NULL);
		close(fd);
	}
}

/* The fetch is over (f->failed says how): its commands are handled again, then it goes. */
static void
settle(struct agent *a, struct fetch *f)
{
	for (size_t i = 0; i < a->n_fetches; i++)
		if (a->fetches[i] == f)
			a->fetches[i] = a->fetches[--a->n_fetches];
	/* back in the table while its commands run, so the gate sees how it ended */
	a->fetches[a->n_fetches++] = f;
	for (size_t i = 0; i < f->n_waiting; i++) {
		agent_handle_command(a, &f->waiting[i]);
		req_wipe(f->waiting[i].body);
		proto_msg_release(&f->waiting[i]);
	}
	f->n_waiting = 0;
	for (size_t i = 0; i < a->n_fetches; i++)
		if (a->fetches[i] == f)
			a->fetches[i] = a->fetches[--a->n_fetches];
	fetch_free(f);
}

static void
fail(struct agent *a, struct fetch *f, int code, const char *what, const char *detail)
{
	f->failed = true;
	hv_error_set(&f->why, code, "body.image.id", "body.image.id: image %s: %s%s", f->id, what,
		     detail);
	hv_log(HV_LOG_WARNING, NULL, NULL, "%s", f->why.message);
	settle(a, f);
}

static void
complete(struct agent *a, struct fetch *f)
{
	unsigned char digest[crypto_hash_sha256_BYTES];
	char got[65];
	struct hv_error err = {0};
	crypto_hash_sha256_final(&f->hash, digest);
	for (size_t i = 0; i < sizeof digest; i++)
		snprintf(got + 2 * i, 3, "%02x", digest[i]);
	if (f->received != f->size || strcmp(got, f->sha256) != 0) {
		hv_log(HV_LOG_WARNING, NULL, NULL,
		       "image %s: %llu bytes with sha256 %s, expected %llu bytes with %s: "
		       "refused, fetching again",
		       f->id, (unsigned long long)f->received, got, (unsigned long long)f->size,
		       f->sha256);
		if (++f->attempts >= FETCH_MAX_ATTEMPTS || restart(f) < 0)
			return fail(a, f, -EIO, "every transfer failed its checksum", "");
		return request(a, f, true);
	}
	if (fsync(f->fd) < 0 || rename(f->tmp, f->data) < 0)
		return fail(a, f, -EIO, "cannot store it: ", strerror(errno));
	close(f->fd);
	f->fd = -1;
	size_t n = json_object_size(f->props), k = 0;
	struct hvd_kv *kv = calloc(n + 1, sizeof *kv);
	const char *key;
	json_t *v;
	json_object_foreach (f->props, key, v)
		if (kv && json_is_string(v))
			kv[k++] = (struct hvd_kv){key, json_string_value(v)};
	int r = kv ? imgstore_commit(a->store, f->id, f->format, kv, k, &err) : -ENOMEM;
	free(kv);
	if (r < 0) {
		unlink(f->data);
		return fail(a, f, r, "cannot record it: ", err.message);
	}
	mark_used(f->data);
	hv_log(HV_LOG_NOTICE, NULL, NULL,
	       "image %s fetched from the controller: %llu bytes, sha256 verified", f->id,
	       (unsigned long long)f->size);
	settle(a, f);
}

/* Test hook (docs/hacking.md): HVAGENT_TEST_CORRUPT_IMAGE_CHUNKS=N flips a byte of each of
 * the first N chunks received, as a transfer that went wrong would. */
static void
maybe_corrupt(unsigned char *buf, size_t n)
{
	static long left = -1;
	if (left < 0) {
		const char *e = getenv("HVAGENT_TEST_CORRUPT_IMAGE_CHUNKS");
		left = e ? strtol(e, NULL, 10) : 0;
	}
	if (left > 0 && n > 0) {
		left--;
		buf[n / 2] ^= 0x5a;
	}
}

void
agent_fetch_on_data(struct agent *a, const struct proto_msg *m)
{
	const char *id = NULL, *data = NULL;
	int64_t offset = -1;
	json_t *error = json_object_get(m->body, "error");
	hj_str(m->body, "body", "image_id", HJ_OPTIONAL, IMGSTORE_ID_MAX, &id, NULL);
	struct fetch *f = id ? find(a, id) : NULL;
	if (!f || f->failed)
		return; /* an answer to a fetch that ended */
	if (error)
		return fail(a, f, -EPERM, "the controller refused it: ",
			    json_string_value(json_object_get(error, "message")) ?: "(no message)");
	if (hj_int(m->body, "body", "offset", HJ_REQUIRED, 0, INT64_MAX, &offset, NULL) < 0 ||
	    (uint64_t)offset != f->received ||
	    hj_str(m->body, "body", "data", HJ_REQUIRED, 0, &data, NULL) < 0)
		return; /* a late answer to a chunk asked again */
	unsigned char *bin = NULL;
	size_t n = 0;
	if (hv_base64_decode(data, strlen(data), &bin, &n) < 0 || n > PROTO_IMAGE_CHUNK ||
	    f->received + n > f->size) {
		free(bin);
		return fail(a, f, -EPROTO, "the controller sent a malformed chunk", "");
	}
	maybe_corrupt(bin, n);
	ssize_t w = pwrite(f->fd, bin, n, (off_t)f->received);
	crypto_hash_sha256_update(&f->hash, bin, n);
	free(bin);
	if (w != (ssize_t)n)
		return fail(a, f, -EIO, "cannot write it: ", strerror(w < 0 ? errno : ENOSPC));
	f->received += n;
	f->timeouts = 0;
	f->heard_ms = agent_mono_ms();
	if (f->received == f->size || json_is_true(json_object_get(m->body, "eof")) || n == 0)
		return complete(a, f);
	request(a, f, false);
}

void
agent_fetch_tick(struct agent *a, int64_t now)
{
	for (size_t i = 0; i < a->n_fetches; i++) {
		struct fetch *f = a->fetches[i];
		if (now - f->heard_ms < FETCH_TIMEOUT_MS)
			continue;
		f->heard_ms = now;
		if (++f->timeouts > FETCH_MAX_TIMEOUTS) {
			agent_batch_begin(a);
			fail(a, f, -ETIMEDOUT, "the controller did not send it", "");
			agent_batch_end(a);
			return; /* the table changed */
		}
		request(a, f, true);
	}
}

void
agent_fetch_free_all(struct agent *a)
{
	for (size_t i = 0; i < a->n_fetches; i++)
		fetch_free(a->fetches[i]);
	free(a->fetches);
	a->fetches = NULL;
	a->n_fetches = a->cap_fetches = 0;
}

/* The controller takes an image of this host's store (a snapshot): one chunk, or why not,
 * as IMAGE_DATA. The controller is the one this agent trusts with its commands. */
void
agent_image_serve(struct agent *a, const struct proto_msg *m)
{
	const char *id = NULL;
	int64_t offset = 0, length = PROTO_IMAGE_CHUNK;
	struct hv_error err = {0};
	unsigned char *buf = NULL;
	char *text = NULL;
	size_t n = 0;

	if (hj_str(m->body, "body", "image_id", HJ_REQUIRED, IMGSTORE_ID_MAX, &id, &err) < 0 ||
	    hj_int(m->body, "body", "offset", HJ_REQUIRED, 0, INT64_MAX, &offset, &err) < 0 ||
	    hj_int(m->body, "body", "length", HJ_OPTIONAL, 1, PROTO_IMAGE_CHUNK, &length, &err) <
		    0) {
		agent_send_error(a, m->hdr.msg_id, PROTO_E_INVALID, &err);
		return;
	}
	if (!a->store)
		hv_error_set(&err, -ENOENT, "body.image_id", "this host has no image store");
	else if ((buf = malloc((size_t)length)))
		imgstore_read(a->store, id, (uint64_t)offset, buf, (size_t)length, &n, &err);
	if (!err.message[0] && !(text = buf ? hv_base64_encode(buf, n) : NULL))
		hv_error_set(&err, -ENOMEM, NULL, "out of memory");
	free(buf);
	if (err.message[0])
		agent_send(a, PROTO_IMAGE_DATA, m->hdr.msg_id, false,
			   json_pack("{s:s, s:I, s:{s:s, s:s}}", "image_id", id, "offset",
				     (json_int_t)offset, "error", "code", PROTO_E_NOT_FOUND,
				     "message", err.message));
	else
		agent_send(a, PROTO_IMAGE_DATA, m->hdr.msg_id, false,
			   json_pack("{s:s, s:I, s:s, s:b}", "image_id", id, "offset",
				     (json_int_t)offset, "data", text, "eof", n < (size_t)length));
	free(text);
}

/* ---- the cache of fetched images (nova's image cache manager) ---------------------------- */

struct cache_pass {
	struct agent *a;
	json_t *used; /* image ids of this host's instances */
	int64_t now_s;
};

static void
cache_visit(void *ctx, const char *id)
{
	struct cache_pass *p = ctx;
	char data[PATH_MAX], marker[PATH_MAX + 16];
	struct stat st;

	if (imgstore_data_path(p->a->store, id, data, sizeof data, NULL) < 0)
		return;
	snprintf(marker, sizeof marker, "%s.fetched", data);
	if (stat(marker, &st) < 0 || find(p->a, id))
		return; /* not fetched (imported, a snapshot), or being fetched again */
	if (json_object_get(p->used, id)) {
		mark_used(data);
		return;
	}
	if (p->now_s - st.st_mtime < p->a->o.image_cache_max_age_s)
		return;
	if (imgstore_remove(p->a->store, id, NULL) == 0) {
		unlink(marker);
		hv_log(HV_LOG_INFO, NULL, NULL,
		       "image %s removed from the cache: unused for %d s ([images] cache_max_age)",
		       id, p->a->o.image_cache_max_age_s);
	}
}

void
agent_cache_tick(struct agent *a, int64_t now)
{
	int age = a->o.image_cache_max_age_s;
	struct cache_pass p = {.a = a, .used = json_object(), .now_s = proto_now_ms() / 1000};

	if (!a->store || age <= 0 || now < a->next_cache_ms) {
		json_decref(p.used);
		return;
	}
	a->next_cache_ms = now + (age < 60 ? age : 60) * 1000LL;
	for (size_t i = 0; i < a->n_insts; i++) {
		json_t *spec = a->insts[i]->spec ? json_loads(a->insts[i]->spec, 0, NULL) : NULL;
		const char *id =
			json_string_value(json_object_get(json_object_get(spec, "image"), "id"));

		if (id)
			json_object_set_new(p.used, id, json_true());
		json_decref(spec);
	}
	imgstore_list(a->store, cache_visit, &p, NULL);
	json_decref(p.used);
}
