/* loader.c - dlopen()s a driver plugin, checks its ABI handshake and keeps a private copy
 * of its ops table. Must never call a driver op (it only inspects the table), never log, and
 * never leave a library mapped after a failed load. */
#include "loader.h"

#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct hv_driver {
	void *handle;
	char *path;
	struct hvd_driver ops; /* zero-filled past the driver's struct_size */
};

/* v1 ends with set_option; computed, not sizeof, so it stays v1's size when v2 appends. */
#define HV_DRIVER_V1_SIZE (offsetof(struct hvd_driver, set_option) + sizeof(void *))

/* Every op in struct order; the first HV_DRIVER_N_REQUIRED are the required v1 ops. */
/* clang-format off */
#define HV_DRIVER_OPS(X) \
	X(open) X(close) X(host_info) X(host_stats) X(list_instances) X(get_instance) \
	X(spawn) X(destroy) X(power_off) X(power_on) \
	X(reboot) X(pause) X(unpause) X(suspend) X(resume) X(resize) X(confirm_resize) \
	X(revert_resize) X(rebuild) X(rescue) X(unrescue) X(snapshot) X(console_log) \
	X(get_console) X(set_admin_password) X(set_event_callback) X(set_option)
/* clang-format on */
#define HV_DRIVER_N_REQUIRED 10
/* Optional ops appended to v1 after set_option, in struct order: a shorter (older) driver
 * struct reads them as NULL. */
#define HV_DRIVER_APPENDED_OPS(X) X(root_disk) X(check_config)
/* Optional ops appended after the data fields (needs), in struct order. */
#define HV_DRIVER_LATE_OPS(X) X(check_reach)
/* The data fields appended after the ops; a driver struct that ends before one reads the
 * default the header states for it. */
#define HV_DRIVER_HAS(ops, field) \
	((ops)->struct_size >= offsetof(struct hvd_driver, field) + sizeof((ops)->field))

#define HV_DRIVER_OP_NAME(op) #op,
#define HV_DRIVER_OP_OFFSET(op) offsetof(struct hvd_driver, op),
#define HV_DRIVER_OP_ONE(op) +1
static const char *const hv_driver_names[] = {
	HV_DRIVER_OPS(HV_DRIVER_OP_NAME) HV_DRIVER_APPENDED_OPS(HV_DRIVER_OP_NAME)
		HV_DRIVER_LATE_OPS(HV_DRIVER_OP_NAME) NULL};
static const size_t hv_driver_offsets[] = {HV_DRIVER_OPS(HV_DRIVER_OP_OFFSET)
						   HV_DRIVER_APPENDED_OPS(HV_DRIVER_OP_OFFSET)
							   HV_DRIVER_LATE_OPS(HV_DRIVER_OP_OFFSET)};
#define HV_DRIVER_N_OPS (sizeof hv_driver_offsets / sizeof hv_driver_offsets[0])
#define HV_DRIVER_N_EARLY_OPS \
	(0 HV_DRIVER_OPS(HV_DRIVER_OP_ONE) HV_DRIVER_APPENDED_OPS(HV_DRIVER_OP_ONE))
#define HV_DRIVER_N_LATE_OPS (0 HV_DRIVER_LATE_OPS(HV_DRIVER_OP_ONE))
#define HV_DRIVER_N_V1_OPS (0 HV_DRIVER_OPS(HV_DRIVER_OP_ONE))
_Static_assert(HV_DRIVER_N_V1_OPS * sizeof(void *) + offsetof(struct hvd_driver, open) ==
		       HV_DRIVER_V1_SIZE,
	       "every v1 op of struct hvd_driver is listed in HV_DRIVER_OPS");
_Static_assert(HV_DRIVER_N_EARLY_OPS * sizeof(void *) + offsetof(struct hvd_driver, open) ==
		       offsetof(struct hvd_driver, config_section),
	       "every appended op of struct hvd_driver is listed in HV_DRIVER_APPENDED_OPS");
_Static_assert(offsetof(struct hvd_driver, needs) + sizeof(uint64_t) ==
		       offsetof(struct hvd_driver, check_reach),
	       "the loader knows every data field appended after the ops");
_Static_assert(offsetof(struct hvd_driver, check_reach) + HV_DRIVER_N_LATE_OPS * sizeof(void *) ==
		       sizeof(struct hvd_driver),
	       "every op appended after the data fields is listed in HV_DRIVER_LATE_OPS");

static bool
hv_driver_op_set(const struct hvd_driver *ops, size_t offset)
{
	void (*fn)(void);
	memcpy(&fn, (const char *)ops + offset, sizeof fn);
	return fn != NULL;
}

bool
hv_driver_name_valid(const char *name)
{
	if (!name || !*name || strlen(name) > 64)
		return false;
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
			return false;
	return true;
}

const char *
hv_driver_dir(const char *configured)
{
	const char *env = getenv(HV_DRIVER_DIR_ENV);
	if (env && *env)
		return env;
	return configured && *configured ? configured : HV_DRIVERDIR;
}

/* Checks the table the entry returned; fills err naming path. */
static int
hv_driver_check(const char *path, const char *want_name, const struct hvd_driver *ops,
		struct hv_error *err)
{
	if (!ops)
		return hv_error_set(
			err, -ENOEXEC, HVD_ENTRY_SYMBOL,
			"%s: %s() returned NULL: the driver refuses agent ABI version %u", path,
			HVD_ENTRY_SYMBOL, HVD_ABI_VERSION);
	if (ops->abi_version != HVD_ABI_VERSION)
		return hv_error_set(err, -ENOEXEC, "abi_version",
				    "%s: ABI version %u, agent supports %u", path, ops->abi_version,
				    HVD_ABI_VERSION);
	if (ops->struct_size < HV_DRIVER_V1_SIZE)
		return hv_error_set(
			err, -ENOEXEC, "struct_size",
			"%s: driver struct is %u bytes, ABI version %u needs at least %zu", path,
			ops->struct_size, HVD_ABI_VERSION, HV_DRIVER_V1_SIZE);
	if (!ops->name || !hv_driver_name_valid(ops->name))
		return hv_error_set(err, -ENOEXEC, "name",
				    "%s: driver name is missing or invalid (allowed: [a-z0-9_]+)",
				    path);
	if (want_name && strcmp(ops->name, want_name) != 0)
		return hv_error_set(err, -ENOEXEC, "name",
				    "%s: driver calls itself '%s', expected '%s'", path, ops->name,
				    want_name);
	for (size_t i = 0; i < HV_DRIVER_N_REQUIRED; i++)
		if (!hv_driver_op_set(ops, hv_driver_offsets[i]))
			return hv_error_set(err, -ENOEXEC, hv_driver_names[i],
					    "%s: driver '%s' lacks required op %s", path, ops->name,
					    hv_driver_names[i]);
	return 0;
}

static bool
hv_driver_key_name_valid(const char *s)
{
	if (!s || !*s || strlen(s) > 64)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '-' || *s == '.'))
			return false;
	return true;
}

/* The config description must be usable as a schema before the agent trusts a word of it:
 * a bad table is the driver's bug, refused at load like a missing op. */
static int
hv_driver_check_config_keys(const char *path, const struct hvd_driver *ops, struct hv_error *err)
{
	if (!ops->config_section) {
		if (ops->config_keys)
			return hv_error_set(err, -ENOEXEC, "config_section",
					    "%s: driver '%s' has config_keys but no config_section",
					    path, ops->name);
		return 0;
	}
	if (!hv_driver_name_valid(ops->config_section))
		return hv_error_set(
			err, -ENOEXEC, "config_section",
			"%s: driver '%s': config_section is invalid (allowed: [a-z0-9_]+)", path,
			ops->name);
	for (size_t i = 0; ops->config_keys && ops->config_keys[i].key; i++) {
		const struct hvd_config_key *k = &ops->config_keys[i];
		const char *why = NULL;

		if (!hv_driver_key_name_valid(k->key))
			why = "name is invalid (allowed: 1-64 of [A-Za-z0-9_.-])";
		else if (k->type > HVD_CONFIG_PATH)
			why = "type is unknown";
		else if (k->type == HVD_CONFIG_ENUM && (!k->allowed || !*k->allowed))
			why = "an enum key lists no allowed values";
		else if (k->type == HVD_CONFIG_INT && k->min > k->max)
			why = "min is larger than max";
		else if (!k->help || !*k->help)
			why = "has no help line";
		else if ((k->flags & (HVD_KEY_REBOOT_TIMEOUT | HVD_KEY_SHUTDOWN_TIMEOUT)) &&
			 k->type != HVD_CONFIG_INT)
			why = "a timeout role needs an integer key";
		for (size_t j = 0; !why && j < i; j++)
			if (strcmp(ops->config_keys[j].key, k->key) == 0)
				why = "is listed twice";
		if (why)
			return hv_error_set(err, -ENOEXEC, "config_keys",
					    "%s: driver '%s': config key [%s] %.64s: %s", path,
					    ops->name, ops->config_section, k->key, why);
	}
	return 0;
}

static int
hv_driver_open(const char *path, const char *want_name, struct hv_driver **ret,
	       struct hv_error *err)
{
	*ret = NULL;
	struct stat st;
	if (stat(path, &st) < 0) {
		int e = errno;
		return hv_error_set(err, -e, "driver", "%s: %s", path, strerror(e));
	}
	if (!S_ISREG(st.st_mode))
		return hv_error_set(err, -ENOEXEC, "driver", "%s: not a regular file", path);

	struct hv_driver *d = calloc(1, sizeof *d);
	if (!d || !(d->path = strdup(path))) {
		free(d);
		return hv_error_set(err, -ENOMEM, "driver", "%s: out of memory", path);
	}
	int r;
	dlerror();
	d->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!d->handle) {
		const char *why = dlerror();
		r = hv_error_set(err, -ENOEXEC, "driver", "%s: cannot load: %s", path,
				 why ? why : "unknown error");
		goto fail;
	}
	hvd_entry_fn entry;
	void *sym = dlsym(d->handle, HVD_ENTRY_SYMBOL);
	if (!sym) {
		r = hv_error_set(err, -ENOEXEC, HVD_ENTRY_SYMBOL,
				 "%s: no %s symbol: not an hvagent driver", path, HVD_ENTRY_SYMBOL);
		goto fail;
	}
	/* POSIX guarantees a dlsym() result converts to a function pointer. */
	memcpy(&entry, &sym, sizeof entry);
	const struct hvd_driver *ops = entry(HVD_ABI_VERSION);
	r = hv_driver_check(path, want_name, ops, err);
	if (r < 0)
		goto fail;
	/* An older driver's struct ends earlier: ops it does not have stay NULL in the copy,
	 * data fields take the defaults driver.h states. */
	size_t n = ops->struct_size < sizeof d->ops ? ops->struct_size : sizeof d->ops;
	memcpy(&d->ops, ops, n);
	if (!HV_DRIVER_HAS(&d->ops, needs))
		d->ops.needs = HVD_NEED_IMAGE_FILE;
	if (!HV_DRIVER_HAS(&d->ops, config_keys)) {
		d->ops.config_section = NULL;
		d->ops.config_keys = NULL;
	}
	if ((r = hv_driver_check_config_keys(path, &d->ops, err)) < 0)
		goto fail;
	*ret = d;
	return 0;
fail:
	hv_driver_unload(&d);
	return r;
}

int
hv_driver_load(const char *dir, const char *name, struct hv_driver **ret, struct hv_error *err)
{
	*ret = NULL;
	if (!hv_driver_name_valid(name))
		return hv_error_set(err, -EINVAL, "driver",
				    "driver name '%.64s' is invalid (allowed: 1-64 of [a-z0-9_])",
				    name ? name : "");
	if (!dir || !*dir)
		return hv_error_set(err, -EINVAL, "driver_dir", "driver directory is empty");
	char *path;
	if (asprintf(&path, "%s/hvagent-driver-%s.so", dir, name) < 0)
		return hv_error_set(err, -ENOMEM, "driver", "out of memory");
	int r = hv_driver_open(path, name, ret, err);
	free(path);
	return r;
}

int
hv_driver_load_path(const char *path, struct hv_driver **ret, struct hv_error *err)
{
	*ret = NULL;
	if (!path || !*path)
		return hv_error_set(err, -EINVAL, "driver", "driver path is empty");
	if (strchr(path, '/'))
		return hv_driver_open(path, NULL, ret, err);
	/* dlopen() would search the system library path for a bare file name. */
	char *local;
	if (asprintf(&local, "./%s", path) < 0)
		return hv_error_set(err, -ENOMEM, "driver", "out of memory");
	int r = hv_driver_open(local, NULL, ret, err);
	free(local);
	return r;
}

const struct hvd_driver *
hv_driver_ops(const struct hv_driver *d)
{
	return &d->ops;
}

const char *
hv_driver_path(const struct hv_driver *d)
{
	return d->path;
}

bool
hv_driver_supports(const struct hv_driver *d, const char *op)
{
	for (size_t i = 0; op && i < HV_DRIVER_N_OPS; i++)
		if (strcmp(hv_driver_names[i], op) == 0)
			return hv_driver_op_set(&d->ops, hv_driver_offsets[i]);
	return false;
}

const char *const *
hv_driver_op_names(void)
{
	return hv_driver_names;
}

void
hv_driver_unload(struct hv_driver **d)
{
	if (!d || !*d)
		return;
	if ((*d)->handle)
		dlclose((*d)->handle);
	free((*d)->path);
	free(*d);
	*d = NULL;
}
