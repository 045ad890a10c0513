/* fake_state.c - the fake host's state as text, for [fake] state_file: what a real
 * hypervisor keeps across an agent crash (the defined guests, their power states, flavors
 * and images) plus the per-op call counters tests read. Pure: text in, text out; the
 * driver does the file. Must never do I/O, and must never load half a file: a bad line
 * leaves the host untouched. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_model-priv.h"
#include "ids.h"
#include "vec.h"

#define FAKE_STATE_MAGIC "HVFAKE-STATE 1"

struct text {
	char *s;
	size_t len, cap;
	int rc;
};

static void __attribute__((format(printf, 2, 3))) text_add(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->rc < 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || HV_GROW(t->s, t->cap, t->len + (size_t)n + 1) < 0) {
		t->rc = -ENOMEM;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(t->s + t->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	t->len += (size_t)n;
}

/* Names may hold spaces and any printable byte: every byte that would split a field is
 * written as %XX, so one line stays one instance. */
static void
text_word(struct text *t, const char *s)
{
	if (!*s) {
		text_add(t, " -");
		return;
	}
	text_add(t, " ");
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c <= ' ' || c == '%' || c == ',' || c == '-' || c >= 0x7f)
			text_add(t, "%%%02X", c);
		else
			text_add(t, "%c", c);
	}
}

static void
text_flavor(struct text *t, const struct fake_flavor *f)
{
	text_word(t, f->name);
	text_add(t, " %" PRIu32 " %" PRIu64 " %" PRIu64, f->vcpus, f->ram_mb, f->disk_gb);
}

/* The state a guest in the middle of a soft reboot is in for the hypervisor: the reboot
 * finishes without the agent, as QEMU's does. */
static enum fake_state
fake_settled_state(const struct fake_instance *i)
{
	if (!i->in_transit)
		return i->state;
	return fake_transition(i->transit_action, i->transit_from)->next;
}

int
fake_host_save(const struct fake_host *h, char **ret_text)
{
	struct text t = {0};

	text_add(&t, FAKE_STATE_MAGIC "\nnext_index %" PRIu32 "\nrng %" PRIu64 "\n", h->next_index,
		 h->rng);
	for (size_t k = 0; k < FAKE_N_OPS; k++)
		if (h->calls[k])
			text_add(&t, "calls %s %" PRIu64 "\n", fake_ops[k], h->calls[k]);
	for (size_t k = 0; k < h->n_inst; k++) {
		const struct fake_instance *i = h->inst[k];

		text_add(&t, "instance %s %d", i->uuid, (int)fake_settled_state(i));
		text_word(&t, i->hostname);
		text_word(&t, i->image_id);
		text_word(&t, i->rescue_image_id);
		text_add(&t, " %d %d %d %zu %" PRIu32 " %" PRIu32, i->guest_agent,
			 i->require_quiesce, i->config_drive, i->n_ports, i->cell, i->index);
		text_flavor(&t, &i->flavor);
		text_flavor(&t, &i->old_flavor);
		text_add(&t, "\n");
	}
	if (t.rc < 0) {
		free(t.s);
		return t.rc;
	}
	*ret_text = t.s;
	return 0;
}

/* Splits line into words at spaces (the line is modified); more than max words count as
 * max + 1, so a longer line never passes for a shorter one. */
static size_t
split(char *line, char **w, size_t max)
{
	size_t n = 0;
	char *save = NULL;

	for (char *p = strtok_r(line, " ", &save); p; p = strtok_r(NULL, " ", &save)) {
		if (n == max)
			return max + 1;
		w[n++] = p;
	}
	return n;
}

static int
hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Decodes a word written by text_word into buf; false when it does not fit or is bad. */
static bool
unword(const char *w, char *buf, size_t size)
{
	size_t n = 0;

	if (strcmp(w, "-") == 0) {
		buf[0] = '\0';
		return true;
	}
	for (; *w; w++) {
		int c = (unsigned char)*w;

		if (c == '%') {
			int hi = hexval(w[1]), lo = hi < 0 ? -1 : hexval(w[2]);

			if (lo < 0 || (c = hi * 16 + lo) == 0)
				return false;
			w += 2;
		}
		if (n + 1 >= size)
			return false;
		buf[n++] = (char)c;
	}
	buf[n] = '\0';
	return true;
}

static bool
num(const char *w, uint64_t max, uint64_t *ret)
{
	char *end;

	errno = 0;
	if (*w < '0' || *w > '9')
		return false;
	*ret = strtoull(w, &end, 10);
	return !*end && !errno && *ret <= max;
}

static bool
flavor_of(char **w, struct fake_flavor *f)
{
	uint64_t vcpus, ram, disk;

	if (!unword(w[0], f->name, sizeof f->name) || !num(w[1], UINT32_MAX, &vcpus) ||
	    !num(w[2], UINT64_MAX, &ram) || !num(w[3], UINT64_MAX, &disk))
		return false;
	f->vcpus = (uint32_t)vcpus;
	f->ram_mb = ram;
	f->disk_gb = disk;
	return true;
}

#define INSTANCE_WORDS 20

static struct fake_instance *
instance_of(char **w, size_t n)
{
	struct fake_instance *i = calloc(1, sizeof *i);
	uint64_t state, agent, quiesce, drive, ports, cell, index;

	if (!i)
		return NULL;
	if (n != INSTANCE_WORDS || !hv_uuid_valid(w[1]) || !num(w[2], FAKE_N_STATES - 1, &state) ||
	    !unword(w[3], i->hostname, sizeof i->hostname) ||
	    !unword(w[4], i->image_id, sizeof i->image_id) ||
	    !unword(w[5], i->rescue_image_id, sizeof i->rescue_image_id) || !num(w[6], 1, &agent) ||
	    !num(w[7], 1, &quiesce) || !num(w[8], 1, &drive) || !num(w[9], 4096, &ports) ||
	    !num(w[10], HVD_MAX_NUMA_CELLS - 1, &cell) || !num(w[11], UINT32_MAX, &index) ||
	    !flavor_of(w + 12, &i->flavor) || !flavor_of(w + 16, &i->old_flavor) ||
	    i->flavor.vcpus == 0) {
		free(i);
		return NULL;
	}
	memcpy(i->uuid, w[1], sizeof i->uuid);
	i->state = (enum fake_state)state;
	i->guest_agent = agent;
	i->require_quiesce = quiesce;
	i->config_drive = drive;
	i->n_ports = (size_t)ports;
	i->cell = (uint32_t)cell;
	i->index = (uint32_t)index;
	return i;
}

/* One line into the new state; false when it is not a line fake_host_save writes. */
static bool
load_line(struct fake_host *n, char *line)
{
	char *w[INSTANCE_WORDS + 1];
	size_t nw = split(line, w, INSTANCE_WORDS);
	uint64_t v;

	if (nw == 2 && strcmp(w[0], "next_index") == 0 && num(w[1], UINT32_MAX, &v)) {
		n->next_index = (uint32_t)v;
		return true;
	}
	if (nw == 2 && strcmp(w[0], "rng") == 0 && num(w[1], UINT64_MAX, &v)) {
		n->rng = v;
		return true;
	}
	if (nw == 3 && strcmp(w[0], "calls") == 0 && num(w[2], UINT64_MAX, &v)) {
		for (size_t k = 0; k < FAKE_N_OPS; k++)
			if (strcmp(fake_ops[k], w[1]) == 0) {
				n->calls[k] = v;
				return true;
			}
		return false;
	}
	if (nw >= 1 && strcmp(w[0], "instance") == 0) {
		struct fake_instance *i = instance_of(w, nw);

		for (size_t k = 0; i && k < n->n_inst; k++)
			if (strcmp(n->inst[k]->uuid, i->uuid) == 0) {
				free(i);
				return false; /* one guest, one definition */
			}
		if (!i || HV_GROW(n->inst, n->cap_inst, n->n_inst + 1) < 0) {
			free(i);
			return false;
		}
		n->inst[n->n_inst++] = i;
		return true;
	}
	return false;
}

int
fake_host_load(struct fake_host *h, const char *text, uint64_t now_ns, struct hv_error *err)
{
	struct fake_host n = {.rng = h->rng};
	char *copy = strdup(text), *save = NULL, *line;
	size_t lineno = 1;
	int r = 0;

	if (!copy)
		return hv_error_set(err, -ENOMEM, "", "fake: out of memory");
	line = strtok_r(copy, "\n", &save);
	if (!line || strcmp(line, FAKE_STATE_MAGIC) != 0)
		r = hv_error_set(err, -EINVAL, "state_file",
				 "fake: state file does not start with '" FAKE_STATE_MAGIC "'");
	while (r == 0 && (line = strtok_r(NULL, "\n", &save))) {
		lineno++;
		if (!load_line(&n, line))
			r = hv_error_set(err, -EINVAL, "state_file",
					 "fake: state file line %zu is not a state line", lineno);
	}
	free(copy);
	if (r < 0) {
		for (size_t k = 0; k < n.n_inst; k++)
			free(n.inst[k]);
		free(n.inst);
		return r;
	}
	for (size_t k = 0; k < h->n_inst; k++) {
		free(h->inst[k]->log);
		free(h->inst[k]);
	}
	free(h->inst);
	h->inst = n.inst;
	h->n_inst = n.n_inst;
	h->cap_inst = n.cap_inst;
	h->next_index = n.next_index;
	h->rng = n.rng;
	memcpy(h->calls, n.calls, sizeof h->calls);
	h->busy_vcpus = 0;
	for (size_t k = 0; k < h->n_inst; k++) {
		struct fake_instance *i = h->inst[k];

		/* the guests ran on while nobody looked: their clocks restart from here */
		i->run_since_ns = now_ns;
		if (fake_state_power(i->state) == HVD_POWER_RUNNING)
			h->busy_vcpus += i->flavor.vcpus;
	}
	return 0;
}
