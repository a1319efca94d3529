/*
 * mailstate-doveadm.c - "doveadm mailstate replay [-A | -u USER]" (issue 15):
 * sends what waits in users' spools without a login of theirs.  Contract in
 * mailstate-plugin.h.
 *
 * doveadm dlopen()s the configured mail_plugins at start, before it looks
 * up the command, but calls their init only when it creates a mail user,
 * which is too late to add a command.  So the command is registered by a
 * constructor, at dlopen, when the plugin finds itself inside doveadm (the
 * doveadm_* symbols are weak: absent in imap, lmtp and lda, where the
 * constructor does nothing).  No second module in Dovecot's doveadm module
 * directory, nothing to keep in step.
 */
#include "lib.h"
#include "doveadm-mail.h"
#include "mailstate-plugin.h"

#pragma weak doveadm_cmd_register_ver2
#pragma weak doveadm_mail_cmd_alloc_size
#pragma weak doveadm_mail_failed_error

static bool mailstate_doveadm_registered;

static int
cmd_mailstate_replay_run(struct doveadm_mail_cmd_context *ctx,
			 struct mail_user *user)
{
	struct mailstate_user *muser = mailstate_user_get(user);

	if (muser == NULL) {
		/* settings missing or broken: mail_user_created logged why */
		e_error(user->event, "mailstate: plugin not active for %s; "
			"nothing replayed", user->username);
		doveadm_mail_failed_error(ctx, MAIL_ERROR_NOTPOSSIBLE);
		return -1;
	}
	/* A tracker that is still down is not this command's failure: the
	   timer runs it again, and the count left is logged. */
	mailstate_replay_wait(muser);
	return 0;
}

static struct doveadm_mail_cmd_context *cmd_mailstate_replay_alloc(void)
{
	struct doveadm_mail_cmd_context *ctx;

	ctx = doveadm_mail_cmd_alloc(struct doveadm_mail_cmd_context);
	ctx->v.run = cmd_mailstate_replay_run;
	return ctx;
}

static struct doveadm_cmd_ver2 mailstate_replay_cmd = {
	.name = "mailstate replay",
	.mail_cmd = cmd_mailstate_replay_alloc,
	.usage = DOVEADM_CMD_MAIL_USAGE_PREFIX,
DOVEADM_CMD_PARAMS_START
DOVEADM_CMD_MAIL_COMMON
DOVEADM_CMD_PARAMS_END
};

static void __attribute__((constructor)) mailstate_doveadm_ctor(void)
{
	mailstate_doveadm_init();
}

void mailstate_doveadm_init(void)
{
	if (doveadm_cmd_register_ver2 == NULL || mailstate_doveadm_registered)
		return;
	doveadm_cmd_register_ver2(&mailstate_replay_cmd);
	mailstate_doveadm_registered = TRUE;
}
