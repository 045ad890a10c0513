/* configdrive.h - writes an OpenStack config drive (ISO9660 + Rock Ridge + Joliet, volume
 * id "config-2") in-process with libisofs, from the documents metadata.h builds.
 *
 * Must never leave a partial image at the final path (temp name, fsync, rename) and never
 * create it readable by anyone but its owner (mode 0600). Thread-safe. */
#ifndef GUEST_CONFIGDRIVE_H
#define GUEST_CONFIGDRIVE_H

#include <hvagent/error.h>

#include "metadata.h"

#define GUEST_CONFIGDRIVE_LABEL "config-2"

/* Validates cfg, builds the documents and writes the ISO to `path` (typically
 * <instance dir>/disk.config; the caller chooses it, it is never a request string).
 * An existing file at path is replaced atomically. Returns 0, or -errno with err naming
 * the request field (validation) or the path (I/O); on failure nothing is left behind. */
int guest_configdrive_write(const struct guest_config *cfg, const char *path, struct hv_error *err);

/* The same for an already built tree. */
int guest_configdrive_write_tree(const struct guest_drive_tree *tree, const char *path,
				 struct hv_error *err);

/* Reads one document of an existing drive (`path` relative, "openstack/latest/user_data"),
 * at most GUEST_USER_DATA_MAX bytes, into *ret (caller frees; wipe it: it may be user
 * data). -ENOENT when the drive or the document is absent. */
int guest_configdrive_read_file(const char *iso, const char *path, unsigned char **ret,
				size_t *ret_len, struct hv_error *err);

#endif
