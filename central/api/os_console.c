/* os_console.c - the remote consoles' side of the REST front's HTTP server: the websocket
 * proxy (a console token, checked and used up by the service layer before anything
 * connects, opens one TCP stream to the host's VNC or serial port, carried in binary
 * frames, as websockify does), and noVNC's static pages at the server's root so a console
 * URL loads in a browser. Each proxied console runs on a thread of its own with bounded
 * buffers; its HTTP handle goes back to the loop's thread to be closed (MHD's calls stay on
 * that thread). The loop asks the service layer every second whether each open console's
 * server is still there on its host, and ends those that are not. Must never log a token
 * (only its log id), nor serve a file outside the pages' folder. */
#include "os-priv.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <microhttpd.h>
#include <sodium.h>

#include "console/token.h"
#include "console/ws.h"
#include "log.h"
#include "vec.h"

enum {
	CHUNK = 65536,              /* bytes read from either side at a time */
	FRAME_MAX = CHUNK,          /* a client frame's largest payload */
	INBUF = FRAME_MAX + 14,     /* one whole frame with its header */
	CONNECT_TIMEOUT_MS = 10000, /* reaching the host's console port */
	SEND_TIMEOUT_MS = 30000,    /* a peer that reads nothing for this long is dropped */
	MAX_PROXIES = 256,          /* consoles open at once (a thread and 130 KiB each) */
	CHECK_EVERY_MS = 1000,      /* how often open consoles are checked against their server */
};

struct proxy;

struct os_console {
	struct svc *svc; /* borrowed: it keeps the tokens */
	char pages[256]; /* noVNC's folder; "" serves none */
	pthread_mutex_t mu;
	struct MHD_UpgradeResponseHandle **done; /* proxies ended, to close on the loop */
	size_t n_done, cap_done;
	struct proxy **open; /* the proxies running (their count is n_open) */
	size_t n_open, cap_open;
	int64_t next_check_ms;
	atomic_bool stop;
};

struct proxy {
	struct os_console *c;
	atomic_bool gone; /* its server was deleted or left its host: the proxy ends */
	struct ctok_target to;
	char log_id[9];
	MHD_socket ws;
	struct MHD_UpgradeResponseHandle *urh;
	unsigned char in[INBUF];
	size_t n_in;
};

int
os_console_new(const struct os_config *cfg, const char *public_url, struct svc *svc,
	       struct os_console **ret, struct hv_error *err)
{
	struct os_console *c = calloc(1, sizeof *c);
	if (!c)
		return hv_error_set(err, -ENOMEM, "", "out of memory");
	const char *base = cfg->console_base_url && *cfg->console_base_url ? cfg->console_base_url
									   : public_url;
	int r = svc_console_serve(svc, base, (int64_t)cfg->console_token_ttl * 1000, err);
	if (r < 0) {
		free(c);
		return r;
	}
	c->svc = svc;
	snprintf(c->pages, sizeof c->pages, "%s", cfg->novnc_dir ? cfg->novnc_dir : "");
	pthread_mutex_init(&c->mu, NULL);
	*ret = c;
	return 0;
}

/* Marks the open consoles whose server was deleted or left its host; their threads close
 * them within 200 ms. */
static void
end_orphans(struct os_console *c)
{
	pthread_mutex_lock(&c->mu); /* a proxy takes it only to leave the list */
	for (size_t i = 0; i < c->n_open; i++) {
		struct proxy *p = c->open[i];
		if (!atomic_load(&p->gone) && !svc_console_alive(c->svc, &p->to)) {
			log_notice("console: token %s: server %s is deleted or left host %s: its "
				   "console is closed",
				   p->log_id, p->to.server, p->to.host_id);
			atomic_store(&p->gone, true);
		}
	}
	pthread_mutex_unlock(&c->mu);
}

void
os_console_reap(struct os_console *c, int64_t now_ms)
{
	/* tokens are wiped when their time passes, used or not */
	svc_console_expire(c->svc, now_ms, NULL);
	if (now_ms >= c->next_check_ms) {
		end_orphans(c);
		c->next_check_ms = now_ms + CHECK_EVERY_MS;
	}
	pthread_mutex_lock(&c->mu);
	for (size_t i = 0; i < c->n_done; i++)
		MHD_upgrade_action(c->done[i], MHD_UPGRADE_ACTION_CLOSE);
	c->n_done = 0;
	pthread_mutex_unlock(&c->mu);
}

void
os_console_free(struct os_console *c)
{
	if (!c)
		return;
	atomic_store(&c->stop, true);
	size_t live = 1;
	for (int i = 0; i < 300 && live; i++) { /* a proxy notices stop within 200 ms */
		pthread_mutex_lock(&c->mu);
		live = c->n_open;
		pthread_mutex_unlock(&c->mu);
		if (live)
			usleep(10000);
	}
	if (live) { /* a thread stuck in a name lookup: it still uses c, which stays */
		log_warning("console: %zu proxies did not stop; left to the exit", live);
		return;
	}
	c->next_check_ms = INT64_MAX; /* nothing left to check */
	os_console_reap(c, INT64_MAX);
	svc_console_stop(c->svc);
	free(c->done);
	free(c->open);
	free(c);
}

/* ---- the proxy's thread ------------------------------------------------------------------ */

/* Writes all of buf to fd (blocking or not), giving up when the peer stops reading for
 * long or the front stops. */
/* Waits up to ms for events on fd, in slices that notice the front stopping: > 0 ready. */
static int
wait_for(struct os_console *c, int fd, short events, int ms)
{
	struct pollfd pf = {.fd = fd, .events = events};
	for (int left = ms; left > 0 && !atomic_load(&c->stop); left -= 200) {
		int r = poll(&pf, 1, left < 200 ? left : 200);
		if (r != 0 && !(r < 0 && errno == EINTR))
			return r;
	}
	return 0;
}

static int
send_all(struct os_console *c, int fd, const void *buf, size_t n)
{
	const char *p = buf;
	while (n) {
		ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
		if (k > 0) {
			p += k;
			n -= (size_t)k;
			continue;
		}
		if (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			return -errno;
		if (wait_for(c, fd, POLLOUT, SEND_TIMEOUT_MS) <= 0)
			return -ETIMEDOUT;
	}
	return 0;
}

static int
send_frame(struct proxy *p, enum ws_opcode op, const void *data, size_t n)
{
	unsigned char h[10];
	size_t hn = ws_header(h, op, n);
	int r = send_all(p->c, p->ws, h, hn);
	return r < 0 || !n ? r : send_all(p->c, p->ws, data, n);
}

static void
send_close(struct proxy *p, unsigned code)
{
	unsigned char b[2] = {(unsigned char)(code >> 8), (unsigned char)code};
	send_frame(p, WS_CLOSE, b, sizeof b);
}

/* A TCP connection to the console's host and port, or -1. */
static int
dial(struct os_console *c, const struct ctok_target *to)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
	char port[8];
	snprintf(port, sizeof port, "%d", to->port);
	if (getaddrinfo(to->host, port, &hints, &ai) != 0)
		return -1;
	int fd = -1;
	for (struct addrinfo *a = ai; a && fd < 0; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0)
			continue;
		int r = connect(fd, a->ai_addr, a->ai_addrlen), e = 0;
		socklen_t el = sizeof e;
		if (r < 0 &&
		    (errno != EINPROGRESS || wait_for(c, fd, POLLOUT, CONNECT_TIMEOUT_MS) <= 0 ||
		     getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0 || e)) {
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(ai);
	return fd;
}

/* The whole frames in p->in: data to the console, pings answered. 1 when the client
 * closed, a close code (>= 1000) on a broken stream, 0 to go on. */
static int
client_frames(struct proxy *p, int fd)
{
	size_t off = 0;
	int code = 0;
	while (!code) {
		struct ws_frame fr;
		ssize_t n = ws_parse(p->in + off, p->n_in - off, FRAME_MAX, &fr);
		if (n <= 0) {
			code = n == 0 ? 0 : n == -EMSGSIZE ? 1009 : 1002;
			break;
		}
		off += (size_t)n;
		if (fr.opcode == WS_CLOSE) {
			send_frame(p, WS_CLOSE, fr.payload, fr.len >= 2 ? 2 : 0);
			code = 1;
		} else if (fr.opcode == WS_PING) {
			code = send_frame(p, WS_PONG, fr.payload, fr.len) < 0 ? 1 : 0;
		} else if (fr.opcode != WS_PONG && fr.len) {
			code = send_all(p->c, fd, fr.payload, fr.len) < 0 ? 1011 : 0;
		}
	}
	memmove(p->in, p->in + off, p->n_in - off);
	p->n_in -= off;
	return code;
}

static int
from_client(struct proxy *p, int fd)
{
	ssize_t k = recv(p->ws, p->in + p->n_in, sizeof p->in - p->n_in, 0);
	if (k == 0)
		return 1;
	if (k < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : 1;
	p->n_in += (size_t)k;
	return client_frames(p, fd);
}

static void
proxy_run(struct proxy *p, int fd)
{
	unsigned char *out = malloc(CHUNK);
	int code = out ? client_frames(p, fd) : 1011;
	while (!code) {
		struct pollfd pf[2] = {{.fd = p->ws, .events = POLLIN},
				       {.fd = fd, .events = POLLIN}};
		if (atomic_load(&p->c->stop)) {
			code = 1001;
			break;
		}
		if (atomic_load(&p->gone)) { /* its server is deleted or moved: the console ended */
			code = 1000;
			break;
		}
		if (poll(pf, 2, 200) < 0 && errno != EINTR)
			code = 1011;
		if (!code && pf[0].revents)
			code = from_client(p, fd);
		if (!code && pf[1].revents) {
			ssize_t k = recv(fd, out, CHUNK, 0);
			if (k > 0)
				code = send_frame(p, WS_BINARY, out, (size_t)k) < 0 ? 1 : 0;
			else if (k == 0 || (errno != EAGAIN && errno != EINTR))
				code = 1000; /* the console closed */
		}
	}
	if (code > 1)
		send_close(p, (unsigned)code);
	free(out);
}

/* After the proxy's close frame: what the client still sends is read and dropped until it
 * closes too (for a while at most), so the frame is not lost to a reset of unread data. */
static void
drain(struct proxy *p)
{
	char buf[16384];
	shutdown(p->ws, SHUT_WR);
	for (int i = 0; i < 64 && wait_for(p->c, p->ws, POLLIN, 1000) > 0; i++) {
		ssize_t k = recv(p->ws, buf, sizeof buf, 0);
		if (k == 0 || (k < 0 && errno != EAGAIN && errno != EINTR))
			break;
	}
}

/* Takes p out of the open proxies (c->mu held). */
static void
leave(struct os_console *c, struct proxy *p)
{
	for (size_t i = 0; i < c->n_open; i++)
		if (c->open[i] == p) {
			c->open[i] = c->open[--c->n_open];
			return;
		}
}

static void *
proxy_thread(void *arg)
{
	struct proxy *p = arg;
	struct os_console *c = p->c;
	int fd = dial(c, &p->to);
	if (fd < 0) {
		log_warning("console: token %s: cannot reach %s port %d of server %s", p->log_id,
			    p->to.host, p->to.port, p->to.server);
		send_close(p, 1011);
	} else {
		proxy_run(p, fd);
		close(fd);
	}
	drain(p);
	pthread_mutex_lock(&c->mu);
	if (HV_GROW(c->done, c->cap_done, c->n_done + 1) == 0)
		c->done[c->n_done++] = p->urh;
	leave(c, p);
	pthread_mutex_unlock(&c->mu);
	sodium_memzero(&p->to, sizeof p->to);
	free(p);
	return NULL;
}

/* ---- the HTTP side (on the loop's thread) ------------------------------------------------- */

static void
on_upgraded(void *cls, struct MHD_Connection *conn, void *con_cls, const char *extra,
	    size_t n_extra, MHD_socket sock, struct MHD_UpgradeResponseHandle *urh)
{
	struct proxy *p = cls;
	(void)conn;
	(void)con_cls;
	p->ws = sock;
	p->urh = urh;
	if (n_extra > sizeof p->in)
		n_extra = 0; /* cannot be a frame we accept: the parse refuses what follows */
	memcpy(p->in, extra, n_extra);
	p->n_in = n_extra;
	pthread_t t;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	struct os_console *c = p->c;
	pthread_mutex_lock(&c->mu);
	bool listed = HV_GROW(c->open, c->cap_open, c->n_open + 1) == 0;
	if (listed)
		c->open[c->n_open++] = p;
	pthread_mutex_unlock(&c->mu);
	if (!listed || pthread_create(&t, &attr, proxy_thread, p) != 0) {
		pthread_mutex_lock(&c->mu);
		leave(c, p);
		pthread_mutex_unlock(&c->mu);
		MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
		free(p);
	}
	pthread_attr_destroy(&attr);
}

static enum MHD_Result
plain_reply(struct MHD_Connection *conn, unsigned status, const char *text)
{
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain");
	enum MHD_Result r = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return r;
}

/* Whether a comma-separated header value lists word (case-insensitive). */
static bool
lists(const char *value, const char *word)
{
	size_t n = strlen(word);
	for (const char *s = value; s && *s;) {
		s += strspn(s, " \t,");
		size_t k = strcspn(s, " \t,");
		if (k == n && strncasecmp(s, word, n) == 0)
			return true;
		s += k;
	}
	return false;
}

static enum MHD_Result
upgrade(struct os_front *f, struct MHD_Connection *conn, const char *method)
{
	struct os_console *c = f->console;
	const char *key = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Sec-WebSocket-Key");
	const char *ver =
		MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Sec-WebSocket-Version");
	const char *proto =
		MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Sec-WebSocket-Protocol");
	const char *tok = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "token");
	if (strcmp(method, "GET") != 0 || !key || strlen(key) > 64 || !ver ||
	    strcmp(ver, "13") != 0)
		return plain_reply(conn, 400,
				   "websocket: a GET with Sec-WebSocket-Key and "
				   "Sec-WebSocket-Version 13 is expected\n");
	if (proto && !lists(proto, "binary"))
		return plain_reply(conn, 400, "websocket: only the binary subprotocol is served\n");
	pthread_mutex_lock(&c->mu);
	bool full = c->n_open >= MAX_PROXIES;
	pthread_mutex_unlock(&c->mu);
	if (full) /* the token stays usable: the client may try again */
		return plain_reply(conn, 503, "websocket: too many consoles open, try again\n");
	struct proxy *p = calloc(1, sizeof *p);
	struct hv_error err = {0};
	if (!p)
		return MHD_NO;
	p->c = c;
	if (svc_console_use(c->svc, tok, f->now, &p->to, &err) < 0) {
		if (tok)
			ctok_log_id(tok, p->log_id);
		log_notice("console: token %s refused: %s", tok ? p->log_id : "(none)",
			   err.message);
		free(p);
		return plain_reply(conn, 401, "The token has expired or is invalid.\n");
	}
	ctok_log_id(tok, p->log_id);
	log_info("console: token %s used: %s console of server %s", p->log_id, p->to.type,
		 p->to.server);
	char accept[29];
	ws_accept(key, accept);
	struct MHD_Response *resp = MHD_create_response_for_upgrade(on_upgraded, p);
	if (!resp) {
		free(p);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_UPGRADE, "websocket");
	MHD_add_response_header(resp, "Sec-WebSocket-Accept", accept);
	if (proto)
		MHD_add_response_header(resp, "Sec-WebSocket-Protocol", "binary");
	enum MHD_Result r = MHD_queue_response(conn, MHD_HTTP_SWITCHING_PROTOCOLS, resp);
	MHD_destroy_response(resp);
	if (r != MHD_YES) /* the handler will never run */
		free(p);
	return r;
}

/* A page's path: '/'-separated names of [A-Za-z0-9._-], none starting with '.'. */
static bool
page_path_ok(const char *url)
{
	if (url[0] != '/' || !url[1] || strlen(url) > 200)
		return false;
	for (const char *s = url; *s; s++) {
		if (*s == '/' && (s[1] == '.' || s[1] == '/' || !s[1]))
			return false;
		if (*s != '/' &&
		    !strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-",
			    *s))
			return false;
	}
	return true;
}

static const char *
page_type(const char *path)
{
	static const char *const types[][2] = {
		{".html", "text/html; charset=utf-8"},
		{".js", "text/javascript"},
		{".css", "text/css"},
		{".png", "image/png"},
		{".svg", "image/svg+xml"},
		{".ico", "image/x-icon"},
		{".json", "application/json"},
		{".oga", "audio/ogg"},
		{".mp3", "audio/mpeg"},
	};
	const char *dot = strrchr(path, '.');
	for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
		if (strcmp(dot, types[i][0]) == 0)
			return types[i][1];
	return "application/octet-stream";
}

/* A noVNC page or script, when url names a regular file of the pages' folder. */
static bool
page(struct os_front *f, struct MHD_Connection *conn, const char *url, enum MHD_Result *ret)
{
	char path[512];
	struct stat st;
	const char *pages = f->console->pages;
	if (!*pages || !page_path_ok(url) ||
	    (size_t)snprintf(path, sizeof path, "%s%s", pages, url) >= sizeof path)
		return false;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ELOOP) /* Debian links some of noVNC's files: only inside it */
		fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return false;
	}
	struct MHD_Response *resp = MHD_create_response_from_fd((uint64_t)st.st_size, fd);
	if (!resp) {
		close(fd);
		*ret = MHD_NO;
		return true;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, page_type(path));
	*ret = MHD_queue_response(conn, 200, resp);
	MHD_destroy_response(resp);
	return true;
}

bool
os_console_request(struct os_front *f, void *connection, const char *url, const char *method,
		   int *ret)
{
	struct MHD_Connection *conn = connection;
	const char *up = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Upgrade");
	enum MHD_Result r = MHD_NO;
	bool handled = true;
	if (up && strcasecmp(up, "websocket") == 0)
		r = upgrade(f, conn, method);
	else if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		handled = false;
	else
		handled = page(f, conn, url, &r);
	*ret = (int)r;
	return handled;
}
