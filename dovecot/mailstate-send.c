/*
 * mailstate-send.c - POST events to the tracker asynchronously; spool what
 * cannot be delivered now and replay it later.  Contract in
 * mailstate-plugin.h.
 */
#include "lib.h"
#include "array.h"
#include "llist.h"
#include "str.h"
#include "ioloop.h"
#include "istream.h"
#include "time-util.h"
#include "read-full.h"
#include "write-full.h"
#include "mkdir-parents.h"
#include "http-client.h"
#include "mail-user.h"
#include "mailstate-plugin.h"
#include "readev.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

/* Spool files replayed per round; the next round starts when all of them
   were answered, so a tracker that is still down costs one failed round. */
#define MAILSTATE_REPLAY_BATCH 20
/* A spool file is one JSON event of a few hundred bytes. */
#define MAILSTATE_SPOOL_FILE_MAX 8192

struct mailstate_req {
	struct mailstate_req *prev, *next;
	struct mailstate_user *muser;
	struct http_client_request *hreq;
	char *body;
	/* Replays only: the claimed file and the name it is returned to. */
	char *claim_path;
	char *spool_path;
};

static struct http_client *mailstate_http(struct mailstate_user *muser)
{
	struct http_client_settings set;

	if (muser->http != NULL)
		return muser->http;
	i_zero(&set);
	set.user_agent = "mailstate-dovecot";
	/* One attempt each: a failure is spooled, not retried while the
	   session waits, and every wait is bounded by timeout_msecs. */
	set.max_attempts = 1;
	set.max_connect_attempts = 1;
	set.request_absolute_timeout_msecs = muser->timeout_msecs;
	set.request_timeout_msecs = muser->timeout_msecs;
	set.connect_timeout_msecs = muser->timeout_msecs;
	set.max_idle_time_msecs = 1000;
	/* after a failed connect the next one waits; never for long */
	set.connect_backoff_time_msecs = 100;
	set.connect_backoff_max_time_msecs = 1000;
	set.max_parallel_connections = 8;
	set.event_parent = muser->user->event;
	set.debug = muser->user->mail_debug;
	muser->http = http_client_init_private(&set);
	return muser->http;
}

static void mailstate_req_free(struct mailstate_req *req)
{
	i_free(req->body);
	i_free(req->claim_path);
	i_free(req->spool_path);
	i_free(req);
}

/* Spooled events, counting up to max. */
static unsigned int mailstate_spool_count(const char *dir, unsigned int max)
{
	struct dirent *d;
	unsigned int n = 0;
	DIR *dirp = NULL;

	if ((dirp = opendir(dir)) == NULL)
		return 0;
	while (n < max && (d = readdir(dirp)) != NULL) {
		if (d->d_name[0] != '.')
			n++;
	}
	(void)closedir(dirp);
	return n;
}

static void mailstate_retry_fire(struct mailstate_user *muser)
{
	timeout_remove(&muser->retry_to);
	muser->spool_maybe_nonempty = TRUE;
	mailstate_spool_replay(muser, FALSE);
}

/* In a long session (an IDLE client), try the spool again after
   retry_msecs while it is not empty, so a read spooled while the tracker
   restarted arrives without the user's next login (issue 15).  One failed
   round per interval while the tracker stays down. */
static void mailstate_retry_arm(struct mailstate_user *muser)
{
	if (muser->retry_msecs == 0 || muser->deinit ||
	    muser->retry_to != NULL || muser->spool_dir == NULL)
		return;
	muser->retry_to = timeout_add(muser->retry_msecs,
				      mailstate_retry_fire, muser);
}

int mailstate_spool_write(struct mailstate_user *muser, const char *body)
{
	struct event *event = muser->user->event;
	const char *dir = muser->spool_dir, *name, *tmp, *path;
	struct timeval tv;
	int fd, ret = 0;

	if (dir == NULL) {
		e_error(event, "mailstate: no spool directory, event lost: %s",
			body);
		return -1;
	}
	if (mkdir_parents(dir, 0700) < 0 && errno != EEXIST) {
		e_error(event, "mailstate: mkdir(%s) failed: %m; "
			"event lost: %s", dir, body);
		return -1;
	}
	if (mailstate_spool_count(dir, muser->spool_max) >= muser->spool_max) {
		e_error(event, "mailstate: spool %s is full (%u files), "
			"event lost: %s", dir, muser->spool_max, body);
		return -1;
	}
	/* Names sort by time; pid and a counter keep them unique. */
	i_gettimeofday(&tv);
	name = t_strdup_printf("%013lld-%ld-%u" READEV_SPOOL_SUFFIX,
			       (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000,
			       (long)getpid(), ++muser->spool_seq);
	tmp = t_strdup_printf("%s/.tmp-%s", dir, name);
	path = t_strdup_printf("%s/%s", dir, name);

	/* Written to a dot-file and renamed, so a reader never sees half. */
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd < 0) {
		e_error(event, "mailstate: open(%s) failed: %m; "
			"event lost: %s", tmp, body);
		return -1;
	}
	if (write_full(fd, body, strlen(body)) < 0 || fdatasync(fd) < 0) {
		e_error(event, "mailstate: write(%s) failed: %m", tmp);
		ret = -1;
	}
	if (close(fd) < 0 && ret == 0) {
		e_error(event, "mailstate: close(%s) failed: %m", tmp);
		ret = -1;
	}
	if (ret == 0 && rename(tmp, path) < 0) {
		e_error(event, "mailstate: rename(%s, %s) failed: %m", tmp, path);
		ret = -1;
	}
	if (ret < 0) {
		i_unlink_if_exists(tmp);
		e_error(event, "mailstate: event lost: %s", body);
		return -1;
	}
	/* the new name must survive a crash too */
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY)) >= 0) {
		if (fsync(fd) < 0)
			e_warning(event, "mailstate: fsync(%s) failed: %m", dir);
		i_close_fd(&fd);
	}
	muser->spool_maybe_nonempty = TRUE;
	mailstate_retry_arm(muser);
	e_info(event, "mailstate: tracker unavailable, event spooled to %s",
	       path);
	return 0;
}

static void mailstate_submit(struct mailstate_user *muser, const char *body,
			     const char *claim_path, const char *spool_path);

/* The request could not be delivered now (5xx, no connection, timeout). */
static void mailstate_req_retry_later(struct mailstate_req *req)
{
	struct mailstate_user *muser = req->muser;

	if (req->claim_path == NULL) {
		T_BEGIN {
			(void)mailstate_spool_write(muser, req->body);
		} T_END;
	} else if (rename(req->claim_path, req->spool_path) < 0) {
		e_error(muser->user->event, "mailstate: rename(%s, %s) "
			"failed: %m", req->claim_path, req->spool_path);
	}
}

static void mailstate_req_done_claim(struct mailstate_req *req)
{
	if (req->claim_path != NULL)
		i_unlink_if_exists(req->claim_path);
}

/* 4xx answers that another attempt may turn into a 200: the token (401;
   403 with a Bearer challenge = the token lacks the notify scope, unlike
   the 403 bad_mac of a forged id), a timeout (408), rate limiting (429). */
static bool mailstate_retry_status(const struct http_response *resp)
{
	return resp->status == 401 || resp->status == 408 ||
	       resp->status == 429 ||
	       (resp->status == 403 &&
		http_response_header_get(resp, "WWW-Authenticate") != NULL);
}

/* The tracker's "error" and "detail" of an answer, for the log.  Its JSON
   error bodies are a few dozen bytes written with the header in one go, so
   what the payload stream already holds is read without waiting; anything
   that is not there yet (or is not JSON) shows as "-". */
static const char *mailstate_tracker_reason(const struct http_response *resp)
{
	char error[READEV_ERROR_MAX + 1], detail[READEV_DETAIL_MAX + 1];
	string_t *buf = t_str_new(256);
	const unsigned char *data;
	size_t size;

	if (resp->payload != NULL) {
		while (str_len(buf) < 4096 &&
		       i_stream_read_more(resp->payload, &data, &size) > 0) {
			str_append_data(buf, data, size);
			i_stream_skip(resp->payload, size);
		}
	}
	if (readev_error_body(str_c(buf), str_len(buf), error, detail) < 0)
		return "error=- detail=-";
	return t_strdup_printf("error=%s detail=\"%s\"", error, detail);
}

static void
mailstate_response(const struct http_response *resp, struct mailstate_req *req)
{
	struct mailstate_user *muser = req->muser;
	struct event *event = muser->user->event;
	bool replay = req->claim_path != NULL;

	req->hreq = NULL;
	DLLIST_REMOVE(&muser->reqs, req);

	if (resp->status / 100 == 2) {
		e_debug(event, "mailstate: tracker recorded %s", req->body);
		mailstate_req_done_claim(req);
		if (replay)
			muser->replay_done++;
	} else if (mailstate_retry_status(resp)) {
		/* A token the tracker does not know (yet, or any more) is a
		   configuration to fix, not a bad event: keep it for later. */
		e_error(event, "mailstate: tracker refused the request "
			"(%u %s); check mailstate_token against the tracker's "
			"[token] sections; event kept for later: %s",
			resp->status, resp->reason, req->body);
		mailstate_req_retry_later(req);
		if (replay)
			muser->replay_failed++;
	} else if (resp->status == 404) {
		/* Not a mail or recipient this server recorded: nothing to
		   retry, but the sender will see "sent" for good, so say why
		   at info (issue 11). */
		e_info(event, "mailstate: tracker does not know the mail "
		       "(404), dropped: %s: %s", mailstate_tracker_reason(resp),
		       req->body);
		mailstate_req_done_claim(req);
		if (replay)
			muser->replay_done++;
	} else if (resp->status / 100 == 4 || resp->status / 100 == 3) {
		e_error(event, "mailstate: tracker refused the event "
			"(%u %s), dropped: %s: %s", resp->status, resp->reason,
			mailstate_tracker_reason(resp), req->body);
		mailstate_req_done_claim(req);
		if (replay)
			muser->replay_done++;
	} else {
		e_warning(event, "mailstate: %s: %u %s", muser->url,
			  resp->status, resp->reason);
		mailstate_req_retry_later(req);
		if (replay)
			muser->replay_failed++;
	}

	if (replay) {
		i_assert(muser->replay_inflight > 0);
		if (--muser->replay_inflight == 0) {
			if (muser->replay_failed == 0)
				mailstate_spool_replay(muser, FALSE);
			else
				mailstate_retry_arm(muser);
		}
	} else if (resp->status / 100 == 2 && muser->spool_maybe_nonempty &&
		   muser->replay_inflight == 0) {
		/* The tracker is back: deliver what waited in the spool. */
		mailstate_spool_replay(muser, FALSE);
	}
	mailstate_req_free(req);
	if (muser->wait_ioloop != NULL && muser->reqs == NULL)
		io_loop_stop(muser->wait_ioloop);
}

static void mailstate_submit(struct mailstate_user *muser, const char *body,
			     const char *claim_path, const char *spool_path)
{
	struct mailstate_req *req;

	req = i_new(struct mailstate_req, 1);
	req->muser = muser;
	req->body = i_strdup(body);
	req->claim_path = i_strdup(claim_path);
	req->spool_path = i_strdup(spool_path);
	req->hreq = http_client_request_url_str(mailstate_http(muser), "POST",
						muser->url, mailstate_response,
						req);
	http_client_request_add_header(req->hreq, "Content-Type",
				       "application/json");
	http_client_request_add_header(req->hreq, "Authorization",
				       muser->auth_header);
	http_client_request_set_payload_data(req->hreq,
		(const unsigned char *)req->body, strlen(req->body));
	http_client_request_set_timeout_msecs(req->hreq, muser->timeout_msecs);
	DLLIST_PREPEND(&muser->reqs, req);
	http_client_request_submit(req->hreq);
}

void mailstate_send(struct mailstate_user *muser, const char *body)
{
	if (muser->deinit) {
		(void)mailstate_spool_write(muser, body);
		return;
	}
	mailstate_submit(muser, body, NULL, NULL);
}

/* Read a claimed spool file and rebuild the event from it; NULL with
   *why_r if it is not a regular file of this user, is empty or too big, or
   does not parse (readev_spool_parse).  The spool directory is the mail
   user's to write (shell, SFTP), so its files are input, not our own
   output: O_NOFOLLOW refuses a symlink to someone else's file, O_NONBLOCK
   keeps a FIFO from blocking the session, fstat admits only regular files
   owned by this user with one link.  The request is rebuilt for the
   session's own recipient: a file naming another recipient cannot speak
   for them. */
static const char *
mailstate_spool_read(struct mailstate_user *muser, const char *path,
		     const char **why_r)
{
	struct readev_spooled ev;
	struct timeval tv;
	struct stat st;
	string_t *str;
	char *buf;
	int fd, ret;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		*why_r = errno == ELOOP ? "a symbolic link" :
			t_strdup_printf("open failed: %m");
		return NULL;
	}
	if (fstat(fd, &st) < 0) {
		*why_r = t_strdup_printf("fstat failed: %m");
		i_close_fd(&fd);
		return NULL;
	}
	if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || st.st_nlink != 1) {
		*why_r = !S_ISREG(st.st_mode) ? "not a regular file" :
			st.st_uid != geteuid() ? "not owned by the mail user" :
			"a hard link";
		i_close_fd(&fd);
		return NULL;
	}
	if (st.st_size <= 0 || st.st_size > MAILSTATE_SPOOL_FILE_MAX) {
		*why_r = st.st_size <= 0 ? "empty" : "too big";
		i_close_fd(&fd);
		return NULL;
	}
	buf = t_malloc0(st.st_size + 1);
	ret = read_full(fd, buf, st.st_size);
	i_close_fd(&fd);
	if (ret <= 0) {
		*why_r = ret == 0 ? "shorter than its size" :
			t_strdup_printf("read failed: %m");
		return NULL;
	}
	i_gettimeofday(&tv);
	ret = readev_spool_parse(buf, st.st_size,
				 (uint64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000,
				 &ev);
	if (ret < 0) {
		*why_r = readev_spool_strerror(ret);
		return NULL;
	}
	if (ev.recipient[0] != '\0' &&
	    strcasecmp(ev.recipient, muser->recipient) != 0) {
		e_warning(muser->user->event, "mailstate: %s names recipient "
			  "%s, not this user: replayed as %s", path,
			  ev.recipient, muser->recipient);
	}
	str = t_str_new(256);
	mailstate_body(str, muser, ev.mail_id, ev.sender, ev.event, ev.via,
		       ev.time, ev.original_recipient[0] == '\0' ? NULL :
		       ev.original_recipient);
	return str_c(str);
}

/* The spool directory must be the mail user's own: a directory (not a
   symlink to someone else's), owned by this uid, writable by nobody else.
   Otherwise another user could feed this session's replay. */
static bool mailstate_spool_dir_ok(struct mailstate_user *muser)
{
	struct stat st;
	int fd;

	fd = open(muser->spool_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		  O_CLOEXEC);
	if (fd < 0) {
		if (errno != ENOENT) {
			e_error(muser->user->event, "mailstate: open(%s) "
				"failed: %m; spool not replayed",
				muser->spool_dir);
		}
		return FALSE;
	}
	if (fstat(fd, &st) < 0 || st.st_uid != geteuid() ||
	    (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		e_error(muser->user->event, "mailstate: spool %s is not the "
			"mail user's own (owner uid %ld, mode %04o; want uid "
			"%ld, not group/other writable); not replayed",
			muser->spool_dir, (long)st.st_uid,
			(unsigned int)(st.st_mode & 07777), (long)geteuid());
		i_close_fd(&fd);
		return FALSE;
	}
	i_close_fd(&fd);
	return TRUE;
}

/* "NAME.json.PID": a claim; returned if its process is gone. */
static void
mailstate_spool_unclaim_stale(struct mailstate_user *muser, const char *dir,
			      const char *name)
{
	char orig[NAME_MAX + 1];
	const char *from, *to;
	long pid;

	if (readev_claim_parse(name, orig, sizeof(orig), &pid) < 0)
		return;
	if ((pid_t)pid != getpid() &&
	    (kill((pid_t)pid, 0) == 0 || errno != ESRCH))
		return;
	from = t_strdup_printf("%s/%s", dir, name);
	to = t_strdup_printf("%s/%s", dir, orig);
	if (rename(from, to) < 0 && errno != ENOENT) {
		e_error(muser->user->event, "mailstate: rename(%s, %s) "
			"failed: %m", from, to);
	}
}

static int mailstate_name_cmp(const char *const *a, const char *const *b)
{
	return strcmp(*a, *b);
}

static void
mailstate_spool_replay_round(struct mailstate_user *muser, bool at_init)
{
	const char *dir = muser->spool_dir, *name, *path, *claim, *body, *why;
	ARRAY_TYPE(const_string) names;
	struct dirent *d;
	DIR *dirp;
	unsigned int i, count;

	if (!mailstate_spool_dir_ok(muser)) {
		muser->spool_maybe_nonempty = FALSE;
		return;
	}
	if ((dirp = opendir(dir)) == NULL) {
		if (errno != ENOENT) {
			e_error(muser->user->event, "mailstate: "
				"opendir(%s) failed: %m", dir);
		}
		muser->spool_maybe_nonempty = FALSE;
		return;
	}
	t_array_init(&names, 32);
	while ((d = readdir(dirp)) != NULL) {
		if (readev_spool_name(d->d_name)) {
			name = t_strdup(d->d_name);
			array_push_back(&names, &name);
		} else if (at_init && d->d_name[0] != '.') {
			mailstate_spool_unclaim_stale(muser, dir, d->d_name);
		}
	}
	(void)closedir(dirp);
	if (at_init) {
		/* stale claims returned above are picked up next round */
		muser->spool_maybe_nonempty = TRUE;
	}

	array_sort(&names, mailstate_name_cmp);
	count = array_count(&names);
	muser->replay_failed = 0;
	for (i = 0; i < count && muser->replay_inflight < MAILSTATE_REPLAY_BATCH;
	     i++) {
		name = array_idx_elem(&names, i);
		path = t_strdup_printf("%s/%s", dir, name);
		claim = t_strdup_printf("%s.%ld", path, (long)getpid());
		if (rename(path, claim) < 0) {
			/* ENOENT: another session of this user claimed it */
			if (errno != ENOENT) {
				e_error(muser->user->event, "mailstate: "
					"rename(%s) failed: %m", path);
			}
			continue;
		}
		if ((body = mailstate_spool_read(muser, claim, &why)) == NULL) {
			/* refused: set aside (a dot-name is never replayed)
			   instead of failing again at every login */
			const char *bad = t_strdup_printf("%s/.bad-%s", dir, name);

			if (rename(claim, bad) == 0) {
				e_error(muser->user->event, "mailstate: spool "
					"file %s refused (%s), set aside as %s",
					path, why, bad);
			} else {
				e_error(muser->user->event, "mailstate: spool "
					"file %s refused (%s); rename to %s "
					"failed: %m", path, why, bad);
			}
			continue;
		}
		muser->replay_inflight++;
		mailstate_submit(muser, body, claim, path);
	}
	if (muser->replay_inflight == 0 && !at_init)
		muser->spool_maybe_nonempty = FALSE;
	else if (muser->replay_inflight > 0)
		e_info(muser->user->event, "mailstate: replaying %u spooled "
		       "events from %s", muser->replay_inflight, dir);
}

void mailstate_spool_replay(struct mailstate_user *muser, bool at_init)
{
	if (muser->spool_dir == NULL || muser->deinit ||
	    muser->replay_inflight > 0 || !muser->spool_maybe_nonempty)
		return;
	T_BEGIN {
		mailstate_spool_replay_round(muser, at_init);
	} T_END;
	if (at_init && muser->replay_inflight == 0) {
		/* returned stale claims only: one more round picks them up */
		T_BEGIN {
			mailstate_spool_replay_round(muser, FALSE);
		} T_END;
	}
}

static void mailstate_wait_timeout(struct mailstate_user *muser)
{
	e_warning(muser->user->event, "mailstate: tracker did not answer "
		  "within %u ms at the end of the session; spooling %s",
		  muser->timeout_msecs, "what is left");
	muser->wait_timed_out = TRUE;
	io_loop_stop(current_ioloop);
}

/* http_client_wait() asserts when the only pending request sits in a
   connect backoff (no io, no immediate timeout), so wait in an ioloop of our
   own, bounded by timeout_msecs plus a margin for the request timeouts. */
static void mailstate_wait(struct mailstate_user *muser)
{
	struct ioloop *prev_ioloop = current_ioloop, *ioloop;
	struct timeout *to;

	ioloop = io_loop_create();
	(void)http_client_switch_ioloop(muser->http);
	to = timeout_add(muser->timeout_msecs + 1000, mailstate_wait_timeout,
			 muser);
	muser->wait_ioloop = ioloop;
	while (muser->reqs != NULL && !muser->wait_timed_out)
		io_loop_run(ioloop);
	muser->wait_ioloop = NULL;
	timeout_remove(&to);
	io_loop_set_current(prev_ioloop);
	(void)http_client_switch_ioloop(muser->http);
	io_loop_set_current(ioloop);
	io_loop_destroy(&ioloop);
}

void mailstate_replay_wait(struct mailstate_user *muser)
{
	unsigned int left;

	if (muser->spool_dir == NULL)
		return;
	if (muser->replay_inflight == 0) {
		muser->spool_maybe_nonempty = TRUE;
		mailstate_spool_replay(muser, FALSE);
	}
	if (muser->reqs != NULL)
		mailstate_wait(muser);
	left = mailstate_spool_count(muser->spool_dir, muser->spool_max);
	if (muser->replay_done > 0 || left > 0) {
		e_info(muser->user->event, "mailstate: replay: %u spooled "
		       "events answered, %u left in %s", muser->replay_done,
		       left, muser->spool_dir);
	}
}

void mailstate_send_deinit(struct mailstate_user *muser)
{
	struct mailstate_req *req;

	timeout_remove(&muser->retry_to);
	muser->deinit = TRUE;
	if (muser->http == NULL)
		return;
	if (muser->reqs != NULL)
		mailstate_wait(muser);
	/* whatever is left did not get an answer in time */
	while ((req = muser->reqs) != NULL) {
		DLLIST_REMOVE(&muser->reqs, req);
		http_client_request_abort(&req->hreq);
		mailstate_req_retry_later(req);
		mailstate_req_free(req);
	}
	http_client_deinit(&muser->http);
}
