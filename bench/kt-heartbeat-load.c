/* kt-heartbeat-load: many players posting heartbeats to a real server.
 *
 *   kt-heartbeat-load HOST PORT CHANNEL [CONNECTIONS] [SECONDS] [VIEWERS] [BATCH]
 *
 * Opens CONNECTIONS (default 64) keep-alive connections to HOST:PORT and on
 * each sends POST /api/heartbeat, waits for the answer, and sends the next,
 * for SECONDS (default 10). Heartbeats are real ones, as the player sends
 * them: {"viewer", "name", "phone", "channel", "state": "playing"}, going
 * round VIEWERS (default 5000) people at home, so the server keeps that
 * many sessions and writes them in its batched flushes meanwhile. With
 * BATCH > 1 each request carries an array of BATCH heartbeats, as a relay
 * sends them, and what counts is the "accepted" number of each answer. Prints
 * heartbeats answered 200 per second, and any other answers. One thread and
 * epoll, so the load generator costs little of the machine it shares with
 * the server.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct {
  int fd;
  char out[262144];
  size_t out_len, out_sent;
  char in[4096];
  size_t in_len;
} Conn;

static long viewers = 5000;
static int batch = 1;
static long next_viewer;
static const char *channel;
static long ok_answers, other_answers;

static double
now_s (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
prepare (Conn *c)
{
  static char body[sizeof ((Conn *) 0)->out - 256];
  size_t n = 0;
  if (batch > 1)
    body[n++] = '[';
  for (int i = 0; i < batch; i++) {
    long v = next_viewer++ % viewers;
    n += snprintf (body + n, sizeof body - n,
                   "%s{\"viewer\":\"bench%ld\",\"name\":\"学员%ld\",\"phone\":\"139%08ld\","
                   "\"channel\":\"%s\",\"state\":\"playing\"}",
                   i ? "," : "", v, v, v, channel);
  }
  if (batch > 1)
    body[n++] = ']';
  body[n] = '\0';
  c->out_len = snprintf (c->out, sizeof c->out,
                         "POST /api/heartbeat HTTP/1.1\r\nHost: bench\r\n"
                         "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                         n, body);
  c->out_sent = 0;
  c->in_len = 0;
}

static int
flush_out (Conn *c)
{
  while (c->out_sent < c->out_len) {
    ssize_t w = write (c->fd, c->out + c->out_sent, c->out_len - c->out_sent);
    if (w < 0)
      return errno == EAGAIN ? 0 : -1;
    c->out_sent += w;
  }
  return 0;
}

/* A whole answer in c->in: headers, and a body of Content-Length bytes. */
static int
answer_complete (Conn *c, int *status)
{
  c->in[c->in_len] = '\0';
  char *end = strstr (c->in, "\r\n\r\n");
  if (end == NULL)
    return 0;
  long length = 0;
  char *cl = strcasestr (c->in, "\r\nContent-Length:");
  if (cl != NULL && cl < end)
    length = strtol (cl + 17, NULL, 10);
  if ((size_t) (end + 4 - c->in) + length > c->in_len)
    return 0;
  *status = atoi (c->in + 9);
  return 1;
}

int
main (int argc, char **argv)
{
  if (argc < 4) {
    fprintf (stderr, "usage: kt-heartbeat-load HOST PORT CHANNEL [CONNECTIONS] [SECONDS] [VIEWERS]\n");
    return 64;
  }
  channel = argv[3];
  int n = argc > 4 ? atoi (argv[4]) : 64;
  double seconds = argc > 5 ? atof (argv[5]) : 10;
  viewers = argc > 6 ? atol (argv[6]) : 5000;
  batch = argc > 7 ? atoi (argv[7]) : 1;
  if (batch < 1 || batch > 500) {
    fprintf (stderr, "BATCH is 1 to 500\n");
    return 64;
  }
  struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons (atoi (argv[2])) };
  inet_pton (AF_INET, argv[1], &addr.sin_addr);
  int ep = epoll_create1 (0);
  Conn *conns = calloc (n, sizeof (Conn));
  for (int i = 0; i < n; i++) {
    Conn *c = &conns[i];
    c->fd = socket (AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt (c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect (c->fd, (struct sockaddr *) &addr, sizeof addr) != 0) {
      perror ("connect");
      return 1;
    }
    fcntl (c->fd, F_SETFL, O_NONBLOCK);
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
    epoll_ctl (ep, EPOLL_CTL_ADD, c->fd, &ev);
    prepare (c);
    flush_out (c);
  }
  double start = now_s (), end = start + seconds;
  struct epoll_event events[256];
  while (now_s () < end) {
    int k = epoll_wait (ep, events, 256, 100);
    for (int i = 0; i < k; i++) {
      Conn *c = events[i].data.ptr;
      ssize_t r = read (c->fd, c->in + c->in_len, sizeof c->in - 1 - c->in_len);
      if (r <= 0) {
        if (r < 0 && errno == EAGAIN)
          continue;
        fprintf (stderr, "connection closed by the server\n");
        return 1;
      }
      c->in_len += r;
      int status;
      if (!answer_complete (c, &status))
        continue;
      const char *accepted = strstr (c->in, "\"accepted\":");
      if (status == 200 && batch > 1 && accepted != NULL)
        ok_answers += strtol (accepted + 11, NULL, 10);
      else if (status == 200 && batch == 1)
        ok_answers++;
      else if (other_answers++ < 5)
        fprintf (stderr, "answer %d: %.200s\n", status, c->in);
      prepare (c);
      if (flush_out (c) < 0) {
        perror ("write");
        return 1;
      }
    }
  }
  double took = now_s () - start;
  printf ("heartbeats=%ld other=%ld seconds=%.1f rate=%.0f/s connections=%d viewers=%ld batch=%d\n",
          ok_answers, other_answers, took, ok_answers / took, n, viewers, batch);
  return other_answers > 0;
}
