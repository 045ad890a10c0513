/* central_config.c - hvcentral.conf: every key with its type, default and one line of help,
 * and the checks that span keys. Must never log or exit. */
#include "central_config.h"

#include <errno.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

const struct cfg_key central_config_schema[] = {
	CFG_ROW_ENUM("DEFAULT", "log_level", "info", "error|warning|notice|info|debug",
		     "least severe level logged"),
	CFG_ROW_PATH("DEFAULT", "state_dir", "/var/lib/hvcentral",
		     "database, CURVE keypair and agent allowlist"),
	CFG_ROW_STR("agents", "endpoint", "tcp://127.0.0.1:5555",
		    "where agents connect (tcp://ADDR:PORT or ipc://PATH)"),
	CFG_ROW_STR("agents", "allowlist_dir", "",
		    "one <host_id>.pub per allowed agent (empty: <state_dir>/agents)"),
	CFG_ROW_INT("agents", "report_interval", "10", 1, 3600,
		    "seconds between reports agents are expected to send"),
	CFG_ROW_INT("agents", "suspect_after", "30", 1, 86400,
		    "seconds of silence after which a host is suspect"),
	CFG_ROW_INT("agents", "down_after", "60", 1, 86400,
		    "seconds of silence after which a host is down"),
	CFG_ROW_INT("agents", "max_message_kb", "4096", 64, 65536,
		    "largest message accepted from an agent"),
	CFG_ROW_STR("api", "endpoint", "",
		    "API socket for hv (empty: ipc://$XDG_RUNTIME_DIR/hvcentral/api.sock or "
		    "ipc:///run/hvcentral/api.sock)"),
	CFG_ROW_BOOL("api", "allow_remote", "false",
		     "let the API listen beyond loopback (it has no authentication: anyone "
		     "who reaches it drives hvcentral)"),
	CFG_ROW_INT("commands", "timeout", "120", 1, 86400,
		    "seconds a command may wait to be accepted by its host"),
	CFG_ROW_INT("commands", "retry_interval_ms", "2000", 50, 600000,
		    "resend an unanswered command after this long"),
	CFG_ROW_INT("commands", "firewall_max_age", "604800", 0, 31536000,
		    "seconds a firewall command waits for its host before it is dropped "
		    "(0: never)"),
	CFG_ROW_STR("network", "external_cidr", "",
		    "IPv4 CIDR of the external network floating IPs come from (empty: none)"),
	CFG_ROW_STR("network", "external_name", "public",
		    "name of the external network external_cidr makes"),
	CFG_ROW_STR("images", "dir", "",
		    "the image catalog's data files (empty: <state_dir>/images)"),
	CFG_ROW_STR("metrics", "listen", "",
		    "Prometheus /metrics on PORT (127.0.0.1) or ADDRESS:PORT (empty: off)"),
	CFG_ROW_STR("scheduler", "enabled_filters", "",
		    "scheduler filters in order, comma separated (empty: nova's default list)"),
	CFG_ROW_STR("scheduler", "default_availability_zone", "nova",
		    "the zone of hosts in no aggregate with an availability_zone"),
	CFG_ROW_INT("scheduler", "host_subset_size", "1", 1, 1000,
		    "pick at random among this many best hosts"),
	CFG_ROW_INT("scheduler", "max_attempts", "3", 1, 100, "hosts tried for one server"),
	CFG_ROW_STR("scheduler", "cpu_allocation_ratio", "16.0", "vCPUs per host CPU"),
	CFG_ROW_STR("scheduler", "ram_allocation_ratio", "1.5", "RAM overcommit"),
	CFG_ROW_STR("scheduler", "disk_allocation_ratio", "1.0", "disk overcommit"),
	CFG_ROW_STR("scheduler", "ram_weight_multiplier", "1.0",
		    "weight of free RAM (negative stacks servers)"),
	CFG_ROW_STR("scheduler", "metrics_weight_multiplier", "1.0", "weight of host metrics"),
	CFG_ROW_STR("scheduler", "cpu_weight_multiplier", "1.0", "weight of free vCPUs"),
	CFG_ROW_STR("scheduler", "disk_weight_multiplier", "1.0", "weight of free disk"),
	CFG_ROW_STR("scheduler", "io_ops_weight_multiplier", "-1.0", "weight of busy hosts"),
	CFG_ROW_STR("scheduler", "soft_affinity_weight_multiplier", "1.0",
		    "weight of soft-affinity groups"),
	CFG_ROW_STR("scheduler", "soft_anti_affinity_weight_multiplier", "1.0",
		    "weight of soft-anti-affinity groups"),
	CFG_ROW_STR("metrics", "weight_setting", "",
		    "metric=ratio, ... the metrics weigher sums (empty: it weighs nothing)"),
	CFG_ROW_STR("metrics", "weight_multiplier", "",
		    "weight of the metrics (empty: [scheduler] metrics_weight_multiplier)"),
	CFG_ROW_BOOL("metrics", "required", "true",
		     "a candidate without a metric of weight_setting stops the decision"),
	CFG_ROW_STR("metrics", "weight_of_unavailable", "-10000.0",
		    "nova's setting, accepted: such a host ranks below every reporting host"),
	CFG_ROW_STR("openstack", "listen", "",
		    "OpenStack-compatible REST API on PORT (127.0.0.1) or ADDRESS:PORT "
		    "(empty: off; docs/openstack-api.md)"),
	CFG_ROW_STR("openstack", "public_url", "",
		    "the base URL the service catalog gives clients (empty: http(s)://LISTEN)"),
	CFG_ROW_STR("openstack", "tls_cert_file", "",
		    "PEM certificate (chain) of the API: with tls_key_file it serves HTTPS only"),
	CFG_ROW_STR("openstack", "tls_key_file", "",
		    "PEM private key of tls_cert_file (readable by hvcentral alone)"),
	CFG_ROW_STR("openstack", "policy_file", "",
		    "nova-style policy file (JSON or YAML) for the rules hvcentral enforces "
		    "(empty: nova's defaults; re-read on reload)"),
	CFG_ROW_INT("openstack", "max_body_kb", "1024", 1, 65536,
		    "largest request body accepted (larger: 413)"),
	CFG_ROW_INT("openstack", "max_image_mb", "16384", 1, 1048576,
		    "largest image data accepted by PUT /v2/images/ID/file (larger: 413)"),
	CFG_ROW_INT("openstack", "token_ttl", "3600", 1, 604800,
		    "seconds an identity token stays valid (keystone's [token] expiration)"),
	CFG_ROW_STR("openstack", "console_base_url", "",
		    "base of the console URLs handed to clients (empty: public_url)"),
	CFG_ROW_INT("openstack", "console_token_ttl", "600", 1, 86400,
		    "seconds a console token stays usable (it is also used up by one connection)"),
	CFG_ROW_STR("openstack", "novnc_dir", "/usr/share/novnc",
		    "noVNC's pages, served at the API's root (empty: none)"),
	{0},
};

bool
central_api_endpoint_local(const char *ep)
{
	static const char *const local[] = {"tcp://127.", "tcp://localhost:", "tcp://[::1]:", NULL};
	if (strncmp(ep, "ipc://", 6) == 0 || strncmp(ep, "inproc://", 9) == 0)
		return true;
	for (int i = 0; local[i]; i++)
		if (strncmp(ep, local[i], strlen(local[i])) == 0)
			return true;
	return false;
}

int
central_config_load(const char *path, struct cfg **ret, struct cfg_diags *diags)
{
	const char *main_path = path ? path : CENTRAL_CONFIG_DEFAULT_PATH;
	char dropin[4096];
	snprintf(dropin, sizeof dropin, "%s.d", main_path);
	/* The checks below run even when a value was refused, so a file's errors come at once. */
	int r = cfg_load_partial(central_config_schema, main_path, path == NULL, dropin, ret,
				 diags);
	if (!*ret)
		return r;
	const struct cfg *c = *ret;
	const char *ep = cfg_get_str(c, "agents", "endpoint");
	if (strncmp(ep, "tcp://", 6) != 0 && strncmp(ep, "ipc://", 6) != 0)
		cfg_diag_key(diags, c, "agents", "endpoint",
			     "not a ZeroMQ endpoint (allowed: tcp://ADDR:PORT, ipc://PATH)");
	ep = cfg_get_str(c, "api", "endpoint");
	if (*ep && strncmp(ep, "ipc://", 6) != 0 && strncmp(ep, "tcp://", 6) != 0)
		cfg_diag_key(diags, c, "api", "endpoint",
			     "not a ZeroMQ endpoint (allowed: ipc://PATH, tcp://127.0.0.1:PORT)");
	if (*ep && !central_api_endpoint_local(ep) && cfg_value_ok(c, "api", "allow_remote") &&
	    !cfg_get_bool(c, "api", "allow_remote"))
		cfg_diag_key(diags, c, "api", "endpoint",
			     "listens beyond this machine, and the API has no authentication "
			     "(allowed: ipc://PATH, tcp://127.0.0.1:PORT, tcp://[::1]:PORT; "
			     "[api] allow_remote = true accepts the risk)");
	if (cfg_value_ok(c, "agents", "suspect_after") && cfg_value_ok(c, "agents", "down_after") &&
	    cfg_get_int(c, "agents", "suspect_after") > cfg_get_int(c, "agents", "down_after"))
		cfg_diag_key(diags, c, "agents", "suspect_after",
			     "larger than down_after (allowed: up to down_after)");
	if (r < 0 || (diags && diags->n)) {
		cfg_free(*ret);
		*ret = NULL;
		return r < 0 ? r : -EINVAL;
	}
	return 0;
}
