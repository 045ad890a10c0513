/* os_image.c - the Image v2 entry of the REST front, reads only and empty for now: hvcentral
 * keeps no image catalog yet, and openstackclient's server commands need an image service
 * in the catalog to start (they look image names up, and show the bare id when the lookup
 * finds nothing). So it answers the version document, an empty image list, and "not found"
 * for any image; never an image that does not exist. */
#include "os-priv.h"

#include <stdio.h>
#include <string.h>

void
os_image_route(struct os_front *f, struct os_req *q, const char *rest)
{
	char href[300];
	if (strcmp(q->method, "GET") != 0 && strcmp(q->method, "HEAD") != 0)
		return os_error(q, 405, "The image API is read-only until images are served.");
	if (!*rest || strcmp(rest, "/") == 0) {
		snprintf(href, sizeof href, "%s/image/v2/", f->public_url);
		return os_reply(q, 300,
				json_pack("{s:[{s:s, s:s, s:[{s:s, s:s}]}]}", "versions", "id",
					  "v2.0", "status", "CURRENT", "links", "rel", "self",
					  "href", href));
	}
	if (!os_authenticate(f, q))
		return;
	if (strcmp(rest, "/v2/images") == 0)
		return os_reply(q, 200,
				json_pack("{s:[], s:s}", "images", "schema", "/v2/schemas/images"));
	if (strncmp(rest, "/v2/images/", 11) == 0 && !strchr(rest + 11, '/'))
		return os_error(q, 404, "No image found with ID %.64s", rest + 11);
	os_error(q, 404, "The resource could not be found.");
}
