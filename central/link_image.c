/* link_image.c - catalog image data on the agent link (docs/protocol.md section 6.8): a
 * host's IMAGE_GET is answered with a chunk of an image one of its servers was created from,
 * and a snapshot a host took is pulled from it the same way in the other direction (the
 * controller asks IMAGE_GET, the host answers IMAGE_DATA), one chunk in flight per image,
 * appended to the upload file and registered active only when its SHA-256 is the one the
 * host's RESULT announced. Must never hold an image in memory, never serve an image to a
 * host none of whose servers uses it, never log. */
#include "ctl-priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "fault.h"
#include "imgdata.h"
#include "json.h"
#include "vec.h"

#define PULL_TIMEOUT_MS 5000
#define PULL_MAX_TIMEOUTS 12
#define PULL_MAX_ATTEMPTS 3
#define PULL_RESUME_MS 10000 /* how often saving snapshots without a pull are looked for */

static const char *
text_of(const json_t *o, const char *key, const char *def)
{
	const char *v = json_string_value(json_object_get(o, key));
	return v ? v : def;
}

void
ctl_set_images(struct ctl *c, struct imgdata *d)
{
	c->images = d;
}

/* Why host may not have image id (a message for IMAGE_DATA's error), or NULL when it may:
 * the image is active and public, or a live server on that host was created from it. */
static const char *
image_refusal(struct ctl *c, const char *host, const char *id)
{
	json_t *img = NULL;
	const char *why = NULL;
	if (!c->images)
		return "this controller keeps no images";
	if (store_image_get(c->store, id, &img, &c->scratch) < 0)
		return "no such image";
	const char *vis = text_of(img, "visibility", "");
	if (strcmp(text_of(img, "status", ""), "active") != 0)
		why = "the image is not active";
	else if (strcmp(vis, "public") != 0 && strcmp(vis, "community") != 0 &&
		 store_image_used_on(c->store, host, id, &c->scratch) != 1)
		why = "no server of this host uses the image";
	json_decref(img);
	return why;
}

/* One chunk of a catalog image, or why not, as IMAGE_DATA (docs/protocol.md 6.8). */
void
ctl_image_get(struct ctl *c, const char *host, const struct proto_msg *m)
{
	const char *id = NULL, *why;
	int64_t offset = 0, length = PROTO_IMAGE_CHUNK;
	struct hv_error err = {0};
	if (hj_str(m->body, "body", "image_id", HJ_REQUIRED, PROTO_MAX_ID, &id, &err) < 0 ||
	    hj_int(m->body, "body", "offset", HJ_REQUIRED, 0, INT64_MAX, &offset, &err) < 0 ||
	    hj_int(m->body, "body", "length", HJ_OPTIONAL, 1, PROTO_IMAGE_CHUNK, &length, &err) <
		    0) {
		ctl_send_simple(c, host, PROTO_ERROR, m->hdr.msg_id,
				proto_error_body(PROTO_E_INVALID, &err));
		return;
	}
	if ((why = image_refusal(c, host, id))) {
		hv_error_set(&err, -EPERM, "body.image_id", "host %s may not fetch image %s: %s",
			     host, id, why);
		ctl_refuse(c, &err);
		ctl_send_simple(c, host, PROTO_IMAGE_DATA, m->hdr.msg_id,
				json_pack("{s:s, s:I, s:{s:s, s:s}}", "image_id", id, "offset",
					  (json_int_t)offset, "error", "code", PROTO_E_NOT_FOUND,
					  "message", why));
		return;
	}
	unsigned char *buf = malloc((size_t)length);
	size_t n = 0;
	char *text = NULL;
	if (!buf || imgdata_read(c->images, id, offset, buf, (size_t)length, &n, &err) < 0 ||
	    !(text = hv_base64_encode(buf, n))) {
		ctl_send_simple(c, host, PROTO_IMAGE_DATA, m->hdr.msg_id,
				json_pack("{s:s, s:I, s:{s:s, s:s}}", "image_id", id, "offset",
					  (json_int_t)offset, "error", "code", PROTO_E_INTERNAL,
					  "message",
					  err.message[0] ? err.message : "out of memory"));
		free(buf);
		return;
	}
	free(buf);
	ctl_send_simple(c, host, PROTO_IMAGE_DATA, m->hdr.msg_id,
			json_pack("{s:s, s:I, s:s, s:b}", "image_id", id, "offset",
				  (json_int_t)offset, "data", text, "eof", n < (size_t)length));
	free(text);
}

/* ---- snapshots taken from hosts --------------------------------------------------------- */

struct ctl_pull {
	char host[PROTO_MAX_ID + 1], id[PROTO_MAX_ID + 1], sha256[65];
	int64_t size, received, sent_ms;
	int attempts, timeouts;
	bool sent; /* the last request left (a host that is not connected does not time out) */
};

static void
pull_request(struct ctl *c, struct ctl_pull *p, int64_t now)
{
	p->sent_ms = now;
	p->sent = ctl_send_simple(c, p->host, PROTO_IMAGE_GET, NULL,
				  json_pack("{s:s, s:I, s:i}", "image_id", p->id, "offset",
					    (json_int_t)p->received, "length",
					    PROTO_IMAGE_CHUNK)) == 0;
}

/* The catalog row of a snapshot ends its upload: active with its size and checksum, or
 * killed (Glance's state of an image whose upload failed). */
static void
pull_end(struct ctl *c, struct ctl_pull *p, bool ok, const char *md5, int64_t now)
{
	json_t *img = NULL;
	if (store_image_get(c->store, p->id, &img, &c->scratch) == 0) {
		json_object_set_new(img, "status", json_string(ok ? "active" : "killed"));
		if (ok) {
			json_object_set_new(img, "size", json_integer(p->size));
			json_object_set_new(img, "checksum", json_string(md5));
			json_object_set_new(img, "os_hash_algo", json_string("sha256"));
			json_object_set_new(img, "os_hash_value", json_string(p->sha256));
		}
		store_image_update(c->store, img, now, &c->scratch);
		json_decref(img);
	}
	if (!ok)
		imgdata_discard(c->images, p->id);
	size_t i = (size_t)(p - c->pulls);
	c->pulls[i] = c->pulls[--c->n_pulls];
}

static void pull_begin(struct ctl *c, const char *host, const char *id, int64_t size,
		       const char *sha, int64_t now);

void
ctl_pull_start(struct ctl *c, const char *host, json_t *image, int64_t now)
{
	const char *id = text_of(image, "id", ""), *sha = text_of(image, "sha256", "");
	json_t *img = NULL, *size = json_object_get(image, "size");
	if (!c->images || strlen(sha) != 64 || !json_is_integer(size) ||
	    store_image_get(c->store, id, &img, &c->scratch) < 0)
		return; /* not a catalog snapshot (or an agent that does not announce its hash) */
	bool queued = strcmp(text_of(img, "status", ""), "queued") == 0;
	json_object_set_new(img, "status", json_string("saving"));
	if (queued)
		store_image_update(c->store, img, now, &c->scratch);
	json_decref(img);
	if (queued)
		pull_begin(c, host, id, json_integer_value(size), sha, now);
	/* else a RESULT sent again: its pull runs already, is over, or is resumed */
}

/* Takes image id (size bytes, sha256) from host, from offset 0. */
static void
pull_begin(struct ctl *c, const char *host, const char *id, int64_t size, const char *sha,
	   int64_t now)
{
	for (size_t i = 0; i < c->n_pulls; i++)
		if (strcmp(c->pulls[i].id, id) == 0)
			return;
	if (HV_GROW(c->pulls, c->cap_pulls, c->n_pulls + 1) < 0)
		return;
	struct ctl_pull *p = &c->pulls[c->n_pulls++];
	*p = (struct ctl_pull){.size = size};
	snprintf(p->host, sizeof p->host, "%s", host);
	snprintf(p->id, sizeof p->id, "%s", id);
	snprintf(p->sha256, sizeof p->sha256, "%s", sha);
	imgdata_discard(c->images, id);
	pull_request(c, p, now);
}

static void
pull_verify(struct ctl *c, struct ctl_pull *p, int64_t now)
{
	char got[65], md5[33];
	int64_t size = 0;
	struct hv_error err = {0};
	if (imgdata_hash(c->images, p->id, got, md5, &size, &err) == 0 && size == p->size &&
	    strcmp(got, p->sha256) == 0) {
		if (imgdata_commit(c->images, p->id, &err) == 0)
			return pull_end(c, p, true, md5, now);
		return pull_end(c, p, false, NULL, now);
	}
	hv_error_set(&err, -EIO, "body.data",
		     "snapshot %s from host %s: %lld bytes hashing to %s, announced %lld with %s",
		     p->id, p->host, (long long)size, got, (long long)p->size, p->sha256);
	ctl_refuse(c, &err);
	imgdata_discard(c->images, p->id);
	if (++p->attempts >= PULL_MAX_ATTEMPTS)
		return pull_end(c, p, false, NULL, now);
	p->received = 0;
	pull_request(c, p, now);
}

void
ctl_image_data(struct ctl *c, const char *host, const struct proto_msg *m, int64_t now)
{
	const char *id = text_of(m->body, "image_id", ""), *data = NULL;
	int64_t offset = -1;
	struct ctl_pull *p = NULL;
	for (size_t i = 0; i < c->n_pulls && !p; i++)
		if (strcmp(c->pulls[i].id, id) == 0 && strcmp(c->pulls[i].host, host) == 0)
			p = &c->pulls[i];
	if (!p)
		return;               /* not asked of this host, or over */
	hv_fault("image_pull_chunk"); /* a pull the store says is saving, not yet complete */
	if (json_object_get(m->body, "error"))
		return pull_end(c, p, false, NULL, now);
	if (hj_int(m->body, "body", "offset", HJ_REQUIRED, 0, INT64_MAX, &offset, NULL) < 0 ||
	    offset != p->received ||
	    hj_str(m->body, "body", "data", HJ_REQUIRED, 0, &data, NULL) < 0)
		return; /* a late answer to a chunk asked again */
	unsigned char *bin = NULL;
	size_t n = 0;
	struct hv_error err = {0};
	if (hv_base64_decode(data, strlen(data), &bin, &n) < 0 || n > PROTO_IMAGE_CHUNK ||
	    p->received + (int64_t)n > p->size ||
	    imgdata_append(c->images, p->id, p->received, bin, n, &err) < 0) {
		free(bin);
		return pull_end(c, p, false, NULL, now);
	}
	free(bin);
	p->received += (int64_t)n;
	p->timeouts = 0;
	if (p->received == p->size || json_is_true(json_object_get(m->body, "eof")) || n == 0)
		return pull_verify(c, p, now);
	pull_request(c, p, now);
}

/* Snapshots the store says are saving but no pull takes (hvcentral restarted during one):
 * taken again from offset 0, from the host and with the checksum of their RESULT. */
static void
pull_resume(struct ctl *c, int64_t now)
{
	json_t *list = NULL, *img;
	size_t i;
	if (store_image_list(c->store, &list, &c->scratch) < 0)
		return;
	json_array_foreach (list, i, img) {
		const char *id = text_of(img, "id", "");
		char cmd_id[40];
		struct store_cmd cmd;
		json_t *result = NULL;
		bool taken = false;
		for (size_t k = 0; k < c->n_pulls; k++)
			taken = taken || strcmp(c->pulls[k].id, id) == 0;
		if (taken || strcmp(text_of(img, "status", ""), "saving") != 0 ||
		    store_image_snapshot_cmd(c->store, id, cmd_id, &c->scratch) <= 0 ||
		    store_cmd_get(c->store, cmd_id, &cmd, &result, &c->scratch) < 0)
			continue;
		json_t *im = json_object_get(json_object_get(result, "data"), "image");
		json_t *size = json_object_get(im, "size");
		const char *sha = text_of(im, "sha256", "");
		if (json_is_integer(size) && strlen(sha) == 64)
			pull_begin(c, cmd.host_id, id, json_integer_value(size), sha, now);
		json_decref(result);
		store_cmd_clear(&cmd);
	}
	json_decref(list);
}

void
ctl_pull_tick(struct ctl *c, int64_t now)
{
	if (c->images && now >= c->next_pull_scan_ms) {
		c->next_pull_scan_ms = now + PULL_RESUME_MS;
		pull_resume(c, now);
	}
	for (size_t i = 0; i < c->n_pulls; i++) {
		struct ctl_pull *p = &c->pulls[i];
		if (now - p->sent_ms < PULL_TIMEOUT_MS)
			continue;
		if (p->sent && ++p->timeouts > PULL_MAX_TIMEOUTS)
			return pull_end(c, p, false, NULL, now); /* the table changed: next tick */
		pull_request(c, p, now);
	}
}
