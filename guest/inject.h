/* inject.h - offline SSH key and root password injection into guest disks with libguestfs
 * (the guide's "inject an admin password" and key pair injection, for images without
 * cloud-init). Several disks share ONE appliance launch (the launch costs seconds, the edit
 * about one), each with its own result: one disk's failure never fails the others.
 *
 * The whole batch runs in a forked worker in its own process group (qemu included) that
 * is killed when the deadline passes. The host never mounts a guest filesystem.
 *
 * Must never: probe an image format, follow a guest symlink while writing, create users,
 * log anything, or let a password (plaintext or hash) or key reach an error message.
 *
 * Trust boundary: a hostile filesystem could attack the appliance kernel and, through it,
 * the other disks of the same launch. Batch only disks of the same owner (project). */
#ifndef GUEST_INJECT_H
#define GUEST_INJECT_H

#include <stdbool.h>
#include <stddef.h>

#include <hvagent/error.h>

enum guest_partition {
	/* The one ext2/3/4, xfs or btrfs filesystem on the disk that holds /etc/passwd
	 * (default; about 1 s per disk under TCG). Only the root is mounted. */
	GUEST_PARTITION_AUTO = 0,
	GUEST_PARTITION_WHOLE = -1, /* the root filesystem is the whole disk */
	/* libguestfs inspection: also mounts what the guest's fstab lists on the same disk
	 * (a separate /home); about 15 s per disk under TCG. */
	GUEST_PARTITION_INSPECT = -2,
	/* N > 0: the root filesystem is partition N */
};

struct guest_job {
	const char *disk_path;     /* image file, opened read-write */
	const char *format;        /* "raw" or "qcow2", from our own records, never probed */
	int partition;             /* enum guest_partition, or a partition number */
	const char *key_user;      /* account whose authorized_keys gets ssh_key; NULL = "root" */
	const char *ssh_key;       /* one public key line, or NULL */
	const char *password_user; /* account whose password is set; NULL = "root" */
	/* Plaintext password, or NULL. Hashed ($6$) on the host before anything launches; only
	 * the hash enters the appliance. The caller wipes its own copy. */
	const char *password;
};

enum guest_relabel {
	GUEST_RELABEL_NONE,        /* no SELinux in the guest */
	GUEST_RELABEL_PATHS,       /* the touched paths were relabelled in the appliance */
	GUEST_RELABEL_AUTORELABEL, /* /.autorelabel created: the guest relabels on first boot */
};

struct guest_result {
	int code;            /* 0, or -errno */
	struct hv_error err; /* field "jobs[i].<field>" when code < 0 */
	bool key_added;      /* false when the exact line was already there */
	bool password_set;
	enum guest_relabel relabel;
};

struct guest_inject_opts {
	unsigned timeout_s;  /* deadline for the whole batch; 0 = 600 s */
	bool force_tcg;      /* no usable KVM on this host (nested virt, CI) */
	unsigned memsize_mb; /* appliance memory; 0 = 512 */
	/* qcow2 backing files must resolve inside this directory; NULL = refuse any. */
	const char *image_store;
};

/* Runs n jobs in one appliance. ret_results[i] receives job i's outcome (always filled).
 * Returns 0 when every job succeeded, else the code of the first failed job; -EINVAL for
 * bad arguments (n == 0, NULL arrays). Jobs that fail validation never reach the appliance.
 * A job cut short by the deadline reports -ETIMEDOUT; every step is idempotent (the key is
 * appended only when absent), so running it again is safe. Blocks up to timeout_s.
 * May be called from any thread: the worker is a fork of the caller that uses only
 * libguestfs and libc and resets SIGCHLD, SIGPIPE and the signal mask for itself; the
 * caller must not reap children it did not start (no SIGCHLD set to SIG_IGN). */
int guest_inject_batch(const struct guest_job *jobs, size_t n, const struct guest_inject_opts *opts,
		       struct guest_result *ret_results);

/* One job in its own appliance (nova's way); same contract. */
int guest_inject(const struct guest_job *job, const struct guest_inject_opts *opts,
		 struct guest_result *ret_result);

#endif
