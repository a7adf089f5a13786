#ifndef C_LIBPQ_SHIM_H
#define C_LIBPQ_SHIM_H
#include <libpq-fe.h>
/* Waiting on libpq's sockets while its non-blocking calls run (Postgres's
   SocketReadinessMonitor); Glibc's Swift module leaves these headers out. */
#include <sys/epoll.h>
#include <sys/eventfd.h>
#endif
