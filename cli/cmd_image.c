/* cmd_image.c - `hv image`: the image catalog of hvcentral. create registers an image and
 * streams its file in chunks (the API socket takes at most 1 MiB per message), then asks
 * hvcentral to compare the SHA-256 computed here with its own; upload resumes an image
 * whose upload stopped. Parses a verb's words and prints the answer; the rules are
 * hvcentral's. Must never read a whole image into memory. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "base64.h"
#include "cmd.h"
#include "proto.h"
#include "table.h"

const char image_help[] =
	"Usage: hv image list\n"
	"       hv image show IMAGE\n"
	"       hv image create NAME --file FILE --disk-format qcow2|raw [--property K=V]...\n"
	"                       [--min-disk GB] [--min-ram MB] [--public | --private]\n"
	"                       [--protected] [--project PROJECT] [--id UUID]\n"
	"       hv image upload IMAGE --file FILE\n"
	"       hv image set IMAGE [--name NAME] [--property K=V]... [--min-disk GB]\n"
	"                       [--min-ram MB] [--public | --private] [--protected | "
	"--unprotected]\n"
	"       hv image delete IMAGE...\n"
	"       hv image save IMAGE --file FILE\n"
	"\n"
	"IMAGE is an image's id or its name. create uploads FILE to hvcentral in chunks of\n"
	"512 KiB; the image becomes active only when the SHA-256 hvcentral computes equals the\n"
	"one computed here (a mismatch discards the upload). An upload that stopped half-way\n"
	"(the image stays queued or saving) is resumed with `hv image upload IMAGE --file FILE`\n"
	"from the bytes hvcentral has. The disk format is what you say, never probed. Progress\n"
	"goes to stderr when it is a terminal. `hv server create --image NAME` boots from the\n"
	"catalog: a host without the image fetches it from hvcentral and checks its SHA-256.\n"
	"save downloads an active image to FILE (replaced) and checks its SHA-256.\n"
	"A protected image cannot be deleted. Properties are the guest's hints\n"
	"(hw_qemu_guest_agent=yes, os_require_quiesce=yes, hw_rng_model=virtio,\n"
	"hw_video_ram=64, ...).\n"
	"\n"
	"Examples:\n"
	"  hv image create cirros --file cirros-0.6.2-x86_64-disk.img --disk-format qcow2 "
	"--public\n"
	"  hv image create win --file win.raw --disk-format raw --property hw_video_ram=64\n"
	"  hv image list\n"
	"  hv image show cirros -f json\n"
	"  hv image set cirros --property hw_qemu_guest_agent=yes --protected\n"
	"  hv image delete cirros\n";

static void
print_images(json_t *arr)
{
	static const char *const hdr[] = {"ID", "Name", "Status", "Format", "Size"};
	struct tbl *t = tbl_new(5, hdr);
	size_t i;
	json_t *im;
	json_array_foreach (arr, i, im) {
		char size[32] = "";
		if (json_is_integer(json_object_get(im, "size")))
			snprintf(size, sizeof size, "%lld",
				 (long long)json_integer_value(json_object_get(im, "size")));
		const char *row[] = {s_or(im, "id", ""), s_or(im, "name", ""),
				     s_or(im, "status", ""), s_or(im, "disk_format", ""), size};
		tbl_add(t, row);
	}
	tbl_print(t, stdout);
	tbl_free(t);
}

/* The SHA-256 of the whole file as hex, read in chunks. */
static int
file_sha256(int fd, char ret[65])
{
	unsigned char *buf = malloc(PROTO_IMAGE_CHUNK), digest[crypto_hash_sha256_BYTES];
	crypto_hash_sha256_state st;
	ssize_t n = 0;
	if (!buf)
		return -ENOMEM;
	crypto_hash_sha256_init(&st);
	for (off_t off = 0; (n = pread(fd, buf, PROTO_IMAGE_CHUNK, off)) > 0; off += n)
		crypto_hash_sha256_update(&st, buf, (unsigned long long)n);
	free(buf);
	if (n < 0)
		return -errno;
	crypto_hash_sha256_final(&st, digest);
	for (size_t i = 0; i < sizeof digest; i++)
		snprintf(ret + 2 * i, 3, "%02x", digest[i]);
	return 0;
}

/* Sends the file from offset on, one image.upload per chunk, then image.finish. */
static int
send_file(struct ctx *x, const char *id, int fd, off_t offset, json_t **ret)
{
	struct stat st;
	char sha[65];
	int r = EXIT_OK;
	if (fstat(fd, &st) < 0 || file_sha256(fd, sha) < 0) {
		fprintf(stderr, "hv: --file: cannot read %s: %s\n", x->a->file, strerror(errno));
		return EXIT_USAGE;
	}
	unsigned char *buf = malloc(PROTO_IMAGE_CHUNK);
	bool progress = isatty(2) && st.st_size > 16 * PROTO_IMAGE_CHUNK;
	ssize_t n;
	while (buf && r == EXIT_OK && (n = pread(fd, buf, PROTO_IMAGE_CHUNK, offset)) > 0) {
		char *text = hv_base64_encode(buf, (size_t)n);
		json_t *q = json_pack("{s:s, s:I, s:s}", "image", id, "offset", (json_int_t)offset,
				      "data", text ? text : "");
		free(text);
		r = call(x, "image.upload", q, false, NULL);
		json_decref(q);
		offset += n;
		if (progress)
			fprintf(stderr, "\ruploaded %lld of %lld bytes (%d%%)", (long long)offset,
				(long long)st.st_size, (int)(offset * 100 / st.st_size));
	}
	if (progress)
		fputc('\n', stderr);
	free(buf);
	if (r != EXIT_OK)
		return r;
	json_t *q = json_pack("{s:s, s:s}", "image", id, "sha256", sha);
	r = call(x, "image.finish", q, false, ret);
	json_decref(q);
	return r;
}

static int
open_file(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		fprintf(stderr, "hv: --file: cannot open %s: %s\n", path, strerror(errno));
	return fd;
}

/* The fields create and set share, from the options. */
static void
image_fields(struct args *a, json_t *q)
{
	if (json_object_size(a->props))
		json_object_set(q, "properties", a->props);
	json_t *v;
	if ((v = json_object_get(a->nums, "min_disk")))
		json_object_set(q, "min_disk", v);
	if ((v = json_object_get(a->nums, "min_ram")))
		json_object_set(q, "min_ram", v);
	if (a->is_public || a->is_private)
		json_object_set_new(q, "visibility",
				    json_string(a->is_public ? "public" : "private"));
	if (a->protect || a->unprotect)
		json_object_set_new(q, "protected", json_boolean(a->protect));
}

static int
image_create(struct ctx *x, json_t *q)
{
	struct args *a = x->a;
	json_t *res = NULL;
	if (!a->file || !a->disk_format)
		return usage_error(a->file ? "--disk-format" : "--file", "%s",
				   "is required (see hv image --help)");
	int fd = open_file(a->file);
	if (fd < 0)
		return EXIT_USAGE;
	json_object_set_new(q, "name", json_string(a->argv[2]));
	json_object_set_new(q, "disk_format", json_string(a->disk_format));
	if (a->id)
		json_object_set_new(q, "id", json_string(a->id));
	if (a->project)
		json_object_set_new(q, "project", json_string(a->project));
	image_fields(a, q);
	int r = call(x, "image.create", q, false, &res);
	if (r == EXIT_OK) {
		char id[80];
		snprintf(id, sizeof id, "%s", s_or(res, "id", ""));
		json_decref(res);
		res = NULL;
		r = send_file(x, id, fd, 0, &res);
	}
	close(fd);
	return print_result(a, r, res);
}

static int
image_upload(struct ctx *x)
{
	struct args *a = x->a;
	json_t *res = NULL, *q = json_pack("{s:s}", "image", a->argv[2]);
	if (!a->file) {
		json_decref(q);
		return usage_error("--file", "%s", "is required (see hv image --help)");
	}
	int fd = open_file(a->file);
	int r = fd < 0 ? EXIT_USAGE : call(x, "image.show", q, false, &res);
	json_decref(q);
	if (r == EXIT_OK) {
		char id[80];
		off_t from = (off_t)json_integer_value(json_object_get(res, "uploaded"));
		snprintf(id, sizeof id, "%s", s_or(res, "id", ""));
		json_decref(res);
		res = NULL;
		r = send_file(x, id, fd, from, &res);
	}
	if (fd >= 0)
		close(fd);
	return print_result(a, r, res);
}

/* Downloads the image in chunks into a new file beside path, checks its SHA-256 against the
 * catalog's, then renames it to path. */
static int
image_save(struct ctx *x)
{
	struct args *a = x->a;
	char tmp[4096], want[65] = "", got[65];
	if (!a->file)
		return usage_error("--file", "%s", "is required (see hv image --help)");
	snprintf(tmp, sizeof tmp, "%s.part", a->file);
	int fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "hv: --file: cannot create %s: %s\n", tmp, strerror(errno));
		return EXIT_USAGE;
	}
	int r = EXIT_OK;
	bool eof = false;
	for (int64_t off = 0; r == EXIT_OK && !eof;) {
		json_t *res = NULL,
		       *q = json_pack("{s:s, s:I}", "image", a->argv[2], "offset", (json_int_t)off);
		r = call(x, "image.download", q, false, &res);
		json_decref(q);
		const char *data = s_or(res, "data", "");
		unsigned char *bin = NULL;
		size_t n = 0;
		if (r == EXIT_OK && (hv_base64_decode(data, strlen(data), &bin, &n) < 0 ||
				     pwrite(fd, bin, n, off) != (ssize_t)n)) {
			fprintf(stderr, "hv: --file: cannot write %s\n", tmp);
			r = EXIT_SERVER;
		}
		snprintf(want, sizeof want, "%s", s_or(res, "sha256", ""));
		eof = json_is_true(json_object_get(res, "eof")) || n == 0;
		off += (int64_t)n;
		free(bin);
		json_decref(res);
	}
	if (r == EXIT_OK && (file_sha256(fd, got) < 0 || strcmp(got, want) != 0)) {
		fprintf(stderr, "hv: image save: the data received hashes to %s, not %s\n", got,
			want);
		r = EXIT_SERVER;
	}
	if (r == EXIT_OK && (fsync(fd) < 0 || rename(tmp, a->file) < 0)) {
		fprintf(stderr, "hv: --file: cannot write %s: %s\n", a->file, strerror(errno));
		r = EXIT_SERVER;
	}
	close(fd);
	if (r != EXIT_OK)
		unlink(tmp);
	return r;
}

#define CREATE_OPTS                                                                            \
	(O_FILE | O_DISK_FORMAT | O_PROPERTY | O_MIN_DISK | O_MIN_RAM | O_PUBLIC | O_PRIVATE | \
	 O_PROTECTED | O_PROJECT | O_ID)
#define SET_OPTS                                                                             \
	(O_NAME | O_PROPERTY | O_MIN_DISK | O_MIN_RAM | O_PUBLIC | O_PRIVATE | O_PROTECTED | \
	 O_UNPROTECTED)

int
cmd_image(struct ctx *x)
{
	struct args *a = x->a;
	const char *verb = a->argv[1];
	json_t *res = NULL, *q = json_object();
	int r;
	if ((a->is_public && a->is_private) || (a->protect && a->unprotect)) {
		json_decref(q);
		return usage_error(a->protect ? "--protected" : "--public", "%s",
				   "and its opposite exclude each other");
	}
	if (strcmp(verb, "list") == 0) {
		if (check_opts(a, 0) < 0 || need_args(a, 0, "no arguments") < 0)
			r = EXIT_USAGE;
		else if ((r = call(x, "image.list", q, false, &res)) == EXIT_OK)
			a->json ? print_json(res) : print_images(res);
		json_decref(res);
	} else if (strcmp(verb, "show") == 0) {
		if (check_opts(a, 0) < 0 || need_args(a, 1, "IMAGE") < 0) {
			r = EXIT_USAGE;
		} else {
			json_object_set_new(q, "image", json_string(a->argv[2]));
			r = call(x, "image.show", q, false, &res);
			r = print_result(a, r, res);
		}
	} else if (strcmp(verb, "create") == 0) {
		r = check_opts(a, CREATE_OPTS) < 0 || need_args(a, 1, "NAME") < 0
			    ? EXIT_USAGE
			    : image_create(x, q);
	} else if (strcmp(verb, "upload") == 0) {
		r = check_opts(a, O_FILE) < 0 || need_args(a, 1, "IMAGE") < 0 ? EXIT_USAGE
									      : image_upload(x);
	} else if (strcmp(verb, "save") == 0) {
		r = check_opts(a, O_FILE) < 0 || need_args(a, 1, "IMAGE") < 0 ? EXIT_USAGE
									      : image_save(x);
	} else if (strcmp(verb, "set") == 0) {
		if (check_opts(a, SET_OPTS) < 0 || need_args(a, 1, "IMAGE") < 0) {
			r = EXIT_USAGE;
		} else {
			json_object_set_new(q, "image", json_string(a->argv[2]));
			if (a->name)
				json_object_set_new(q, "name", json_string(a->name));
			image_fields(a, q);
			r = call(x, "image.set", q, false, &res);
			r = print_result(a, r, res);
		}
	} else if (strcmp(verb, "delete") == 0) {
		r = check_opts(a, 0) < 0 || a->argc < 3 ? EXIT_USAGE : EXIT_OK;
		if (r == EXIT_USAGE && a->argc < 3)
			fprintf(stderr,
				"hv: image delete: expected IMAGE... (see hv image --help)\n");
		for (int i = 2; r != EXIT_USAGE && i < a->argc; i++) {
			json_object_set_new(q, "image", json_string(a->argv[i]));
			int ri = call(x, "image.delete", q, false, NULL);
			r = ri != EXIT_OK ? ri : r;
		}
	} else {
		r = usage_error("image",
				"'%s' is not list, show, create, upload, save, set or delete",
				verb);
	}
	json_decref(q);
	return r;
}
