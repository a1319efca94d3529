#ifndef MAILSTATE_AUTHSLOW_H
#define MAILSTATE_AUTHSLOW_H
/*
 * authslow - repeated password failures from one client address are
 * slowed: after AUTHSLOW_FREE failures, each further attempt from that
 * address must wait authslow_delay_s(failures) seconds after the last
 * failure (5, 10, 20, ... up to AUTHSLOW_MAX_S; counted from when the
 * failure was answered, so Dovecot's own auth_failure_delay comes on top); an attempt inside the wait
 * is refused (HTTP 429 with Retry-After) without asking Dovecot.  An
 * address's count is forgotten AUTHSLOW_FORGET_S after its last failure.
 * A success does not reset it (one known account must not buy unlimited
 * guesses at the others); a cached success is not slowed (authcache is
 * asked first), so a user whose password is known keeps working.
 *
 * The table holds AUTHSLOW_SLOTS addresses (chosen by hash; a newcomer
 * takes a slot whose count was forgotten, else the oldest of its bucket).
 * Thread-safe.  authslow_delay_s() is pure.
 */
#include <stdint.h>

#define AUTHSLOW_FREE     3
#define AUTHSLOW_BASE_S   5
#define AUTHSLOW_MAX_S    300
#define AUTHSLOW_FORGET_S 900
#define AUTHSLOW_SLOTS    4096

unsigned authslow_delay_s(unsigned failures);
/* 0 = go ahead; else the seconds to wait (for Retry-After). */
unsigned authslow_check(const char *addr, uint64_t now_ms);
void     authslow_failed(const char *addr, uint64_t now_ms);

#endif
