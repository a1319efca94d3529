#ifndef MAILSTATE_PIDFILE_H
#define MAILSTATE_PIDFILE_H
/*
 * pidfile - write a daemon's PID file safely.
 *
 * The daemons write it as root, before dropping privileges, into a
 * directory the admin chose: a symlink planted there (by the unprivileged
 * user the daemon runs as, say) must not make root truncate another file.
 * So the file is opened with O_NOFOLLOW (a symlink is refused, ELOOP) and
 * must be a regular file; it is truncated only after that check.
 *
 * pidfile_write(path): "" or NULL writes nothing; 0, or -1 logged with
 * the reason (log.h).
 */
int pidfile_write(const char *path);

#endif
