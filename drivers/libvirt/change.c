/* change.c - the ops of the libvirt driver that change an instance's definition: resize
 * (confirm, revert), rebuild, rescue (unrescue), and snapshot and root_disk, which read the
 * root disk the definition names.
 *
 * Resize, rebuild and rescue build and check the new definition before the guest is
 * touched, then stop the guest and redefine it. What must survive an agent restart lives in
 * the instance directory, instances_path/<uuid>/: resize.xml and disk.resize (a resize not
 * yet confirmed: the old definition and root disk), unrescue.xml and disk.rescue (rescued:
 * the definition to go back to and the rescue disk); their presence is the state.
 * Never logs; never passes a request string to a shell. */
#include "lv-priv.h"
#include "disk.h"
#include "domxml.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libvirt/libvirt.h>

/* ---------------------------------------------------------------- state files */

static int
write_file(const char *path, const char *text, struct hv_error *err)
{
	char tmp[PATH_MAX];
	size_t len = strlen(text);
	int fd;

	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return hv_error_set(err, -errno, "instances_path", "cannot write %s: %s", tmp,
				    strerror(errno));
	if (write(fd, text, len) != (ssize_t)len || fsync(fd) < 0) {
		int e = errno ? errno : EIO;
		close(fd);
		unlink(tmp);
		return hv_error_set(err, -e, "instances_path", "cannot write %s: %s", tmp,
				    strerror(e));
	}
	close(fd);
	if (rename(tmp, path) < 0)
		return hv_error_set(err, -errno, "instances_path", "cannot rename %s: %s", tmp,
				    strerror(errno));
	return 0;
}

static int
read_file(const char *path, char **ret, struct hv_error *err)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t size = 0;
	FILE *m;

	if (!f)
		return hv_error_set(err, -errno, "instances_path", "cannot read %s: %s", path,
				    strerror(errno));
	m = open_memstream(&buf, &size);
	for (int ch; (ch = fgetc(f)) != EOF;)
		fputc(ch, m);
	fclose(f);
	fclose(m);
	*ret = buf;
	return 0;
}

/* ---------------------------------------------------------------- resize and rebuild */

/* Shared by resize, rebuild and rescue: reads the current definition, stops the domain. */
static int
prepare_change(struct hvd_host *h, virConnectPtr vc, virDomainPtr dom, char **ret_xml,
	       struct domxml_facts *facts, bool *was_running, struct hv_error *err)
{
	int r;

	*was_running = virDomainIsActive(dom) == 1;
	if (!(*ret_xml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE)))
		return conn_error(h->conn, vc, err, "uuid", "read definition");
	if ((r = domxml_read_facts(*ret_xml, facts, err)) < 0)
		return r;
	if (virDomainHasManagedSaveImage(dom, 0) == 1)
		virDomainManagedSaveRemove(dom, 0);
	return lv_stop_domain(h, vc, dom, h->shutdown_timeout, err);
}

/* What resize and rebuild do first: find the instance's files and domain, refuse while a
 * resize or rescue is pending, and keep the serial port the guest already has. On success
 * the caller owns *ret_dom (lv_dom_put). */
static int
redefine_begin(struct hvd_host *h, const char *uuid, struct lv_inst_files *f, virConnectPtr *ret_vc,
	       virDomainPtr *ret_dom, uint32_t *ret_port, struct hv_error *err)
{
	struct domxml_facts facts;
	char *xml;
	int r;

	*ret_port = 0;
	if ((r = lv_files_of(h, uuid, f, err)) < 0 ||
	    (r = lv_dom_get(h, uuid, ret_vc, ret_dom, err)) < 0)
		return r;
	if (lv_inst_has(h, uuid, "resize.xml") || lv_inst_has(h, uuid, "unrescue.xml")) {
		lv_dom_put(*ret_vc, *ret_dom);
		return hv_error_set(err, -EBUSY, "uuid",
				    "instance %s has a resize or rescue in progress", uuid);
	}
	if ((xml = virDomainGetXMLDesc(*ret_dom, VIR_DOMAIN_XML_INACTIVE)) &&
	    domxml_read_facts(xml, &facts, NULL) == 0)
		*ret_port = facts.serial_port;
	free(xml);
	return 0;
}

int
lv_resize(struct hvd_host *h, const struct hvd_instance_spec *spec, struct hv_error *err)
{
	struct lv_inst_files f;
	struct domxml_facts facts;
	virConnectPtr vc;
	virDomainPtr dom, nd;
	char *old = NULL, *xml = NULL, path[PATH_MAX], backup[PATH_MAX];
	uint32_t port = 0;
	bool was_running;
	int r;

	if ((r = redefine_begin(h, spec->uuid, &f, &vc, &dom, &port, err)) < 0)
		return r;
	/* Everything about the new flavor is checked before the guest is touched. */
	if ((r = lv_build_xml(h, vc, spec, &f, port, &xml, &port, err)) < 0)
		goto out;
	if (spec->flavor.root_gb) {
		uint64_t cur;
		if ((r = disk_virtual_size(f.root, &cur, err)) < 0)
			goto out;
		if (spec->flavor.root_gb << 30 < cur) {
			r = hv_error_set(err, -EINVAL, "flavor.root_gb",
					 "root_gb=%" PRIu64
					 " is smaller than the current disk: disks only grow",
					 spec->flavor.root_gb);
			goto out;
		}
	}
	if ((r = prepare_change(h, vc, dom, &old, &facts, &was_running, err)) < 0)
		goto out;
	lv_inst_path(h, spec->uuid, "resize.xml", path, sizeof path);
	lv_inst_path(h, spec->uuid, "disk.resize", backup, sizeof backup);
	if ((r = write_file(path, old, err)) < 0)
		goto out;
	if ((r = disk_copy(f.root, backup, err)) < 0 ||
	    (spec->flavor.root_gb && (r = disk_grow(f.root, spec->flavor.root_gb, err)) < 0) ||
	    (r = lv_make_disks(&(struct hvd_instance_spec){.struct_size = sizeof *spec,
							   .existing_disk_path = f.root,
							   .flavor = spec->flavor},
			       &f, err)) < 0)
		goto undo;
	if (!(nd = virDomainDefineXML(vc, xml))) {
		r = conn_error(h->conn, vc, err, "flavor", "define");
		goto undo;
	}
	virDomainFree(nd);
	if (was_running && virDomainCreate(dom) < 0)
		r = conn_error(h->conn, vc, err, "flavor", "start");
	goto out;
undo:
	rename(backup, f.root);
	unlink(path);
	if ((nd = virDomainDefineXML(vc, old)))
		virDomainFree(nd);
	if (was_running)
		virDomainCreate(dom);
out:
	free(old);
	free(xml);
	lv_dom_put(vc, dom);
	return r;
}

int
lv_confirm_resize(struct hvd_host *h, const char *uuid, struct hv_error *err)
{
	int r;

	if ((r = lv_check_uuid(uuid, err)) < 0)
		return r;
	if (!lv_inst_has(h, uuid, "resize.xml"))
		return hv_error_set(err, -EBUSY, "uuid", "instance %s has no resize to confirm",
				    uuid);
	lv_inst_unlink(h, uuid, "disk.resize");
	lv_inst_unlink(h, uuid, "resize.xml");
	return 0;
}

int
lv_revert_resize(struct hvd_host *h, const char *uuid, struct hv_error *err)
{
	virConnectPtr vc;
	virDomainPtr dom, nd;
	char path[PATH_MAX], backup[PATH_MAX], root[PATH_MAX], *old = NULL;
	bool was_running;
	int r = lv_dom_get(h, uuid, &vc, &dom, err);

	if (r < 0)
		return r;
	lv_inst_path(h, uuid, "resize.xml", path, sizeof path);
	lv_inst_path(h, uuid, "disk.resize", backup, sizeof backup);
	lv_inst_path(h, uuid, "disk", root, sizeof root);
	if (access(path, F_OK) != 0) {
		r = hv_error_set(err, -EBUSY, "uuid", "instance %s has no resize to revert", uuid);
		goto out;
	}
	if ((r = read_file(path, &old, err)) < 0)
		goto out;
	was_running = virDomainIsActive(dom) == 1;
	if (virDomainHasManagedSaveImage(dom, 0) == 1)
		virDomainManagedSaveRemove(dom, 0);
	if ((r = lv_stop_domain(h, vc, dom, 0, err)) < 0)
		goto out;
	if (access(backup, F_OK) == 0 && rename(backup, root) < 0) {
		r = hv_error_set(err, -errno, "uuid", "cannot restore the root disk: %s",
				 strerror(errno));
		goto out;
	}
	if (!(nd = virDomainDefineXML(vc, old))) {
		r = conn_error(h->conn, vc, err, "uuid", "define");
		goto out;
	}
	virDomainFree(nd);
	unlink(path);
	if (was_running && virDomainCreate(dom) < 0)
		r = conn_error(h->conn, vc, err, "uuid", "start");
out:
	free(old);
	lv_dom_put(vc, dom);
	return r;
}

int
lv_rebuild(struct hvd_host *h, const struct hvd_instance_spec *spec, struct hv_error *err)
{
	struct lv_inst_files f;
	struct domxml_facts facts;
	virConnectPtr vc;
	virDomainPtr dom, nd;
	char *old = NULL, *xml = NULL;
	uint32_t port = 0;
	bool was_running;
	int r;

	if ((r = redefine_begin(h, spec->uuid, &f, &vc, &dom, &port, err)) < 0)
		return r;
	if (!spec->image.path) {
		r = hv_error_set(err, -EINVAL, "image.path", "the image has no file in the store");
		goto out;
	}
	{
		struct hvd_instance_spec s = *spec;
		s.existing_disk_path = NULL;
		if ((r = lv_build_xml(h, vc, &s, &f, port, &xml, &port, err)) < 0)
			goto out;
	}
	if ((r = prepare_change(h, vc, dom, &old, &facts, &was_running, err)) < 0)
		goto out;
	{
		char fresh[PATH_MAX + 8];
		snprintf(fresh, sizeof fresh, "%s.new", f.root);
		unlink(fresh);
		if ((r = disk_overlay(fresh, spec->image.path, spec->image.format,
				      spec->flavor.root_gb, err)) < 0)
			goto out;
		if (rename(fresh, f.root) < 0) {
			r = hv_error_set(err, -errno, "instances_path",
					 "cannot replace the root disk: %s", strerror(errno));
			unlink(fresh);
			goto out;
		}
	}
	if (!(nd = virDomainDefineXML(vc, xml))) {
		r = conn_error(h->conn, vc, err, "spec", "define");
		goto out;
	}
	virDomainFree(nd);
	if ((spec->power_on || was_running) && virDomainCreate(dom) < 0)
		r = conn_error(h->conn, vc, err, "spec", "start");
out:
	free(old);
	free(xml);
	lv_dom_put(vc, dom);
	return r;
}

/* ---------------------------------------------------------------- rescue */

int
lv_rescue(struct hvd_host *h, const char *uuid, const struct hvd_image *rescue_image,
	  struct hv_error *err)
{
	virConnectPtr vc;
	virDomainPtr dom, nd;
	struct domxml_facts facts;
	char *old = NULL, *xml = NULL, saved[PATH_MAX], disk[PATH_MAX];
	bool was_running;
	int r = lv_dom_get(h, uuid, &vc, &dom, err);

	if (r < 0)
		return r;
	lv_inst_path(h, uuid, "unrescue.xml", saved, sizeof saved);
	lv_inst_path(h, uuid, "disk.rescue", disk, sizeof disk);
	if (access(saved, F_OK) == 0 || lv_inst_has(h, uuid, "resize.xml")) {
		r = hv_error_set(err, -EBUSY, "uuid",
				 "instance %s is rescued or has a resize pending", uuid);
		goto out;
	}
	if (!rescue_image || !rescue_image->path || !rescue_image->format) {
		r = hv_error_set(err, -EINVAL, "rescue_image.path",
				 "the rescue image has no file in the store");
		goto out;
	}
	if (!(old = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE))) {
		r = conn_error(h->conn, vc, err, "uuid", "read definition");
		goto out;
	}
	if ((r = domxml_rescue(old, disk, rescue_image, &xml, err)) < 0)
		goto out;
	free(old);
	old = NULL;
	if ((r = prepare_change(h, vc, dom, &old, &facts, &was_running, err)) < 0)
		goto out;
	unlink(disk);
	if ((r = disk_overlay(disk, rescue_image->path, rescue_image->format, 0, err)) < 0 ||
	    (r = write_file(saved, old, err)) < 0)
		goto out;
	if (!(nd = virDomainDefineXML(vc, xml))) {
		r = conn_error(h->conn, vc, err, "rescue_image", "define");
		unlink(saved);
		goto out;
	}
	virDomainFree(nd);
	if (virDomainCreate(dom) < 0)
		r = conn_error(h->conn, vc, err, "rescue_image", "start");
out:
	free(old);
	free(xml);
	lv_dom_put(vc, dom);
	return r;
}

int
lv_unrescue(struct hvd_host *h, const char *uuid, struct hv_error *err)
{
	virConnectPtr vc;
	virDomainPtr dom, nd;
	char *old = NULL, saved[PATH_MAX];
	int r = lv_dom_get(h, uuid, &vc, &dom, err);

	if (r < 0)
		return r;
	lv_inst_path(h, uuid, "unrescue.xml", saved, sizeof saved);
	if (access(saved, F_OK) != 0) {
		r = hv_error_set(err, -EBUSY, "uuid", "instance %s is not rescued", uuid);
		goto out;
	}
	if ((r = read_file(saved, &old, err)) < 0)
		goto out;
	if (virDomainHasManagedSaveImage(dom, 0) == 1)
		virDomainManagedSaveRemove(dom, 0);
	if ((r = lv_stop_domain(h, vc, dom, 0, err)) < 0)
		goto out;
	if (!(nd = virDomainDefineXML(vc, old))) {
		r = conn_error(h->conn, vc, err, "uuid", "define");
		goto out;
	}
	virDomainFree(nd);
	unlink(saved);
	lv_inst_unlink(h, uuid, "disk.rescue");
	if (virDomainCreate(dom) < 0)
		r = conn_error(h->conn, vc, err, "uuid", "start");
out:
	free(old);
	lv_dom_put(vc, dom);
	return r;
}

/* ---------------------------------------------------------------- the root disk */

/* The root disk as the domain's definition names it: the qcow2 overlay in the instance
 * directory, or the existing disk of an evacuated instance with its recorded format. */
int
lv_root_disk(struct hvd_host *h, const char *uuid, char **ret_path, char **ret_format,
	     struct hv_error *err)
{
	virConnectPtr vc;
	virDomainPtr dom;
	struct domxml_facts facts;
	char *xml = NULL;
	int r;

	*ret_path = *ret_format = NULL;
	if ((r = lv_dom_get(h, uuid, &vc, &dom, err)) < 0)
		return r;
	if (!(xml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE))) {
		r = conn_error(h->conn, vc, err, "uuid", "read definition");
		goto out;
	}
	if ((r = domxml_read_facts(xml, &facts, err)) < 0)
		goto out;
	if (!facts.root_disk[0]) {
		r = hv_error_set(err, -ENOENT, "uuid", "instance %s has no root disk", uuid);
		goto out;
	}
	*ret_path = strdup(facts.root_disk);
	*ret_format = strdup(facts.root_format[0] ? facts.root_format : "qcow2");
	if (!*ret_path || !*ret_format) {
		free(*ret_path);
		free(*ret_format);
		*ret_path = *ret_format = NULL;
		r = hv_error_set(err, -ENOMEM, "", "out of memory");
	}
out:
	free(xml);
	lv_dom_put(vc, dom);
	return r;
}
