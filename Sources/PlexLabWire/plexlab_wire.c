/* PlexLabWire is the protocol's header (include/plexlab_plugin.h); this file checks the ring header's layout,
   which the plugin and the recorder both rely on, and holds the one function C does better than Swift:
   taking a descriptor out of a control message. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "plexlab_plugin.h"

_Static_assert(offsetof(struct plexlab_ring_header, head) == 64, "head on its own cache line");
_Static_assert(offsetof(struct plexlab_ring_header, tail) == 128, "tail on its own cache line");
_Static_assert(sizeof(struct plexlab_ring_header) <= PLEXLAB_RING_HEADER_SIZE, "ring header fits its page");

int plexlab_receive_ring(int sock, int timeout_ms)
{
    struct pollfd p = { .fd = sock, .events = POLLIN };
    int ready;
    do ready = poll(&p, 1, timeout_ms); while (ready < 0 && errno == EINTR);
    if (ready != 1) return -1;
    uint32_t magic = 0;
    struct iovec part = { &magic, sizeof(magic) };
    union { struct cmsghdr header; char space[CMSG_SPACE(sizeof(int))]; } control;
    memset(&control, 0, sizeof(control));
    struct msghdr message = { .msg_iov = &part, .msg_iovlen = 1, .msg_control = control.space,
                              .msg_controllen = sizeof(control.space) };
    ssize_t got;
    do got = recvmsg(sock, &message, MSG_CMSG_CLOEXEC | MSG_DONTWAIT); while (got < 0 && errno == EINTR);
    int fd = -1;
    struct cmsghdr *c = CMSG_FIRSTHDR(&message);
    if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len == CMSG_LEN(sizeof(int)))
        memcpy(&fd, CMSG_DATA(c), sizeof(int));
    if (got != (ssize_t)sizeof(magic) || magic != PLEXLAB_RING_MAGIC || (message.msg_flags & MSG_CTRUNC)) {
        if (fd >= 0) close(fd);
        return -1;
    }
    return fd;
}

int plexlab_peer_pid(int sock)
{
    struct ucred credentials;
    socklen_t length = sizeof(credentials);
    return getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &credentials, &length) == 0 ? credentials.pid : 0;
}
