/*
 * pidfile - PID files opened without following symlinks; see pidfile.h.
 */
#include "pidfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

int pidfile_write(const char *path)
{
    struct stat st;
    char buf[32];
    int fd, n;

    if (path == NULL || path[0] == '\0')
        return 0;
    /* No O_TRUNC: a non-regular file (a FIFO, a device) is left alone. */
    fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0644);
    if (fd < 0) {
        if (errno == ELOOP)
            log_error("cannot write PID file %s: it is a symbolic link", path);
        else
            log_error_errno("cannot write PID file %s", path);
        return -1;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        log_error("cannot write PID file %s: not a regular file", path);
        close(fd);
        return -1;
    }
    n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) < 0 || write(fd, buf, (size_t)n) != n) {
        log_error_errno("cannot write PID file %s", path);
        close(fd);
        return -1;
    }
    if (close(fd) < 0) {
        log_error_errno("cannot write PID file %s", path);
        return -1;
    }
    return 0;
}
