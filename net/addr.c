/* net/addr.c - errno to WEIR_E* codes, socket addresses as text, fd flags. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "net/poll_internal.h"

int weir__errno_code(int err) {
    switch (err) {
        case 0:
            return WEIR_OK;
        case ECONNRESET:
        case ECONNABORTED:
            return WEIR_ECONNRESET;
        case EPIPE:
            return WEIR_EPIPE;
        case ECONNREFUSED:
            return WEIR_ECONNREFUSED;
        case EHOSTUNREACH:
        case ENETUNREACH:
        case ENETDOWN:
#ifdef EHOSTDOWN
        case EHOSTDOWN:
#endif
            return WEIR_EHOSTUNREACH;
        case EADDRINUSE:
            return WEIR_EADDRINUSE;
        case ETIMEDOUT:
            return WEIR_ETIMEDOUT;
        case ENOENT:
            return WEIR_ENOENT;
        case ENOMEM:
        case ENOBUFS:
            return WEIR_ENOMEM;
        case EINVAL:
        case ENAMETOOLONG:
        case EBADF:
        case ENOTSOCK:
            return WEIR_EINVAL;
        default:
            return WEIR_EIO;
    }
}

void weir__addr_text(const struct sockaddr *sa, socklen_t len, char *buf, size_t n) {
    if (n == 0) return;
    buf[0] = '\0';
    if (!sa || len < (socklen_t)sizeof sa->sa_family) return;
    char ip[INET6_ADDRSTRLEN];
    switch (sa->sa_family) {
        case AF_INET: {
            const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
            if (!inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip)) return;
            snprintf(buf, n, "%s:%u", ip, (unsigned)ntohs(in->sin_port));
            return;
        }
        case AF_INET6: {
            const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
            if (!inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip)) return;
            snprintf(buf, n, "[%s]:%u", ip, (unsigned)ntohs(in6->sin6_port));
            return;
        }
        case AF_UNIX: {
            const struct sockaddr_un *un = (const struct sockaddr_un *)sa;
            size_t off = offsetof(struct sockaddr_un, sun_path);
            if ((size_t)len <= off) return; /* unnamed */
            size_t plen = (size_t)len - off;
            if (plen > sizeof un->sun_path) plen = sizeof un->sun_path;
            if (un->sun_path[0] == '\0') {
                /* Linux's abstract namespace: the name is the bytes after the NUL. */
                snprintf(buf, n, "@%.*s", (int)(plen - 1), un->sun_path + 1);
                return;
            }
            snprintf(buf, n, "%.*s", (int)strnlen(un->sun_path, plen), un->sun_path);
            return;
        }
        default:
            return;
    }
}

int weir__fd_nonblock_cloexec(int fd) {
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) return weir__errno_code(errno);
    int fdfl = fcntl(fd, F_GETFD);
    if (fdfl < 0 || fcntl(fd, F_SETFD, fdfl | FD_CLOEXEC) < 0) return weir__errno_code(errno);
    return WEIR_OK;
}
