/* cmd_user.c - `hv user`: the users of the OpenStack-compatible API, each with one role
 * (admin, member or reader) on a project. Parses a verb's words and prints the answer; the
 * rules are hvcentral's. A password is read from a file (never from the command line, where
 * ps(1) shows it), sent once and wiped; it is never printed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "table.h"

const char user_help[] =
	"Usage: hv user list\n"
	"       hv user show NAME\n"
	"       hv user create NAME --project PROJECT --role admin|member|reader\n"
	"                      --password-file FILE\n"
	"       hv user delete NAME...\n"
	"\n"
	"Users log in to hvcentral's OpenStack-compatible API (docs/openstack-api.md) with a\n"
	"password and get a token scoped to a project, where their role decides what they may\n"
	"do: admin everything, member its project's servers and key pairs, reader only reads.\n"
	"The password is the first line of FILE (8 characters or more); hvcentral keeps only\n"
	"its argon2id hash. Deleting a user revokes its tokens.\n"
	"\n"
	"Examples:\n"
	"  hv user create demo --project demo --role member --password-file ~/demo.pw\n"
	"  hv user list\n"
	"  hv user delete demo\n";

static void
print_users(json_t *arr)
{
	static const char *const hdr[] = {"Name", "ID", "Roles"};
	struct tbl *t = tbl_new(3, hdr);
	size_t i, j;
	json_t *u, *ro;
	json_array_foreach (arr, i, u) {
		char roles[512] = "";
		size_t n = 0;
		json_array_foreach (json_object_get(u, "roles"), j, ro) {
			int w = snprintf(roles + n, sizeof roles - n, "%s%s@%s", n ? ", " : "",
					 s_or(ro, "role", ""), s_or(ro, "project", "?"));
			if (w < 0 || (size_t)w >= sizeof roles - n)
				break;
			n += (size_t)w;
		}
		const char *row[] = {s_or(u, "name", ""), s_or(u, "id", ""), roles};
		tbl_add(t, row);
	}
	tbl_print(t, stdout);
	tbl_free(t);
}

/* The password: FILE's first line, without its newline. */
static int
read_password(const char *path, json_t *q)
{
	char *text = NULL;
	size_t len = 0;
	if (read_small_file("--password-file", path, 4096, &text, &len) < 0)
		return -1;
	text[strcspn(text, "\r\n")] = '\0';
	json_object_set_new(q, "password", json_string(text));
	explicit_bzero(text, len);
	free(text);
	if (!json_object_get(q, "password")) {
		fprintf(stderr, "hv: --password-file: %s is not UTF-8 text\n", path);
		return -1;
	}
	return 0;
}

static int
user_create(struct ctx *x, json_t *q)
{
	struct args *a = x->a;
	json_t *res = NULL;
	if (!a->project || !a->role || !a->password_file)
		return usage_error("user create", "%s",
				   "needs --project, --role and --password-file");
	json_object_set_new(q, "name", json_string(a->argv[2]));
	json_object_set_new(q, "project", json_string(a->project));
	json_object_set_new(q, "role", json_string(a->role));
	if (read_password(a->password_file, q) < 0)
		return EXIT_USAGE;
	int r = call(x, "user.create", q, false, &res);
	json_t *pw = json_object_get(q, "password");
	explicit_bzero((char *)json_string_value(pw), json_string_length(pw));
	return print_result(a, r, res);
}

int
cmd_user(struct ctx *x)
{
	struct args *a = x->a;
	const char *verb = a->argv[1];
	json_t *res = NULL, *q = json_object();
	int r;
	if (strcmp(verb, "list") == 0) {
		if (check_opts(a, 0) < 0 || need_args(a, 0, "no arguments") < 0)
			r = EXIT_USAGE;
		else if ((r = call(x, "user.list", q, false, &res)) == EXIT_OK)
			a->json ? print_json(res) : print_users(res);
		json_decref(res);
	} else if (strcmp(verb, "show") == 0) {
		if (check_opts(a, 0) < 0 || need_args(a, 1, "NAME") < 0) {
			r = EXIT_USAGE;
		} else {
			json_object_set_new(q, "user", json_string(a->argv[2]));
			r = print_result(a, call(x, "user.show", q, false, &res), res);
		}
	} else if (strcmp(verb, "create") == 0) {
		if (check_opts(a, O_PROJECT | O_ROLE | O_PASSWORD_FILE) < 0 ||
		    need_args(a, 1, "NAME") < 0)
			r = EXIT_USAGE;
		else
			r = user_create(x, q);
	} else if (strcmp(verb, "delete") == 0) {
		r = check_opts(a, 0) < 0 || a->argc < 3 ? EXIT_USAGE : EXIT_OK;
		if (r == EXIT_USAGE && a->argc < 3)
			fprintf(stderr, "hv: user delete: expected NAME... (see hv user --help)\n");
		for (int i = 2; r != EXIT_USAGE && i < a->argc; i++) {
			json_object_set_new(q, "user", json_string(a->argv[i]));
			int ri = call(x, "user.delete", q, false, NULL);
			r = ri != EXIT_OK ? ri : r;
		}
	} else {
		r = usage_error("user", "'%s' is not list, show, create or delete", verb);
	}
	json_decref(q);
	return r;
}
