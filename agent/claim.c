/* claim.c - the last word on a placement: before a spawn is accepted, the host checks that
 * it still has room under the limits the controller's scheduler judged it by. The
 * controller saw a report that may be seconds old; meanwhile other spawns may have
 * arrived, or something outside the guests may have taken memory or disk. A refusal here
 * sends the server to another host instead of overcommitting this one. Reads the instance
 * table and the last host sample only; never a driver, never the journal. */
#include "agent-priv.h"

#include <errno.h>
#include <string.h>

static int64_t
flavor_num(const json_t *flavor, const char *key)
{
	return json_integer_value(json_object_get(flavor, key));
}

static int64_t
max64(int64_t a, int64_t b)
{
	return a > b ? a : b;
}

/* unit: " MB", " GB" or "" */
static int
refuse(struct hv_error *err, const char *what, const char *unit, int64_t asked, int64_t used,
       int64_t limit)
{
	long long left = limit > used ? limit - used : 0;
	return hv_error_set(err, -ENOSPC, "body.limits",
			    "claim refused: %s: %lld%s asked, %lld%s left of the limit %lld%s "
			    "(%lld%s in use)",
			    what, (long long)asked, unit, left, unit, (long long)limit, unit,
			    (long long)used, unit);
}

int
agent_claim(const struct agent *a, const struct req *r, struct hv_error *err)
{
	const struct req_limits *l = &r->limits;
	const json_t *f = json_object_get(r->spec, "flavor");
	int64_t vcpus = 0, ram = 0, disk = 0;

	/* what the host's guests hold, as the reports count it */
	for (size_t i = 0; i < a->n_insts; i++) {
		const struct inst *in = a->insts[i];
		if (in->vm == VM_DELETED)
			continue;
		vcpus += in->use.vcpus;
		ram += in->use.ram_mb;
		disk += in->use.disk_gb;
	}
	/* what the host really uses, guests or not, when it was last sampled: the larger
	 * of the two counts (memory or disk taken outside the guests counts too) */
	if (a->have_prev_stats) {
		const struct hvd_host_stats *st = &a->prev_stats;
		int64_t total = (int64_t)a->info.memory_mb, free_mb = (int64_t)st->memory_free_mb;
		ram = max64(ram, total > free_mb ? total - free_mb : 0);
		disk = max64(disk, (int64_t)st->local_gb_used);
	}
	int64_t want_ram = flavor_num(f, "ram_mb"), want_vcpus = flavor_num(f, "vcpus");
	int64_t want_disk = flavor_num(f, "root_gb") + flavor_num(f, "ephemeral_gb");
	if (l->memory_mb && ram + want_ram > l->memory_mb)
		return refuse(err, "memory", " MB", want_ram, ram, l->memory_mb);
	if (l->vcpus && vcpus + want_vcpus > l->vcpus)
		return refuse(err, "vCPUs", "", want_vcpus, vcpus, l->vcpus);
	if (l->disk_gb && disk + want_disk > l->disk_gb)
		return refuse(err, "disk", " GB", want_disk, disk, l->disk_gb);
	return 0;
}
