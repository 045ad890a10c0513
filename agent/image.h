/* image.h - a request's image resolved through the image store (imgstore.h): the
 * stored data file, the RECORDED format (a request's format that disagrees is refused, a
 * format is never probed) and the recorded properties with the request's merged over them.
 * Never logs; touches only the store's sidecars. */
#ifndef HV_AGENT_IMAGE_H
#define HV_AGENT_IMAGE_H

#include <stdbool.h>

#include <hvagent/driver.h>
#include <hvagent/error.h>

#include "imgstore.h"

struct agent_image {
	struct imgstore_image *img; /* NULL when the image is not in the store */
	struct hvd_kv *props;       /* merged properties (strings borrowed) */
};

/* Resolves *im (in: the request's view, id/format/properties; out: the driver's view,
 * pointing into ret and the request) against store s. field names the request's image
 * ("body.image"). An image not in the store (or no store) is an error
 * "<field>.id: no image 'X' in the image store" when required, else *im keeps path NULL
 * (drivers that need no file). Release ret with agent_image_release even on failure. */
int agent_image_resolve(const struct imgstore *s, bool required, const char *field,
			struct hvd_image *im, struct agent_image *ret, struct hv_error *err);
void agent_image_release(struct agent_image *ai);

/* 0 when id can name a new image in store s (valid and not taken), else -EINVAL or -EEXIST
 * with err naming body.image_id. */
int agent_image_id_free(const struct imgstore *s, const char *id, struct hv_error *err);

#endif
