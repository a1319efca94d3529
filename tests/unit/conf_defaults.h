#ifndef MAILSTATE_TEST_CONF_DEFAULTS_H
#define MAILSTATE_TEST_CONF_DEFAULTS_H
/*
 * conf_defaults.h - shared by test_conf.c and test_conf_sample.c: asserts
 * that a struct conf holds exactly the documented defaults.  Include after
 * cmocka.h, conf.h, log.h and paths.h.
 */
#include <string.h>
#include <unistd.h>

static void check_defaults(const struct conf *c)
{
    char host[256];
    gethostname(host, sizeof(host));
    host[sizeof(host) - 1] = '\0';
    if (strchr(host, '.'))
        *strchr(host, '.') = '\0';

    assert_string_equal(c->this_server, host);
    assert_string_equal(c->key_file, MAILSTATE_KEY_PATH);
    assert_null(c->key);
    assert_int_equal(c->tracking, 1);
    assert_int_equal(c->record_subject, 0);
    assert_int_equal(c->retention, 30 * 86400);
    assert_int_equal(c->n_opt_out, 0);
    assert_string_equal(c->header_mail_id, "X-Mail-Id");
    assert_string_equal(c->header_sender, "X-Sender");
    assert_string_equal(c->milter_socket, "unix:" MAILSTATE_RUN_DIR "/milter.sock");
    assert_int_equal(c->milter_on_error, CONF_ON_ERROR_ACCEPT);
    assert_int_equal(c->milter_socket_mode, 0660);
    assert_string_equal(c->milter_user, "");
    assert_string_equal(c->milter_pid_file, "");
    assert_int_equal(c->milter_timeout, 7210);
    assert_string_equal(c->tracker_listen, "127.0.0.1:8026");
    assert_int_equal(c->tracker_threads, 0);
    assert_int_equal(c->tracker_max_body, 65536);
    assert_int_equal(c->tracker_max_header, 8192);
    assert_int_equal(c->tracker_max_url, 2048);
    assert_int_equal(c->tracker_max_connections, 1024);
    assert_int_equal(c->tracker_idle_timeout, 30);
    assert_string_equal(c->tracker_user, "");
    assert_string_equal(c->tracker_pid_file, "");
    assert_int_equal(c->tracker_sync_window, 300);
    assert_string_equal(c->store_path, MAILSTATE_STATE_DIR);
    assert_int_equal(c->store_map_size, 64 << 20);
    assert_int_equal(c->store_map_size_max, 4ULL << 30);
    assert_int_equal(c->log_level, LOG_LEVEL_INFO);
    assert_int_equal(c->n_tokens, 0);
    /* one-server system: this host hosts localhost; loopback is trusted */
    assert_int_equal(msys_server_count(c->msys), 1);
    assert_string_equal(msys_this_server(c->msys), host);
    assert_int_equal(msys_judge_recipient(c->msys, "root@localhost", NULL), MSYS_LOCAL);
    assert_int_equal(msys_client_trusted(c->msys, "127.0.0.1"), 1);
    assert_int_equal(msys_client_trusted(c->msys, "::1"), 1);
    assert_int_equal(msys_client_trusted(c->msys, "10.0.0.1"), 0);
}

#endif
