/* journal.h - the agent's crash-safe memory (SQLite, WAL, synchronous=FULL) under state_dir:
 * commands by cmd_id with their stored answer, and the last known record of every
 * instance. Written before acting and before replying, so a duplicate COMMAND is answered
 * from here and a restart knows what was in flight. Never logs; never stores a secret
 * (callers pass redacted JSON). Used from one thread only. */
#ifndef HV_AGENT_JOURNAL_H
#define HV_AGENT_JOURNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include <hvagent/error.h>

struct journal;

enum journal_cmd_state {
	JOURNAL_ACCEPTED = 1, /* ACK sent or about to be; the action may have started */
	JOURNAL_DONE = 2,     /* reply holds the RESULT body */
	JOURNAL_REFUSED = 3,  /* reply holds the ERROR body */
};

struct journal_cmd {
	char cmd_id[65];
	char command[32];
	char uuid[37];
	enum journal_cmd_state state;
	json_t *request; /* redacted COMMAND body, owned */
	json_t *reply;   /* RESULT or ERROR body, owned; NULL while accepted */
	bool acked;      /* the controller acknowledged the RESULT */
	int64_t created_ms;
};

/* Opens (creating) <state_dir>/journal.sqlite, creating state_dir 0700 when missing. An
 * existing journal is checked first: -EUCLEAN (err names the file) when a page is damaged
 * (PRAGMA quick_check) or its WAL holds commits past a corrupt frame; -ENOSPC when it
 * cannot be written for lack of space; other I/O errors -EIO or the system's errno. */
int journal_open(const char *state_dir, struct journal **ret, struct hv_error *err);
void journal_free(struct journal *j);
/* True when the file was missing or empty (0 bytes) before journal_open. */
bool journal_fresh(const struct journal *j);
const char *journal_path(const struct journal *j);
/* Frees j and, when it was fresh, removes the files journal_open created (a start refused
 * before the journal was first used must leave nothing that looks like a journal). */
void journal_discard(struct journal *j);
/* Commits a small write: 0 once the journal can be written again (after a full disk). */
int journal_probe(struct journal *j, struct hv_error *err);

int journal_begin(struct journal *j, struct hv_error *err);
int journal_commit(struct journal *j, struct hv_error *err);
void journal_rollback(struct journal *j);
/* Group commit: everything written between journal_batch_begin and journal_batch_commit is
 * one transaction, made durable (fsync'd) by journal_batch_commit; journal_begin/commit/
 * rollback inside it are savepoints (a rollback undoes one command, not the batch). Nothing
 * written in a batch may be acted on or answered before journal_batch_commit returned 0; on
 * failure the whole batch is rolled back. */
int journal_batch_begin(struct journal *j, struct hv_error *err);
int journal_batch_commit(struct journal *j, struct hv_error *err);
/* Rolls the whole batch back (nothing of it is kept). */
void journal_batch_abort(struct journal *j);
bool journal_in_batch(const struct journal *j);

/* 1 and *ret filled (release with journal_cmd_release), 0 when unknown, or -errno. */
int journal_cmd_get(struct journal *j, const char *cmd_id, struct journal_cmd *ret,
		    struct hv_error *err);
void journal_cmd_release(struct journal_cmd *c);
int journal_cmd_accept(struct journal *j, const char *cmd_id, const char *command, const char *uuid,
		       const json_t *request, struct hv_error *err);
int journal_cmd_refuse(struct journal *j, const char *cmd_id, const char *command, const char *uuid,
		       const json_t *request, const json_t *error_body, struct hv_error *err);
int journal_cmd_finish(struct journal *j, const char *cmd_id, const json_t *result_body,
		       struct hv_error *err);
int journal_cmd_ack(struct journal *j, const char *cmd_id, struct hv_error *err);
/* Calls fn for every command in state `state` (and, for JOURNAL_DONE, not yet acked),
 * oldest first. fn borrows c. */
int journal_cmd_foreach(struct journal *j, enum journal_cmd_state state,
			void (*fn)(void *ctx, const struct journal_cmd *c), void *ctx,
			struct hv_error *err);
/* Calls fn for at most `limit` finished, unacknowledged commands whose RESULT was last
 * (re)sent before before_ms, oldest first, and marks them sent now. */
int journal_cmd_due(struct journal *j, int64_t before_ms, int limit,
		    void (*fn)(void *ctx, const struct journal_cmd *c), void *ctx,
		    struct hv_error *err);
/* Forgets acknowledged or refused commands older than before_ms. Returns how many. */
int journal_cmd_prune(struct journal *j, int64_t before_ms, struct hv_error *err);

/* Small named documents (the committed firewall state). get: 1 and a new reference, 0 when
 * unset. */
int journal_meta_put(struct journal *j, const char *key, const json_t *value, struct hv_error *err);
int journal_meta_get(struct journal *j, const char *key, json_t **ret, struct hv_error *err);

int
journal_inst_put(struct journal *j, const char *uuid, const json_t *record, struct hv_error *err);
int journal_inst_delete(struct journal *j, const char *uuid, struct hv_error *err);
/* fn borrows record. */
int journal_inst_foreach(struct journal *j, void (*fn)(void *ctx, const json_t *record), void *ctx,
			 struct hv_error *err);

#endif
