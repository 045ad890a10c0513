/* image.c - the request/store meeting point for images (see image.h). Must never trust a
 * request's format over the store's record, nor hand a driver a path outside the store. */
#include "image.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool
has_key(const struct hvd_kv *kv, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(kv[i].key, key) == 0)
			return true;
	return false;
}

int
agent_image_resolve(const struct imgstore *s, bool required, const char *field,
		    struct hvd_image *im, struct agent_image *ret, struct hv_error *err)
{
	const char *id = im->id ? im->id : "";
	char f_id[96], f_format[96];
	size_t n = 0;
	int r;

	snprintf(f_id, sizeof f_id, "%s.id", field);
	snprintf(f_format, sizeof f_format, "%s.format", field);

	memset(ret, 0, sizeof *ret);
	im->path = NULL;
	if (s && imgstore_id_valid(id)) {
		r = imgstore_get(s, id, &ret->img, err);
		if (r < 0 && r != -ENOENT) {
			char why[sizeof err->message];

			snprintf(why, sizeof why, "%s", err->message);
			return hv_error_set(err, r, f_id, "%s: image '%s' is unreadable: %s", f_id,
					    id, why);
		}
	}
	if (!ret->img) {
		hv_error_clear(err);
		if (required)
			return hv_error_set(err, -ENOENT, f_id,
					    "%s: no image '%s' in the image store", f_id, id);
		return 0;
	}
	if (im->format && strcmp(im->format, ret->img->format) != 0)
		return hv_error_set(err, -EINVAL, f_format,
				    "%s: '%s' disagrees with image '%s', recorded as '%s'",
				    f_format, im->format, id, ret->img->format);
	ret->props = calloc(ret->img->n_properties + im->n_properties + 1, sizeof *ret->props);
	if (!ret->props)
		return hv_error_set(err, -ENOMEM, NULL, "out of memory");
	/* the request's properties win over the recorded ones */
	for (size_t i = 0; i < ret->img->n_properties; i++)
		if (!has_key(im->properties, im->n_properties, ret->img->properties[i].key))
			ret->props[n++] = ret->img->properties[i];
	for (size_t i = 0; i < im->n_properties; i++)
		ret->props[n++] = im->properties[i];
	im->path = ret->img->path;
	im->format = ret->img->format;
	im->properties = ret->props;
	im->n_properties = n;
	return 0;
}

int
agent_image_id_free(const struct imgstore *s, const char *id, struct hv_error *err)
{
	struct imgstore_image *old = NULL;

	if (!imgstore_id_valid(id))
		return hv_error_set(err, -EINVAL, "body.image_id",
				    "body.image_id: '%s' cannot name an image in the store "
				    "(allowed: [A-Za-z0-9._-], not starting with '.')",
				    id);
	if (imgstore_get(s, id, &old, NULL) == 0) {
		imgstore_image_free(old);
		return hv_error_set(err, -EEXIST, "body.image_id",
				    "body.image_id: image '%s' already exists in the image store",
				    id);
	}
	return 0;
}

void
agent_image_release(struct agent_image *ai)
{
	if (!ai)
		return;
	imgstore_image_free(ai->img);
	free(ai->props);
	memset(ai, 0, sizeof *ai);
}
