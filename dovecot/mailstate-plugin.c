/*
 * mailstate-plugin.c - notify hooks, per-user settings, event bodies.
 * Contract in mailstate-plugin.h.
 */
#include "lib.h"
#include "array.h"
#include "str.h"
#include "strfuncs.h"
#include "json-parser.h"
#include "settings-parser.h"
#include "mail-user.h"
#include "mail-namespace.h"
#include "mail-storage-private.h"
#include "mail-storage-hooks.h"
#include "notify-plugin.h"
#include "smtp-address.h"
#include "mail-deliver.h"
#include "time-util.h"
#include "mailstate-plugin.h"
#include "readev.h"

#include <sys/time.h>

#define MAILSTATE_DEFAULT_URL        "http://127.0.0.1:8026"
#define MAILSTATE_DEFAULT_SPOOL_DIR  "~/mailstate-spool"
#define MAILSTATE_DEFAULT_SPOOL_MAX  1000
#define MAILSTATE_DEFAULT_TIMEOUT_MS 5000
#define MAILSTATE_DEFAULT_RETRY_MS   30000

#define MAILSTATE_USER_CONTEXT(obj) \
	MODULE_CONTEXT(obj, mailstate_user_module)

/* Dovecot's naming scheme: <name>_plugin_{version,dependencies,init,deinit};
   everything else in the module is hidden (-fvisibility=hidden). */
#define MAILSTATE_EXPORT __attribute__((visibility("default")))
MAILSTATE_EXPORT const char *mailstate_plugin_version = DOVECOT_ABI_VERSION;
MAILSTATE_EXPORT const char *mailstate_plugin_dependencies[] = { "notify", NULL };
MAILSTATE_EXPORT void mailstate_plugin_init(struct module *module);
MAILSTATE_EXPORT void mailstate_plugin_deinit(void);

/* mail_deliver_hook_set() lives in libdovecot-lda, which lmtp and
   dovecot-lda link and imap does not: a weak reference keeps the plugin
   loadable everywhere (Dovecot loads modules with RTLD_NOW), and is NULL
   where there is no delivery. */
#pragma weak mail_deliver_hook_set
static deliver_mail_func_t *mailstate_next_deliver_mail;
static bool mailstate_deliver_hooked;

static MODULE_CONTEXT_DEFINE_INIT(mailstate_user_module,
				  &mail_user_module_register);
static struct notify_context *mailstate_notify_ctx;

struct mailstate_txn {
	pool_t pool;
	struct mailstate_user *muser;
	ARRAY_TYPE(const_string) bodies;
	bool has_received;
};

/* The source of the last copy: a MOVE is a copy followed by an expunge of
   the source, which must not count as a deletion.  The copy hook sees the
   source first, so remembering (box, uid) is enough. */
static struct mailbox *mailstate_last_copy_box;
static uint32_t mailstate_last_copy_uid;

/* RFC 3339 UTC with milliseconds, now. */
static const char *mailstate_now_rfc3339(void)
{
	struct timeval tv;
	char *buf = t_malloc0(READEV_TIME_LEN + 1);

	i_gettimeofday(&tv);
	if (readev_time((uint64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000,
			buf) < 0)
		i_panic("mailstate: cannot format time %ld", (long)tv.tv_sec);
	return buf;
}

void mailstate_body(string_t *str, struct mailstate_user *muser,
		    const char *id, const char *sender, const char *event,
		    const char *via, const char *time, const char *orig_rcpt)
{
	str_append(str, "{\"mail_id\":\"");
	json_append_escaped(str, id);
	str_append(str, "\",\"sender\":\"");
	json_append_escaped(str, sender);
	str_append(str, "\",\"recipient\":\"");
	json_append_escaped(str, muser->recipient);
	if (orig_rcpt != NULL) {
		str_append(str, "\",\"original_recipient\":\"");
		json_append_escaped(str, orig_rcpt);
	}
	str_append(str, "\",\"via\":\"");
	json_append_escaped(str, via);
	str_append(str, "\",\"event\":\"");
	json_append_escaped(str, event);
	str_append(str, "\",\"time\":\"");
	json_append_escaped(str, time);
	str_append(str, "\"}");
}

/* The JSON body for an event on mail, or NULL if the mail carries no valid
   mailstate headers (most mails: external or sent before mailstate). */
static const char *
mailstate_event_body(struct mailstate_user *muser, struct mail *mail,
		     const char *event, const char *via, const char *orig_rcpt)
{
	const char *raw_id, *raw_sender;
	char id[READEV_VALUE_LEN + 1], sender[READEV_SENDER_MAX + 1];
	string_t *str;

	if (mail_get_first_header(mail, muser->hdr_id, &raw_id) <= 0)
		return NULL;
	if (readev_mail_id(raw_id, id) < 0) {
		e_debug(muser->user->event, "mailstate: uid %u: "
			"malformed %s header ignored", mail->uid,
			muser->hdr_id);
		return NULL;
	}
	if (mail_get_first_header(mail, muser->hdr_sender, &raw_sender) <= 0 ||
	    readev_sender(raw_sender, sender) < 0) {
		e_warning(muser->user->event, "mailstate: mail %s: "
			  "%s header missing or malformed, %s not reported",
			  id, muser->hdr_sender, event);
		return NULL;
	}
	str = t_str_new(256);
	mailstate_body(str, muser, id, sender, event, via,
		       mailstate_now_rfc3339(), orig_rcpt);
	e_debug(muser->user->event, "mailstate: mail %s: %s queued", id, event);
	return str_c(str);
}

static void
mailstate_txn_add_full(struct mailstate_txn *mt, struct mail *mail,
		       const char *event, const char *via,
		       const char *orig_rcpt)
{
	T_BEGIN {
		const char *body = mailstate_event_body(mt->muser, mail, event,
							via, orig_rcpt);

		if (body != NULL) {
			body = p_strdup(mt->pool, body);
			array_push_back(&mt->bodies, &body);
		}
	} T_END;
}

static void
mailstate_txn_add(struct mailstate_txn *mt, struct mail *mail,
		  const char *event)
{
	mailstate_txn_add_full(mt, mail, event, "imap", NULL);
}

static void *
mailstate_mail_transaction_begin(struct mailbox_transaction_context *t)
{
	struct mailbox *box = t->box;
	struct mailstate_user *muser =
		MAILSTATE_USER_CONTEXT(box->storage->user);
	struct mailstate_txn *mt;
	pool_t pool;

	/* Only the owner reading their own mail is a read; shared and public
	   namespaces (and users without the plugin's settings) are ignored. */
	if (muser == NULL ||
	    mailbox_get_namespace(box)->type != MAIL_NAMESPACE_TYPE_PRIVATE)
		return NULL;
	pool = pool_alloconly_create("mailstate txn", 1024);
	mt = p_new(pool, struct mailstate_txn, 1);
	mt->pool = pool;
	mt->muser = muser;
	p_array_init(&mt->bodies, pool, 4);
	return mt;
}

static void
mailstate_mail_update_flags(void *txn, struct mail *mail,
			    enum mail_flags old_flags)
{
	struct mailstate_txn *mt = txn;
	enum mail_flags new_flags;

	if (mt == NULL)
		return;
	new_flags = mail_get_flags(mail);
	if ((old_flags & MAIL_SEEN) == 0 && (new_flags & MAIL_SEEN) != 0)
		mailstate_txn_add(mt, mail, "read");
	else if ((old_flags & MAIL_DELETED) == 0 &&
		 (new_flags & (MAIL_DELETED | MAIL_SEEN)) == MAIL_DELETED)
		mailstate_txn_add(mt, mail, "deleted_unread");
}

static void mailstate_mail_expunge(void *txn, struct mail *mail)
{
	struct mailstate_txn *mt = txn;
	enum mail_flags flags;

	if (mt == NULL)
		return;
	if (mail->box == mailstate_last_copy_box &&
	    mail->uid == mailstate_last_copy_uid) {
		/* the source half of a MOVE: the copy hook judged it */
		mailstate_last_copy_box = NULL;
		return;
	}
	/* An unseen mail flagged \Deleted was reported when the flag was set;
	   this catches expunges without the flag (doveadm, autoexpunge). */
	flags = mail_get_flags(mail);
	if ((flags & (MAIL_SEEN | MAIL_DELETED)) == 0)
		mailstate_txn_add(mt, mail, "deleted_unread");
}

/* The delivery under way saves its mail (LMTP, LDA, Sieve's fileinto):
   "received", once per delivery whatever the number of copies a Sieve
   script makes.  The headers are read from the delivery's source mail. */
static void mailstate_txn_add_received(struct mailstate_txn *mt)
{
	struct mailstate_user *muser = mt->muser;

	if (muser->deliver_reported)
		return;
	muser->deliver_reported = TRUE;
	mt->has_received = TRUE;
	mailstate_txn_add_full(mt, muser->deliver_src, "received",
			       muser->deliver_via, muser->deliver_orig);
}

/* Dovecot's LMTP and LDA save a delivery through mail_save (2.3 copies the
   raw mail by saving its stream); an IMAP APPEND also ends here, but only
   a delivery has deliver_src set. */
static void mailstate_mail_save(void *txn, struct mail *mail ATTR_UNUSED)
{
	struct mailstate_txn *mt = txn;

	if (mt != NULL && mt->muser->deliver_src != NULL)
		mailstate_txn_add_received(mt);
}

static void
mailstate_mail_copy(void *txn, struct mail *src, struct mail *dst)
{
	struct mailstate_txn *mt = txn;

	mailstate_last_copy_box = src->box;
	mailstate_last_copy_uid = src->uid;
	if (mt != NULL && mt->muser->deliver_src != NULL &&
	    mt->muser->deliver_src == src) {
		/* a delivery saved by copying (a storage that hard-links) */
		mailstate_txn_add_received(mt);
		return;
	}
	/* Moving an unseen mail to Trash is how most clients delete.  LMTP
	   delivery copies from the "raw" storage: never an event. */
	if (mt == NULL || strcmp(src->box->storage->name, "raw") == 0)
		return;
	if (!mailbox_has_special_use(dst->box, "\\Trash") ||
	    mailbox_has_special_use(src->box, "\\Trash"))
		return;
	if ((mail_get_flags(src) & MAIL_SEEN) == 0)
		mailstate_txn_add(mt, src, "deleted_unread");
}

static void
mailstate_mail_transaction_commit(void *txn,
		struct mail_transaction_commit_changes *changes ATTR_UNUSED)
{
	struct mailstate_txn *mt = txn;
	const char *body;

	if (mt == NULL)
		return;
	array_foreach_elem(&mt->bodies, body)
		mailstate_send(mt->muser, body);
	pool_unref(&mt->pool);
}

static void mailstate_mail_transaction_rollback(void *txn)
{
	struct mailstate_txn *mt = txn;

	if (mt == NULL)
		return;
	/* the save failed: the fallback save (INBOX) reports instead */
	if (mt->has_received)
		mt->muser->deliver_reported = FALSE;
	pool_unref(&mt->pool);
}

/* The address the envelope named, if it is not the final recipient: ORCPT
   (RFC 3461) where the LMTP client sent it, else the RCPT TO address (what
   Dovecot writes into Delivered-To: with lmtp_hdr_delivery_address = final;
   for bob+news@ it keeps the extension the user name lost).  Both come
   from the envelope, never from a header of the message, which the sender
   wrote.  NULL if it equals the final recipient or is not a plain
   local@domain. */
static const char *
mailstate_original_recipient(struct mailstate_user *muser,
			     const struct mail_deliver_context *ctx)
{
	const struct smtp_address *addr = ctx->rcpt_params.orcpt.addr;
	char buf[READEV_SENDER_MAX + 1];
	const char *orig;

	if (addr == NULL || addr->localpart == NULL || addr->domain == NULL)
		addr = ctx->rcpt_to;
	if (addr == NULL || addr->localpart == NULL || addr->domain == NULL)
		return NULL;
	orig = t_strconcat(addr->localpart, "@", addr->domain, NULL);
	if (readev_address(orig, buf) < 0) {
		e_debug(muser->user->event, "mailstate: original recipient %s "
			"is not a plain address; not reported", orig);
		return NULL;
	}
	if (strcasecmp(orig, muser->recipient) == 0)
		return NULL;
	return p_strdup(muser->user->pool, orig);
}

/* Every delivery passes here before anything is saved: remember which
   source mail it saves and for whom, so that the copy hook can tell a
   delivery's save from any other copy. */
static int
mailstate_deliver_mail(struct mail_deliver_context *ctx,
		       struct mail_storage **storage_r)
{
	struct mailstate_user *muser = ctx->rcpt_user == NULL ? NULL :
		MAILSTATE_USER_CONTEXT(ctx->rcpt_user);

	if (muser != NULL) {
		muser->deliver_src = ctx->src_mail;
		muser->deliver_reported = FALSE;
		muser->deliver_via = strcmp(ctx->rcpt_user->service, "lda") == 0 ?
			"lda" : "lmtp";
		T_BEGIN {
			muser->deliver_orig =
				mailstate_original_recipient(muser, ctx);
		} T_END;
		e_debug(muser->user->event, "mailstate: delivery via %s, "
			"original recipient %s", muser->deliver_via,
			muser->deliver_orig == NULL ? "(same)" :
			muser->deliver_orig);
	}
	/* -1 without a next hook: Dovecot then saves to the default mailbox,
	   as if no hook were set. */
	if (mailstate_next_deliver_mail == NULL)
		return -1;
	return mailstate_next_deliver_mail(ctx, storage_r);
}

static void mailstate_mail_user_deinit(struct mail_user *user)
{
	struct mailstate_user *muser = MAILSTATE_USER_CONTEXT(user);

	mailstate_send_deinit(muser);
	muser->module_ctx.super.deinit(user);
}

struct mailstate_user *mailstate_user_get(struct mail_user *user)
{
	return MAILSTATE_USER_CONTEXT(user);
}

static const char *
mailstate_setting(struct mail_user *user, const char *name, const char *def)
{
	const char *value = mail_user_plugin_getenv(user, name);

	return value == NULL || *value == '\0' ? def : value;
}

/* Settings of one user; false (logged) if the plugin cannot work for them. */
static bool
mailstate_user_settings(struct mail_user *user, struct mailstate_user *muser)
{
	const char *url, *token, *rcpt, *at, *value, *error;

	url = mailstate_setting(user, "mailstate_url", MAILSTATE_DEFAULT_URL);
	if (!str_begins(url, "http://") && !str_begins(url, "https://")) {
		e_error(user->event, "mailstate: mailstate_url=%s: "
			"not an http:// or https:// URL; plugin disabled", url);
		return FALSE;
	}
	while (*url != '\0' && url[strlen(url) - 1] == '/')
		url = t_strndup(url, strlen(url) - 1);
	muser->url = p_strconcat(user->pool, url, "/v1/reads", NULL);

	token = mailstate_setting(user, "mailstate_token", NULL);
	if (token == NULL) {
		e_error(user->event, "mailstate: mailstate_token is not set; "
			"plugin disabled");
		return FALSE;
	}
	muser->auth_header = p_strconcat(user->pool, "Bearer ", token, NULL);

	/* Plugin settings arrive %-expanded (%u, %n@%d, userdb fields). */
	rcpt = mailstate_setting(user, "mailstate_recipient", user->username);
	at = strrchr(rcpt, '@');
	if (at == NULL || at == rcpt || at[1] == '\0') {
		e_error(user->event, "mailstate: mailstate_recipient=%s: "
			"not a local@domain address; plugin disabled", rcpt);
		return FALSE;
	}
	muser->recipient = p_strdup(user->pool, rcpt);

	value = mailstate_setting(user, "mailstate_spool_dir",
				  MAILSTATE_DEFAULT_SPOOL_DIR);
	value = mail_user_home_expand(user, value);
	if (*value != '/') {
		e_error(user->event, "mailstate: mailstate_spool_dir=%s: "
			"not an absolute path (no home?); events are not "
			"spooled while the tracker is down", value);
		muser->spool_dir = NULL;
	} else {
		muser->spool_dir = p_strdup(user->pool, value);
	}

	muser->spool_max = MAILSTATE_DEFAULT_SPOOL_MAX;
	value = mailstate_setting(user, "mailstate_spool_max", NULL);
	if (value != NULL && str_to_uint(value, &muser->spool_max) < 0) {
		e_error(user->event, "mailstate: mailstate_spool_max=%s: "
			"not a number; using %u", value,
			MAILSTATE_DEFAULT_SPOOL_MAX);
		muser->spool_max = MAILSTATE_DEFAULT_SPOOL_MAX;
	}

	muser->timeout_msecs = MAILSTATE_DEFAULT_TIMEOUT_MS;
	value = mailstate_setting(user, "mailstate_timeout", NULL);
	if (value != NULL &&
	    (settings_get_time_msecs(value, &muser->timeout_msecs, &error) < 0 ||
	     muser->timeout_msecs == 0)) {
		e_error(user->event, "mailstate: mailstate_timeout=%s: %s; "
			"using %u ms", value, muser->timeout_msecs == 0 ?
			"must be > 0" : error, MAILSTATE_DEFAULT_TIMEOUT_MS);
		muser->timeout_msecs = MAILSTATE_DEFAULT_TIMEOUT_MS;
	}

	muser->retry_msecs = MAILSTATE_DEFAULT_RETRY_MS;
	value = mailstate_setting(user, "mailstate_retry_interval", NULL);
	if (value != NULL &&
	    settings_get_time_msecs(value, &muser->retry_msecs, &error) < 0) {
		e_error(user->event, "mailstate: mailstate_retry_interval=%s: "
			"%s; using %u ms", value, error,
			MAILSTATE_DEFAULT_RETRY_MS);
		muser->retry_msecs = MAILSTATE_DEFAULT_RETRY_MS;
	}

	muser->hdr_id = p_strdup(user->pool, mailstate_setting(user,
				 "mailstate_header_id", "X-Mail-Id"));
	muser->hdr_sender = p_strdup(user->pool, mailstate_setting(user,
				     "mailstate_header_sender", "X-Sender"));
	return TRUE;
}

static void mailstate_mail_user_created(struct mail_user *user)
{
	struct mail_user_vfuncs *v = user->vlast;
	struct mailstate_user *muser;

	/* LMTP's "raw mail user" and the owners of shared namespaces are
	   autocreated: nobody reads as them. */
	if (user->autocreated)
		return;
	muser = p_new(user->pool, struct mailstate_user, 1);
	muser->user = user;
	if (!mailstate_user_settings(user, muser))
		return;
	muser->module_ctx.super = *v;
	user->vlast = &muser->module_ctx.super;
	v->deinit = mailstate_mail_user_deinit;
	MODULE_CONTEXT_SET(user, mailstate_user_module, muser);

	/* Deliveries (lmtp, lda) are short-lived and must not wait for the
	   tracker at deinit; sessions where a user reads replay the spool. */
	if (strcmp(user->service, "lmtp") != 0 &&
	    strcmp(user->service, "lda") != 0) {
		/* doveadm's users live for one command: no retry timer */
		if (strcmp(user->service, "doveadm") == 0)
			muser->retry_msecs = 0;
		muser->spool_maybe_nonempty = TRUE;
		mailstate_spool_replay(muser, TRUE);
	} else {
		muser->retry_msecs = 0;
	}
}

static const struct notify_vfuncs mailstate_vfuncs = {
	.mail_transaction_begin = mailstate_mail_transaction_begin,
	.mail_copy = mailstate_mail_copy,
	.mail_save = mailstate_mail_save,
	.mail_expunge = mailstate_mail_expunge,
	.mail_update_flags = mailstate_mail_update_flags,
	.mail_transaction_commit = mailstate_mail_transaction_commit,
	.mail_transaction_rollback = mailstate_mail_transaction_rollback,
};

static struct mail_storage_hooks mailstate_mail_storage_hooks = {
	.mail_user_created = mailstate_mail_user_created,
};

void mailstate_plugin_init(struct module *module)
{
	mailstate_notify_ctx = notify_register(&mailstate_vfuncs);
	mail_storage_hooks_add(module, &mailstate_mail_storage_hooks);
	mailstate_doveadm_init();
	if (mail_deliver_hook_set != NULL) {
		mailstate_next_deliver_mail =
			mail_deliver_hook_set(mailstate_deliver_mail);
		mailstate_deliver_hooked = TRUE;
	}
}

void mailstate_plugin_deinit(void)
{
	if (mailstate_deliver_hooked) {
		(void)mail_deliver_hook_set(mailstate_next_deliver_mail);
		mailstate_deliver_hooked = FALSE;
	}
	mail_storage_hooks_remove(&mailstate_mail_storage_hooks);
	notify_unregister(mailstate_notify_ctx);
}
