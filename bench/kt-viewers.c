/* kt-viewers: many HLS live viewers from one process, for load benchmarks.
 *
 *   kt-viewers URL N [RAMP_S] [DURATION_S] [PICK]
 *
 * URL is a live master playlist (http://HOST:PORT/live/1/index.m3u8). Each of
 * the N viewers behaves like hls.js on a live stream: it loads the master,
 * picks variant PICK (0 = the first listed, 720p for ketang), loads that
 * variant, starts three segments from the live edge (hls.js's
 * liveSyncDurationCount), fetches each new segment once, in order, and
 * reloads the variant every target duration (half of it when nothing new
 * appeared). Viewers join evenly over RAMP_S seconds; all stop DURATION_S
 * seconds after the last one joined.
 *
 * Each viewer keeps one keep-alive connection and a playback model: play
 * starts when the first segment is in (time to first segment), the playhead
 * then moves with the wall clock, and a segment that arrives after the
 * playhead ran out of buffer is a stall (the playhead waits for it). With a
 * start three segments behind the edge the buffer holds at most about 6 s,
 * the small live buffer a real player has.
 *
 * One thread, non-blocking sockets and epoll: a viewer costs a socket and a
 * few hundred bytes, so several thousand fit beside the server on two cores.
 * Segment bodies are counted, not kept. The summary is one line of
 * key=value pairs on stdout, for bench/load-vs-nginx.sh to read.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PATH_MAX_LEN 384
#define QUEUE_LEN 32
#define REQUEST_TIMEOUT_S 10.0
#define LIVE_SYNC_SEGMENTS 3

typedef enum { REQ_MASTER, REQ_VARIANT, REQ_SEGMENT } ReqKind;
typedef enum { C_CLOSED, C_CONNECTING, C_SENDING, C_READING, C_IDLE } ConnState;

typedef struct {
  int fd;
  ConnState state;
  bool busy;           /* a request is out */
  ReqKind kind;
  char path[PATH_MAX_LEN];
  double sent_at;
  /* response */
  char head[4096];
  int head_len;
  bool in_body;
  long body_left;
  bool close_after;
  int status;
  char *body; /* playlists only */
  int body_len, body_cap;
  /* stream */
  bool joined;
  double join_at;
  char variant[PATH_MAX_LEN];
  bool have_variant;
  long long next_msn; /* -1 before the first variant load */
  double target_s;
  double next_reload;
  char queue[QUEUE_LEN][PATH_MAX_LEN];
  double queue_dur[QUEUE_LEN];
  int q_head, q_len;
  double pending_dur; /* duration of the segment being fetched */
  /* playback */
  bool playing;
  double origin;   /* wall time at media position 0 (moves on stalls) */
  double buffered; /* media seconds fetched */
  int stalls;
  bool failed_first;
} Viewer;

typedef struct {
  double *v;
  size_t n, cap;
} Samples;

static struct sockaddr_in server;
static char host_header[128];
static char master_path[PATH_MAX_LEN];
static int pick;
static int epfd;
static Viewer *viewers;
static int n_viewers;
static Samples seg_lat, pl_lat, ttfs;
static long long n_segments, n_stalls, n_errors, n_missed;
static double seg_bytes;
static char scratch[1 << 16];

static double
now_s (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
samples_add (Samples *s, double x)
{
  if (s->n == s->cap) {
    s->cap = s->cap ? s->cap * 2 : 1024;
    s->v = realloc (s->v, s->cap * sizeof (double));
  }
  s->v[s->n++] = x;
}

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

static double
quantile (Samples *s, double q)
{
  if (s->n == 0)
    return -1;
  qsort (s->v, s->n, sizeof (double), cmp_double);
  size_t i = (size_t) (q * (s->n - 1) + 0.5);
  return s->v[i];
}

static void
set_events (Viewer *v, unsigned events)
{
  struct epoll_event ev = { .events = events, .data.ptr = v };
  epoll_ctl (epfd, EPOLL_CTL_MOD, v->fd, &ev);
}

static void
close_conn (Viewer *v)
{
  if (v->fd >= 0) {
    epoll_ctl (epfd, EPOLL_CTL_DEL, v->fd, NULL);
    close (v->fd);
  }
  v->fd = -1;
  v->state = C_CLOSED;
}

static bool
open_conn (Viewer *v)
{
  v->fd = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (v->fd < 0)
    return false;
  int one = 1;
  setsockopt (v->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = v };
  epoll_ctl (epfd, EPOLL_CTL_ADD, v->fd, &ev);
  if (connect (v->fd, (struct sockaddr *) &server, sizeof server) < 0 && errno != EINPROGRESS) {
    close_conn (v);
    return false;
  }
  v->state = C_CONNECTING;
  return true;
}

/* Send the request in v->path: small, so one write does it on loopback. */
static void
send_request (Viewer *v)
{
  char req[PATH_MAX_LEN + 256];
  int len = snprintf (req, sizeof req,
                      "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: kt-viewers\r\n"
                      "Accept: */*\r\nConnection: keep-alive\r\n\r\n",
                      v->path, host_header);
  ssize_t w = write (v->fd, req, len);
  if (w != len) {
    close_conn (v);
    v->busy = false;
    n_errors++;
    return;
  }
  v->state = C_READING;
  v->head_len = 0;
  v->in_body = false;
  v->body_len = 0;
  v->close_after = false;
  set_events (v, EPOLLIN);
}

static void
start_request (Viewer *v, ReqKind kind, const char *path, double now)
{
  v->kind = kind;
  snprintf (v->path, sizeof v->path, "%s", path);
  v->busy = true;
  v->sent_at = now;
  if (v->fd < 0 && !open_conn (v)) {
    v->busy = false;
    n_errors++;
    return;
  }
  if (v->state == C_IDLE)
    send_request (v);
  /* else: connecting; sent when writable */
}

/* @uri relative to the directory of @base, or absolute (path or URL). */
static void
resolve (const char *base, const char *uri, char *out)
{
  if (strncmp (uri, "http://", 7) == 0) {
    const char *slash = strchr (uri + 7, '/');
    snprintf (out, PATH_MAX_LEN, "%s", slash ? slash : "/");
  } else if (uri[0] == '/') {
    snprintf (out, PATH_MAX_LEN, "%s", uri);
  } else {
    const char *q = strchr (base, '?');
    int base_len = q ? q - base : (int) strlen (base);
    int dir = base_len;
    while (dir > 0 && base[dir - 1] != '/')
      dir--;
    snprintf (out, PATH_MAX_LEN, "%.*s%s", dir, base, uri);
  }
}

static void
on_master (Viewer *v)
{
  int idx = 0;
  for (char *line = strtok (v->body, "\r\n"); line; line = strtok (NULL, "\r\n")) {
    if (line[0] == '#' || line[0] == '\0')
      continue;
    if (idx++ == pick) {
      resolve (master_path, line, v->variant);
      v->have_variant = true;
      return;
    }
  }
  if (getenv ("KT_VIEWERS_DEBUG"))
    fprintf (stderr, "no variant %d in the master: [%s]\n", pick, v->body);
  n_errors++;
}

static void
on_variant (Viewer *v, double now)
{
  long long msn = 0;
  double extinf = 2;
  int total = 0;
  char *uris[64];
  double durs[64];

  for (char *line = strtok (v->body, "\r\n"); line; line = strtok (NULL, "\r\n")) {
    if (strncmp (line, "#EXT-X-MEDIA-SEQUENCE:", 22) == 0)
      msn = atoll (line + 22);
    else if (strncmp (line, "#EXT-X-TARGETDURATION:", 22) == 0)
      v->target_s = atof (line + 22);
    else if (strncmp (line, "#EXTINF:", 8) == 0)
      extinf = atof (line + 8);
    else if (line[0] != '#' && line[0] != '\0' && total < 64) {
      uris[total] = line;
      durs[total++] = extinf;
    }
  }
  if (v->target_s <= 0)
    v->target_s = 2;
  if (v->next_msn < 0) /* first load: three segments from the live edge */
    v->next_msn = msn + (total > LIVE_SYNC_SEGMENTS ? total - LIVE_SYNC_SEGMENTS : 0);
  if (v->next_msn < msn) { /* the window moved past what we had not fetched */
    if (getenv ("KT_VIEWERS_DEBUG"))
      fprintf (stderr, "missed %lld at %s\n", msn - v->next_msn, v->path);
    n_missed += msn - v->next_msn;
    v->next_msn = msn;
  }
  bool found_new = false;
  for (int i = 0; i < total; i++) {
    long long seq = msn + i;
    if (seq < v->next_msn || v->q_len == QUEUE_LEN)
      continue;
    int slot = (v->q_head + v->q_len) % QUEUE_LEN;
    resolve (v->variant, uris[i], v->queue[slot]);
    v->queue_dur[slot] = durs[i];
    v->q_len++;
    v->next_msn = seq + 1;
    found_new = true;
  }
  v->next_reload = now + (found_new ? v->target_s : v->target_s / 2);
}

static void
on_segment (Viewer *v, double now)
{
  n_segments++;
  if (!v->playing) {
    v->playing = true;
    v->origin = now;
    samples_add (&ttfs, now - v->join_at);
  } else if (now - v->origin > v->buffered) {
    /* The playhead reached the end of the buffer before this arrived. */
    v->stalls++;
    n_stalls++;
    v->origin = now - v->buffered;
  }
  v->buffered += v->pending_dur;
}

static void
finish_response (Viewer *v, double now)
{
  double latency = now - v->sent_at;
  v->busy = false;
  if (v->close_after)
    close_conn (v);
  else {
    v->state = C_IDLE;
    set_events (v, EPOLLIN);
  }
  if (v->status != 200) {
    n_errors++;
    if (getenv ("KT_VIEWERS_DEBUG"))
      fprintf (stderr, "status %d for %s\n", v->status, v->path);
    if (v->kind == REQ_VARIANT)
      v->next_reload = now + 1;
    return;
  }
  if (v->kind == REQ_SEGMENT) {
    samples_add (&seg_lat, latency);
    on_segment (v, now);
    return;
  }
  samples_add (&pl_lat, latency);
  if (v->body == NULL)
    return;
  v->body[v->body_len] = '\0';
  if (v->kind == REQ_MASTER)
    on_master (v);
  else
    on_variant (v, now);
}

static void
fail_request (Viewer *v)
{
  n_errors++;
  if (getenv ("KT_VIEWERS_DEBUG"))
    fprintf (stderr, "failed %s: %s\n", v->path, strerror (errno));
  close_conn (v);
  v->busy = false;
  if (v->kind == REQ_VARIANT)
    v->next_reload = now_s () + 1;
}

static void
append_body (Viewer *v, const char *data, long len)
{
  if (v->kind == REQ_SEGMENT) {
    seg_bytes += len;
    return;
  }
  if (v->body_len + len + 1 > v->body_cap) {
    v->body_cap = (v->body_len + len + 1) * 2;
    v->body = realloc (v->body, v->body_cap);
  }
  memcpy (v->body + v->body_len, data, len);
  v->body_len += len;
}

static bool
parse_head (Viewer *v)
{
  v->head[v->head_len] = '\0';
  if (sscanf (v->head, "HTTP/1.%*d %d", &v->status) != 1)
    return false;
  v->body_left = -1;
  for (char *line = strstr (v->head, "\r\n"); line; line = strstr (line + 2, "\r\n")) {
    if (strncasecmp (line + 2, "Content-Length:", 15) == 0)
      v->body_left = atol (line + 17);
    else if (strncasecmp (line + 2, "Connection: close", 17) == 0)
      v->close_after = true;
  }
  return v->body_left >= 0; /* both servers send a length; chunked is not expected */
}

static void
on_readable (Viewer *v, double now)
{
  ssize_t n;
  for (;;) {
    char *buf = scratch;
    if (!v->in_body) {
      n = read (v->fd, v->head + v->head_len, sizeof v->head - 1 - v->head_len);
      if (n <= 0)
        goto closed;
      v->head_len += n;
      v->head[v->head_len] = '\0';
      char *end = strstr (v->head, "\r\n\r\n");
      if (end == NULL) {
        if (v->head_len >= (int) sizeof v->head - 1)
          return fail_request (v);
        continue;
      }
      int head_bytes = end + 4 - v->head;
      int extra = v->head_len - head_bytes;
      char first_body[sizeof v->head];
      memcpy (first_body, v->head + head_bytes, extra);
      v->head_len = head_bytes;
      if (!parse_head (v)) /* ends the head text where the body began */
        return fail_request (v);
      v->in_body = true;
      if (extra > v->body_left)
        return fail_request (v); /* no pipelining here */
      append_body (v, first_body, extra);
      v->body_left -= extra;
      if (v->body_left == 0)
        return finish_response (v, now);
      continue;
    }
    long want = v->body_left < (long) sizeof scratch ? v->body_left : (long) sizeof scratch;
    n = read (v->fd, buf, want);
    if (n <= 0)
      goto closed;
    append_body (v, buf, n);
    v->body_left -= n;
    if (v->body_left == 0)
      return finish_response (v, now);
  }
closed:
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
    return;
  if (!v->busy) { /* an idle keep-alive connection closed by the server */
    close_conn (v);
    return;
  }
  fail_request (v);
}

/* What a viewer does next when its connection is free. */
static void
step (Viewer *v, double now)
{
  if (v->busy)
    return;
  if (!v->have_variant) {
    start_request (v, REQ_MASTER, master_path, now);
    return;
  }
  if (now >= v->next_reload) {
    v->next_reload = now + 60; /* set properly when the answer comes */
    start_request (v, REQ_VARIANT, v->variant, now);
    return;
  }
  if (v->q_len > 0) {
    v->pending_dur = v->queue_dur[v->q_head];
    char path[PATH_MAX_LEN];
    memcpy (path, v->queue[v->q_head], PATH_MAX_LEN);
    v->q_head = (v->q_head + 1) % QUEUE_LEN;
    v->q_len--;
    start_request (v, REQ_SEGMENT, path, now);
  }
}

static bool
parse_url (const char *url)
{
  char host[128];
  int port = 80;
  const char *p = url;
  if (strncmp (p, "http://", 7) != 0)
    return false;
  p += 7;
  const char *slash = strchr (p, '/');
  if (slash == NULL)
    return false;
  snprintf (host_header, sizeof host_header, "%.*s", (int) (slash - p), p);
  snprintf (host, sizeof host, "%s", host_header);
  char *colon = strchr (host, ':');
  if (colon) {
    port = atoi (colon + 1);
    *colon = '\0';
  }
  snprintf (master_path, sizeof master_path, "%s", slash);
  struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM }, *res;
  if (getaddrinfo (host, NULL, &hints, &res) != 0)
    return false;
  server = *(struct sockaddr_in *) res->ai_addr;
  server.sin_port = htons (port);
  freeaddrinfo (res);
  return true;
}

int
main (int argc, char **argv)
{
  if (argc < 3 || !parse_url (argv[1])) {
    fprintf (stderr, "usage: %s http://HOST:PORT/live/1/index.m3u8 N [RAMP_S] [DURATION_S] [PICK]\n",
             argv[0]);
    return 64;
  }
  n_viewers = atoi (argv[2]);
  double ramp = argc > 3 ? atof (argv[3]) : 10;
  double duration = argc > 4 ? atof (argv[4]) : 30;
  pick = argc > 5 ? atoi (argv[5]) : 0;

  struct rlimit lim;
  getrlimit (RLIMIT_NOFILE, &lim);
  lim.rlim_cur = lim.rlim_max;
  setrlimit (RLIMIT_NOFILE, &lim);
  if ((rlim_t) n_viewers + 16 > lim.rlim_cur) {
    fprintf (stderr, "kt-viewers: %d viewers need more open files than %lu\n", n_viewers,
             (unsigned long) lim.rlim_cur);
    return 69;
  }

  epfd = epoll_create1 (0);
  viewers = calloc (n_viewers, sizeof (Viewer));
  double t0 = now_s ();
  for (int i = 0; i < n_viewers; i++) {
    viewers[i].fd = -1;
    viewers[i].next_msn = -1;
    viewers[i].join_at = t0 + (n_viewers > 1 ? ramp * i / (n_viewers - 1) : 0);
  }
  double end = t0 + ramp + duration;
  struct epoll_event events[512];
  double next_scan = 0;

  for (;;) {
    double now = now_s ();
    if (now >= end)
      break;
    int n = epoll_wait (epfd, events, 512, 5);
    now = now_s ();
    for (int i = 0; i < n; i++) {
      Viewer *v = events[i].data.ptr;
      if (v->state == C_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt (v->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0 || (events[i].events & (EPOLLERR | EPOLLHUP))) {
          fail_request (v);
          continue;
        }
        v->state = C_IDLE;
        if (v->busy)
          send_request (v);
        continue;
      }
      if (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
        on_readable (v, now);
    }
    /* Scanning every viewer each few ms costs far less than their I/O. */
    if (now < next_scan)
      continue;
    next_scan = now + 0.01;
    for (int i = 0; i < n_viewers; i++) {
      Viewer *v = &viewers[i];
      if (!v->joined) {
        if (now < v->join_at)
          continue;
        v->joined = true;
      }
      if (v->busy && now - v->sent_at > REQUEST_TIMEOUT_S)
        fail_request (v);
      step (v, now);
    }
  }

  /* A viewer still waiting for its first segment at the end never played. */
  long long never = 0, stalled_viewers = 0;
  for (int i = 0; i < n_viewers; i++) {
    never += viewers[i].joined && !viewers[i].playing;
    stalled_viewers += viewers[i].stalls > 0;
  }
  printf ("viewers=%d segments=%lld stalls=%lld stalled_viewers=%lld never_played=%lld "
          "missed=%lld errors=%lld ttfs_p50=%.3f ttfs_p99=%.3f seg_p50=%.4f seg_p99=%.4f "
          "playlist_p50=%.4f playlist_p99=%.4f mbytes=%.0f\n",
          n_viewers, n_segments, n_stalls, stalled_viewers, never, n_missed, n_errors,
          quantile (&ttfs, 0.5), quantile (&ttfs, 0.99), quantile (&seg_lat, 0.5),
          quantile (&seg_lat, 0.99), quantile (&pl_lat, 0.5), quantile (&pl_lat, 0.99),
          seg_bytes / 1e6);
  return 0;
}
