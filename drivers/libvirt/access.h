/* access.h - can the user libvirtd runs guests as reach a directory? The check the agent's
 * start-up and --check-config make for the instances path, the image store and the config
 * drive directory, so a permission problem names its directory instead of failing the first
 * boot. Reads only file modes (stat) and the user database; never changes anything. */
#ifndef HV_LIBVIRT_ACCESS_H
#define HV_LIBVIRT_ACCESS_H

#include <sys/types.h>

#include <hvagent/error.h>

/* Checks that uid, with gid and uid's supplementary groups, may search (x) every directory
 * from "/" down to dir inclusive; a missing tail is not checked (it is made later, by the
 * agent or the driver, with a traversable mode). Returns 0, or -EACCES with err->field set
 * to `field` and a message naming the directory at fault, its mode and owner. */
int
access_traversable(const char *dir, uid_t uid, gid_t gid, const char *field, struct hv_error *err);

#endif
