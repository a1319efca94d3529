#ifndef MAILSTATE_PLUGIN_H
#define MAILSTATE_PLUGIN_H
/*
 * mailstate Dovecot plugin (lib90_mailstate_plugin.so) - read detection
 * over IMAP (design §1 step 3, issue 7).
 *
 * mailstate-plugin.c watches the mailbox through Dovecot's notify plugin:
 *   - \Seen going from unset to set (STORE, FETCH BODY[], any client) is a
 *     "read";
 *   - \Deleted being set, an expunge without \Deleted, or a copy/move into
 *     a \Trash special-use mailbox, while \Seen is unset, is a
 *     "deleted_unread".
 * In lmtp and lda (issue 11) a delivery's save of a mail is a "received":
 * the deliver_mail hook (mail_deliver_hook_set, weakly linked: absent in
 * imap) records the delivery's source mail and its envelope's original
 * recipient (ORCPT, else RCPT TO) on the recipient's mailstate_user; the
 * notify save/copy hooks turn the first save of that source into one
 * "received" event with "original_recipient" when it differs from the
 * final recipient.
 * Only mails carrying an X-Mail-Id and an X-Sender header count, and only in
 * the user's own (private) namespaces.  Events are collected per mailbox
 * transaction and handed to mailstate-send.c only after the transaction
 * committed; a rollback drops them.
 *
 * mailstate-send.c delivers events to the tracker's POST /v1/reads with
 * Dovecot's asynchronous http-client, so no IMAP command ever waits for the
 * tracker.  Outcomes:
 *   200                      recorded (or opt-out acknowledged): done
 *   404                      not recorded on this server: dropped, debug log
 *   other 4xx                dropped, error logged (bad MAC, bad input)
 *   401, 403 with a Bearer
 *   challenge (token lacks
 *   the scope), 408, 429,
 *   5xx, connect failure,
 *   timeout                  written to the spool directory (a token
 *                            that is wrong is a configuration to fix,
 *                            not a reason to lose reads)
 * The spool is one small file per event (the JSON body, written to a
 * dot-file and renamed into place), bounded by mailstate_spool_max files.
 * It is replayed by the plugin itself: asynchronously at the next session's
 * user init, within a session after the tracker answered 200 again, every
 * mailstate_retry_interval (30 s) in a long session while the spool is not
 * empty (issue 15), and by "doveadm mailstate replay" (mailstate-doveadm.c,
 * run by the mailstate-replay.timer) for users with no session at all.
 * A spool file is claimed by renaming it (NAME.json -> NAME.json.PID) before
 * it is sent, so two sessions of one user never send the same event twice;
 * claims of dead processes are returned at user init.
 *
 * At user deinit the plugin waits for requests still in flight; the wait is
 * bounded by mailstate_timeout (each request's absolute timeout), after
 * which unanswered events are spooled.
 *
 * Everything is per mail user and lives in the user's pool or is freed at
 * user deinit.  The plugin runs inside the imap process as the mail user.
 */
#include "lib.h"
#include "mail-user.h"

struct http_client;
struct ioloop;
struct mailstate_req;

struct mailstate_user {
	union mail_user_module_context module_ctx;
	struct mail_user *user;

	const char *url;            /* mailstate_url + "/v1/reads" */
	const char *auth_header;    /* "Bearer TOKEN" or NULL */
	const char *recipient;      /* expanded mailstate_recipient */
	const char *spool_dir;      /* NULL = no spooling (events lost) */
	const char *hdr_id;         /* header names, default X-Mail-Id/X-Sender */
	const char *hdr_sender;
	unsigned int spool_max;     /* files */
	unsigned int timeout_msecs; /* per request, absolute */

	struct http_client *http;   /* created on first use */
	struct mailstate_req *reqs; /* in flight */
	struct ioloop *wait_ioloop; /* set while deinit waits */
	unsigned int replay_inflight;
	unsigned int replay_failed;
	unsigned int spool_seq;
	/* set by the deliver_mail hook for the delivery under way (lmtp,
	   lda): its source mail, how it came, the envelope's address */
	struct mail *deliver_src;
	const char *deliver_via;
	const char *deliver_orig;
	bool deliver_reported;
	struct timeout *retry_to;    /* in-session retry of the spool */
	unsigned int retry_msecs;    /* 0 = no in-session retry */
	unsigned int replay_done;    /* spool files answered (2xx, 4xx) */
	bool spool_maybe_nonempty;
	bool deinit;
	bool wait_timed_out;
};

/* Append the event body (JSON) for muser's own recipient to str; orig_rcpt
   may be NULL.  Every value is JSON-escaped; the caller has validated them
   (readev.h). */
void mailstate_body(string_t *str, struct mailstate_user *muser,
		    const char *id, const char *sender, const char *event,
		    const char *via, const char *time, const char *orig_rcpt);

/* The plugin's context of user, or NULL if the plugin is not active there. */
struct mailstate_user *mailstate_user_get(struct mail_user *user);

/* Replay muser's spool now, round after round, until it is empty, a round
   fails (tracker still down) or mailstate_timeout passed; logs at info
   what was sent and what is left.  For doveadm mailstate replay. */
void mailstate_replay_wait(struct mailstate_user *muser);

/* Register "doveadm mailstate replay" when running inside doveadm. */
void mailstate_doveadm_init(void);

/* Send one event body (JSON); on a retryable failure it is spooled. */
void mailstate_send(struct mailstate_user *muser, const char *body);

/* Return stale claims, then start an asynchronous replay of the spool. */
void mailstate_spool_replay(struct mailstate_user *muser, bool at_init);

/* Wait (bounded) for requests in flight, spool what is unanswered, free. */
void mailstate_send_deinit(struct mailstate_user *muser);

/* Write body to the spool; 0 ok, -1 full or I/O error (logged). */
int mailstate_spool_write(struct mailstate_user *muser, const char *body);

#endif
