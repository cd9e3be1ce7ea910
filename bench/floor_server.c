/* floor_server: the cheapest server that still honours the bench contract,
 * used by bench/compare to measure the kernel's floor on this machine.
 *
 * It does only what cannot be avoided: one epoll loop, one read() per
 * readable socket, and one write() per delivered message. The WebSocket
 * upgrade is answered without checking the key, the Engine.IO open packet
 * carries no real session, pings are never sent, and a broadcast is framed
 * once and written to every connected socket in turn. The sio-bench client
 * cannot tell it from a real server, so "server CPU per delivery" measured
 * against it is what one small write() on loopback costs here (the kernel
 * delivers to the receiver inside the sender's write), the bound below
 * which no server can go. It is a measuring instrument, not a server:
 * WebSocket transport only, no limits, output that the kernel does not take
 * at once is dropped and counted.
 *
 * Usage: floor_server [port]; prints "LISTENING <port>"; SIGTERM ends it. */
#define _GNU_SOURCE /* memmem, accept4 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_FDS 65536
#define INBUF 4096

typedef struct peer {
  int fd;
  int ws;        /* upgraded */
  int connected; /* Socket.IO CONNECT answered: receives broadcasts */
  size_t in_len;
  char *in; /* unparsed input, INBUF bytes when allocated */
} peer;

static peer *peers[MAX_FDS];
static int *members; /* connected fds, in connection order */
static size_t nmembers, cap_members;
static unsigned long long dropped;
static volatile sig_atomic_t stop;

static void on_term(int sig) {
  (void)sig;
  stop = 1;
}

static void drop_peer(int ep, peer *p) {
  size_t i;
  epoll_ctl(ep, EPOLL_CTL_DEL, p->fd, NULL);
  if (p->connected)
    for (i = 0; i < nmembers; i++)
      if (members[i] == p->fd) {
        members[i] = members[--nmembers];
        break;
      }
  peers[p->fd] = NULL;
  close(p->fd);
  free(p->in);
  free(p);
}

/* One unmasked server frame around an Engine.IO text packet. */
static size_t frame(char *out, const char *p, size_t n) {
  size_t hl = 2;
  out[0] = (char)0x81;
  if (n < 126) {
    out[1] = (char)n;
  } else {
    out[1] = 126;
    out[2] = (char)(n >> 8);
    out[3] = (char)n;
    hl = 4;
  }
  memcpy(out + hl, p, n);
  return hl + n;
}

static void send_all(int fd, const char *p, size_t n) {
  ssize_t w = write(fd, p, n);
  if (w != (ssize_t)n)
    dropped++;
}

static void on_message(peer *p, char *m, size_t n) {
  char out[65536 + 16], pkt[65536 + 16];
  size_t i, fl, pl;
  if (n >= 2 && m[0] == '4' && m[1] == '0') {
    fl = frame(out, "40{\"sid\":\"floor\"}", 17);
    send_all(p->fd, out, fl);
    if (!p->connected) {
      if (nmembers == cap_members) {
        size_t nc = cap_members ? cap_members * 2 : 1024;
        int *nm = realloc(members, nc * sizeof(*nm));
        if (!nm)
          return;
        members = nm;
        cap_members = nc;
      }
      members[nmembers++] = p->fd;
      p->connected = 1;
    }
  } else if (n > 11 && memcmp(m, "42[\"bcast\",", 11) == 0 && n < sizeof(pkt)) {
    /* Encoded once, written to each member with one write() apiece. */
    fl = frame(out, m, n);
    for (i = 0; i < nmembers; i++)
      send_all(members[i], out, fl);
  } else if (n > 2 && m[0] == '4' && m[1] == '2' && m[2] >= '0' &&
             m[2] <= '9' && n < sizeof(pkt)) {
    /* 42<id>["echo",X] -> 43<id>[X] */
    char *arg = memchr(m, ',', n);
    size_t idl = 0;
    while (2 + idl < n && m[2 + idl] >= '0' && m[2 + idl] <= '9')
      idl++;
    if (!arg || n < 2 + idl + 1)
      return;
    pl = (size_t)snprintf(pkt, sizeof(pkt), "43%.*s[", (int)idl, m + 2);
    memcpy(pkt + pl, arg + 1, (size_t)(m + n - (arg + 1)));
    pl += (size_t)(m + n - (arg + 1));
    fl = frame(out, pkt, pl);
    send_all(p->fd, out, fl);
  }
}

/* Parses masked client frames; returns bytes consumed or -1 to drop. */
static ssize_t parse_frames(peer *p, char *b, size_t len) {
  size_t off = 0;
  while (len - off >= 6) {
    unsigned char b0 = (unsigned char)b[off], b1 = (unsigned char)b[off + 1];
    size_t plen = b1 & 0x7f, hl = 2, i;
    char *mask, *pl;
    if (!(b1 & 0x80) || plen == 127)
      return -1; /* unmasked, or larger than this instrument takes */
    if (plen == 126) {
      if (len - off < 8)
        break;
      plen = (size_t)(unsigned char)b[off + 2] << 8 | (unsigned char)b[off + 3];
      hl = 4;
    }
    if (len - off < hl + 4 + plen)
      break;
    mask = b + off + hl;
    pl = mask + 4;
    for (i = 0; i < plen; i++)
      pl[i] ^= mask[i & 3];
    if ((b0 & 0x0f) == 0x8)
      return -1;
    if ((b0 & 0x0f) == 0x1)
      on_message(p, pl, plen);
    off += hl + 4 + plen;
  }
  return (ssize_t)off;
}

static int on_readable(int ep, peer *p, char *buf, size_t cap) {
  ssize_t n = read(p->fd, buf + p->in_len, cap - p->in_len);
  ssize_t used;
  size_t len;
  if (n <= 0)
    return n < 0 && errno == EAGAIN ? 0 : -1;
  if (p->in_len)
    memcpy(buf, p->in, p->in_len);
  len = p->in_len + (size_t)n;
  if (!p->ws) {
    char *end = memmem(buf, len, "\r\n\r\n", 4);
    static const char resp[] =
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\n"
        "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
    static const char open_pkt[] =
        "0{\"sid\":\"floor\",\"upgrades\":[],\"pingInterval\":25000,"
        "\"pingTimeout\":20000,\"maxPayload\":1000000}";
    char out[256];
    size_t fl;
    if (!end) {
      used = 0;
    } else {
      memcpy(out, resp, sizeof(resp) - 1);
      fl = frame(out + sizeof(resp) - 1, open_pkt, sizeof(open_pkt) - 1);
      send_all(p->fd, out, sizeof(resp) - 1 + fl);
      p->ws = 1;
      used = end + 4 - buf;
      if ((size_t)used < len) {
        ssize_t more = parse_frames(p, buf + used, len - (size_t)used);
        if (more < 0)
          return -1;
        used += more;
      }
    }
  } else {
    used = parse_frames(p, buf, len);
    if (used < 0)
      return -1;
  }
  (void)ep;
  p->in_len = len - (size_t)used;
  if (p->in_len) {
    if (p->in_len > INBUF)
      return -1;
    if (!p->in && !(p->in = malloc(INBUF)))
      return -1;
    memmove(p->in, buf + used, p->in_len);
  }
  return 0;
}

int main(int argc, char **argv) {
  static char buf[1 << 17];
  struct epoll_event evs[256], ev;
  struct sockaddr_in sa;
  socklen_t sl = sizeof(sa);
  int lfd, ep, one = 1, i, n;
  memset(&sa, 0, sizeof(sa));
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sa.sin_port = htons((uint16_t)(argc > 1 ? atoi(argv[1]) : 0));
  signal(SIGTERM, on_term);
  signal(SIGINT, on_term);
  signal(SIGPIPE, SIG_IGN);
  lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) ||
      listen(lfd, 511) || getsockname(lfd, (struct sockaddr *)&sa, &sl)) {
    perror("floor_server");
    return 1;
  }
  ep = epoll_create1(0);
  ev.events = EPOLLIN;
  ev.data.fd = lfd;
  epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
  printf("LISTENING %d\n", ntohs(sa.sin_port));
  fflush(stdout);
  while (!stop) {
    n = epoll_wait(ep, evs, 256, 200);
    for (i = 0; i < n; i++) {
      int fd = evs[i].data.fd;
      if (fd == lfd) {
        int c;
        while ((c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
          peer *p = calloc(1, sizeof(*p));
          if (!p || c >= MAX_FDS) {
            free(p);
            close(c);
            continue;
          }
          setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
          p->fd = c;
          peers[c] = p;
          ev.events = EPOLLIN;
          ev.data.fd = c;
          epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
        }
      } else if (peers[fd] &&
                 on_readable(ep, peers[fd], buf, sizeof(buf) / 2)) {
        drop_peer(ep, peers[fd]);
      }
    }
  }
  if (dropped)
    fprintf(stderr, "floor_server: %llu writes not taken whole\n", dropped);
  return 0;
}
