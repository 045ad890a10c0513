/* cmd.h - what hv's command files share: the parsed command line, the exit codes, one
 * request to hvcentral with its errors reported, and the printers for people and scripts.
 * hv.c parses and dispatches; each noun lives in cli/cmd_<noun>.c. Never prints a secret. */
#ifndef HV_CMD_H
#define HV_CMD_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include <hvagent/error.h>

enum exit_code {
	EXIT_OK = 0,
	EXIT_SERVER = 1, /* hvcentral (or the agent behind it) reported an error */
	EXIT_USAGE = 2,
	EXIT_UNREACHABLE = 3,
	EXIT_TIMEOUT = 4, /* --wait ran out before the server reached a final state */
};

/* Options; each command says which it accepts. */
#define O_API (1ULL << 0)
#define O_FORMAT (1ULL << 1)
#define O_TIMEOUT (1ULL << 2)
#define O_HOST (1ULL << 3)
#define O_FLAVOR (1ULL << 4)
#define O_PROPERTY (1ULL << 5)
#define O_IMAGE (1ULL << 6)
#define O_WAIT (1ULL << 7)
#define O_HARD (1ULL << 8)
#define O_LENGTH (1ULL << 9)
#define O_NAME (1ULL << 10)
#define O_DELETED (1ULL << 11)
#define O_KEY_FILE (1ULL << 12)
#define O_ADMIN_PASS (1ULL << 13)
#define O_USER_DATA (1ULL << 14)
#define O_CONFIG_DRIVE (1ULL << 15)
#define O_TYPE (1ULL << 16)
#define O_PASSWORD (1ULL << 17)
#define O_IMAGE_PROP (1ULL << 18)
#define O_PROJECT (1ULL << 19)
#define O_IMAGE_FORMAT (1ULL << 20)
#define O_DESCRIPTION (1ULL << 21)
#define O_ENABLE (1ULL << 22)
#define O_DISABLE (1ULL << 23)
#define O_QUOTA (1ULL << 24) /* any of the quota limits but --ram (hv quota set) */
#define O_RAM (1ULL << 25)
#define O_VCPUS (1ULL << 26)
#define O_DISK (1ULL << 27)
#define O_EPHEMERAL (1ULL << 28)
#define O_SWAP (1ULL << 29)
#define O_ID (1ULL << 30)
#define O_PUBLIC (1ULL << 31)
#define O_PRIVATE (1ULL << 32)
#define O_ALL (1ULL << 33)
#define O_PROP_KEY (1ULL << 34)   /* --property KEY without =VALUE */
#define O_FLAVOR_REF (1ULL << 35) /* --flavor NAME|ID (a catalog flavor) */
#define O_KEY_NAME (1ULL << 36)
#define O_MIN (1ULL << 37)
#define O_MAX (1ULL << 38)
#define O_PUBLIC_KEY (1ULL << 39)
#define O_PRIVATE_KEY (1ULL << 40)
#define O_NO_ADMIN_PASS (1ULL << 41)
#define O_HINT (1ULL << 42)
#define O_AZ (1ULL << 43)
#define O_NET (1ULL << 44)  /* --network and the other networking options (args.net) */
#define O_ZONE (1ULL << 45) /* --zone (hv aggregate) */
#define O_POLICY (1ULL << 46)
#define O_START (1ULL << 47)
#define O_END (1ULL << 48)
#define O_SERVER_GROUP (1ULL << 49)
#define O_FILE (1ULL << 50)
#define O_DISK_FORMAT (1ULL << 51)
#define O_MIN_DISK (1ULL << 52)
#define O_MIN_RAM (1ULL << 53)
#define O_PROTECTED (1ULL << 54)
#define O_UNPROTECTED (1ULL << 55)
#define O_ROLE (1ULL << 56)
#define O_PASSWORD_FILE (1ULL << 57)
#define O_TARGET (1ULL << 58)         /* --target (hv host evacuate) */
#define O_SHARED_STORAGE (1ULL << 59) /* --on-shared-storage (evacuate) */
#define O_GLOBAL (O_API | O_FORMAT | O_TIMEOUT)

struct args {
	unsigned long long given;
	const char *api, *host, *flavor, *image, *name;
	const char *key_file, *admin_pass, *user_data, *type, *password, *project, *image_format;
	const char *description;
	json_t *props, *image_props;
	const char *id, *flavor_ref, *key_name, *public_key, *private_key;
	json_t *nums;      /* the integer options by JSON name: {"ram": 512, "instances": 20} */
	json_t *prop_keys; /* --property KEY without a value: [KEY...] */
	json_t *hints;     /* --hint KEY=VALUE: same_host/different_host as lists */
	const char *az;    /* --availability-zone */
	json_t *net;       /* networking options by JSON name (hv.c net_opts) */
	const char *zone, *policy, *start, *end, *server_group;
	const char *file, *disk_format;
	bool protect, unprotect;
	const char *role, *password_file, *target;
	bool no_admin_pass, shared_storage;
	bool json, wait, hard, deleted, config_drive, enable, disable, is_public, is_private, all;
	long length;
	long timeout_s;
	bool help;
	int argc;
	char **argv; /* positional */
};

struct ctx {
	struct args *a;
	const char *endpoint;
	struct hvc *c; /* opened by the first request, after the command line checked out */
};

/* Prints "hv: FIELD: message (see hv --help)" on stderr; returns EXIT_USAGE. */
int __attribute__((format(printf, 2, 3))) usage_error(const char *field, const char *fmt, ...);
void print_error(const struct hv_error *err, const char *code);
/* A string member of o, or def. */
const char *s_or(json_t *o, const char *k, const char *def);
void print_json(json_t *v);
/* A Field/Value table of o; nested values as compact JSON. */
void print_object(json_t *o);
/* When r is EXIT_OK, prints res as JSON (-f json) or a Field/Value table; releases res and
 * returns r. */
int print_result(struct args *a, int r, json_t *res);
/* One request (args borrowed, may be NULL); the exit code, errors reported on stderr.
 * *ret (when given) gets the result on success. */
int call(struct ctx *x, const char *op, json_t *args, bool wait, json_t **ret);
/* -1 (after saying what was expected) unless the command has n positional words. */
int need_args(struct args *a, int n, const char *what);
/* -1 (naming it) when an option the command does not take was given. */
int check_opts(struct args *a, unsigned long long allowed);

/* The nouns of cmd_<noun>.c: each runs a->argv[1] (its verb); its help is hv NOUN --help. */
extern const char host_help[], server_help[], project_help[], quota_help[], flavor_help[],
	keypair_help[], aggregate_help[], zone_help[], server_group_help[], usage_help[],
	hypervisor_help[], image_help[], user_help[];
int cmd_host(struct ctx *x);
int cmd_server(struct ctx *x);
int cmd_project(struct ctx *x);
int cmd_quota(struct ctx *x);
int cmd_flavor(struct ctx *x);
int cmd_keypair(struct ctx *x);
/* cmd_network.c: hv network, subnet, port, security group [rule], floating ip, and hv server
 * add|remove security group|floating ip (cmd_server_net). */
extern const char network_help[], subnet_help[], port_help[], secgroup_help[], fip_help[];
int cmd_network(struct ctx *x);
int cmd_subnet(struct ctx *x);
int cmd_port(struct ctx *x);
int cmd_secgroup(struct ctx *x);
int cmd_fip(struct ctx *x);
int cmd_server_net(struct ctx *x);
/* Moves the networking options named (NULL-terminated) from a->net into q; a networking
 * option the command does not take is a usage error (EXIT_USAGE), else EXIT_OK. */
int net_opts_take(struct args *a, json_t *q, const char *const *keys);
int cmd_aggregate(struct ctx *x);
int cmd_zone(struct ctx *x);
int cmd_server_group(struct ctx *x);
int cmd_usage(struct ctx *x);
int cmd_hypervisor(struct ctx *x);
int cmd_image(struct ctx *x);
int cmd_user(struct ctx *x);
/* cmd_server.c: nova's evacuate of one server (target NULL: the scheduler places it), with
 * the password options of the args; prints the record (adminPass once when generated). */
int evacuate_one(struct ctx *x, const char *server, const char *target);
/* Reads a whole file of at most max bytes into a new string; on failure prints why (naming
 * the option) and returns -1. */
int read_small_file(const char *opt, const char *path, size_t max, char **ret, size_t *ret_len);

#endif
