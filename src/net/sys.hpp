// The system calls the socket code makes, behind one seam so that tests can inject
// EINTR, EAGAIN or an unforeseen errno. Production code never changes these.
#pragma once

#include <poll.h>
#include <sys/socket.h>

namespace repy::detail::sys {

inline ssize_t (*recv)(int, void*, size_t, int) = ::recv;
inline ssize_t (*send)(int, const void*, size_t, int) = ::send;
inline ssize_t (*recvfrom)(int, void*, size_t, int, sockaddr*, socklen_t*) = ::recvfrom;
inline ssize_t (*sendto)(int, const void*, size_t, int, const sockaddr*, socklen_t) = ::sendto;
inline int (*accept4)(int, sockaddr*, socklen_t*, int) = ::accept4;
inline int (*connect)(int, const sockaddr*, socklen_t) = ::connect;
inline int (*bind)(int, const sockaddr*, socklen_t) = ::bind;
inline int (*listen)(int, int) = ::listen;
inline int (*poll)(pollfd*, nfds_t, int) = ::poll;

}  // namespace repy::detail::sys
