/* loader.h - loads a driver plugin (hvagent-driver-<name>.so) and checks it against the ABI
 * of <hvagent/driver.h> before anything calls it.
 *
 * A loaded driver is an agent-owned, zero-filled copy of the driver's struct hvd_driver:
 * ops the driver's (older, shorter) struct does not have read as NULL, so "is this op
 * supported" is always `hv_driver_ops(d)->op != NULL` (or hv_driver_supports()). Loading
 * fails, with the library closed again, on: a bad name, a missing file, a missing entry
 * symbol, an entry returning NULL, another ABI version, a struct shorter than v1, a NULL
 * required op, a config key table that cannot serve as a schema (bad names or types, an
 * empty enum, min > max, no help, a key twice). Data fields a shorter struct lacks read as
 * the defaults <hvagent/driver.h> states (no config section, needs an image file). Never
 * logs. */
#ifndef HV_LOADER_H
#define HV_LOADER_H

#include <stdbool.h>

#include <hvagent/driver.h>
#include <hvagent/error.h>

/* Overrides the configured driver_dir (tests, running from the build tree). */
#define HV_DRIVER_DIR_ENV "HVAGENT_DRIVER_DIR"

struct hv_driver;

/* [a-z0-9_]{1,64}: a name that can only ever name a file inside the driver directory. */
bool hv_driver_name_valid(const char *name);

/* The directory to load drivers from: $HVAGENT_DRIVER_DIR when set and non-empty, else
 * configured, else the build's HV_DRIVERDIR. The result is borrowed. */
const char *hv_driver_dir(const char *configured);

/* Loads <dir>/hvagent-driver-<name>.so; its struct must also call itself `name`.
 * Returns 0 and *ret, or -EINVAL (bad name, field "driver"), -ENOENT (no such file),
 * -ENOEXEC (not loadable, no entry symbol, rejected ABI) with err naming the file. */
int hv_driver_load(const char *dir, const char *name, struct hv_driver **ret, struct hv_error *err);
/* Same checks for an explicit file path; any driver name is accepted. */
int hv_driver_load_path(const char *path, struct hv_driver **ret, struct hv_error *err);

/* The checked ops table; valid until hv_driver_unload. */
const struct hvd_driver *hv_driver_ops(const struct hv_driver *d);
/* The file the driver was loaded from. */
const char *hv_driver_path(const struct hv_driver *d);

/* Whether the driver implements op, by the op's name in struct hvd_driver ("pause",
 * "set_admin_password"); false for a name that is not an op. */
bool hv_driver_supports(const struct hv_driver *d, const char *op);
/* The ops' names in struct order, NULL-terminated (to report capabilities). */
const char *const *hv_driver_op_names(void);

/* Closes the library and sets *d to NULL (NULL-safe). Every host opened through it must be
 * closed first: its code is unmapped. */
void hv_driver_unload(struct hv_driver **d);

#endif
