#pragma once

/* Shared helpers for ketang's tests: temporary directories, an in-process
 * server on port 0, a synchronous HTTP client that keeps the server's main
 * context running while it waits, raw HTTP for requests a URI parser would
 * "fix", and decoding of segments with GStreamer. */

#include <gst/gst.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "kt-app.h"

/* A fresh directory under the test temp dir; removed by kt_test_rmtree. */
char *kt_test_mkdtemp (void);
void kt_test_rmtree (const char *path);

/* Boot an app on 127.0.0.1:0 with @data_dir, optional extra "group.key=value"
 * settings (NULL-terminated), demo on or off. Asserts on failure. */
KtApp *kt_test_app_start (const char *data_dir, gboolean demo, const char *const *settings);
/* Iterate the default main context until @channel_id is on air (or 60 s). */
void kt_test_wait_on_air (KtApp *app, const char *channel_id);

/* A port on 127.0.0.1 that nobody holds at this moment, for @type
 * (G_SOCKET_TYPE_STREAM: TCP, G_SOCKET_TYPE_DATAGRAM: UDP). */
guint kt_test_free_port (GSocketType type);

/* Live media arrives in real time: run the main context with the fake clock
 * following the monotonic one (from *@followed, updated), until
 * @done (@fixture, @data) says so or @seconds pass; FALSE on the timeout. */
typedef gboolean (*KtTestDone) (gpointer fixture, gpointer data);
gboolean kt_test_follow_clock (gint64 *followed, KtTestDone done, gpointer fixture, gpointer data,
                               double seconds);

typedef struct {
  guint status;
  GBytes *body;
  SoupMessageHeaders *headers; /* response headers */
} KtTestResponse;

void kt_test_response_free (KtTestResponse *response);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (KtTestResponse, kt_test_response_free)

/* GET @path (relative to the app's base URI, starting with '/'), running the
 * main context until the answer is in. */
KtTestResponse *kt_test_get (KtApp *app, const char *path);
KtTestResponse *kt_test_request (KtApp *app, const char *method, const char *path,
                                 const char *const *headers /* name, value, …, NULL */);
/* The same with a request body of @content_type. */
KtTestResponse *kt_test_request_body (KtApp *app, const char *method, const char *path,
                                      const char *const *headers, const char *content_type,
                                      const char *body);
/* Send @request_line verbatim (e.g. "GET /../x HTTP/1.1") and return the
 * status code of the answer. */
guint kt_test_raw_status (KtApp *app, const char *request_line);
/* Send @request verbatim (headers and any body), then end the sending side;
 * the status code of the answer, 0 when the server closed without one. */
/* Make the tests' HTTP client trust only the certificate(s) in @pem_path
 * (a test's own self-signed one), verified as any browser would. */
void kt_test_trust_certificate (const char *pem_path);
guint kt_test_raw_exchange (KtApp *app, const char *request);
/* The same with @len bytes that may hold anything (NULs included). */
guint kt_test_raw_exchange_len (KtApp *app, const char *request, gsize len);
/* A non-blocking TCP connection to the app's port (the main context runs
 * while it connects). */
GSocket *kt_test_connect (KtApp *app);
/* Send all of @data, running the main context while the socket is full. */
void kt_test_send_all (GSocket *sock, const char *data, gsize len);
/* Read until the server closes, or has sent one whole response when @one,
 * or @deadline_s pass, running the main context meanwhile; the bytes read. */
GString *kt_test_read_answer (GSocket *sock, double deadline_s, gboolean one);
/* Append what @sock has to @into, or run the main context once when it has
 * nothing yet; FALSE when the peer closed. */
gboolean kt_test_receive (GSocket *sock, GString *into);
/* This process's open descriptors. */
guint kt_test_open_descriptors (void);
/* The length of the first whole response at the start of @answer (its
 * headers and Content-Length bytes of body, none when it answers a HEAD),
 * or 0 while it is not all there. */
gsize kt_test_whole_response (const GString *answer, gboolean head);
KtTestResponse *kt_test_request_bytes (KtApp *app, const char *method, const char *path,
                                       const char *const *headers, const char *content_type,
                                       const void *body, gsize body_len);
/* The same to any @url (another server, an edge cache in front of the app);
 * the main context runs meanwhile, so an in-process app can answer. */
KtTestResponse *kt_test_request_url (const char *method, const char *url,
                                     const char *const *headers, const char *content_type,
                                     const void *body, gsize body_len);
/* In a /metrics scrape, the value of the sample written exactly as @series
 * ("name{labels}"), or 0 when there is no such sample. */
double kt_test_metric (const char *scrape, const char *series);
/* The body as a NUL-terminated string (transfer full). */
char *kt_test_body_text (KtTestResponse *response);
/* The body parsed as a JSON object, owned by @parser; fails the test when
 * it is not JSON. */
JsonObject *kt_test_json_object (KtTestResponse *response, JsonParser *parser);
/* @response is the one error shape with @status and @code, and a message
 * that says something (holding @words, unless NULL). */
void kt_test_assert_error (KtTestResponse *response, guint status, const char *code,
                           const char *words);

/* What GStreamer finds in a segment file. */
typedef struct {
  char *container;     /* caps name from typefind: "video/mpegts" */
  int width, height;   /* of decoded video, 0 when none */
  guint video_frames;
  guint audio_buffers;
  GstClockTime first_video_pts;
  GstClockTime first_audio_pts;
} KtTestDecoded;

/* Decode @data fully (typefind, demux, decode). Asserts it decodes cleanly. */
void kt_test_decode (GBytes *data, KtTestDecoded *out);
void kt_test_decoded_clear (KtTestDecoded *decoded);

/* The first presentation timestamps (in ns) that an MPEG-TS file's PES
 * headers carry for video and audio, or GST_CLOCK_TIME_NONE. Demuxers rebase
 * timestamps per file, so comparing cut points across files needs the
 * stream's own clock. */
void kt_test_ts_first_pts (GBytes *data, GstClockTime *video, GstClockTime *audio);

/* A command run to completion: exit status and what it printed. */
typedef struct {
  int status;
  char *out;
  char *err;
} KtTestRun;

/* Run @argv with @input (NULL: nothing) on its standard input. */
void kt_test_run (KtTestRun *r, const char *const *argv, const char *input);
void kt_test_run_clear (KtTestRun *r);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (KtTestRun, kt_test_run_clear)

gboolean kt_test_have_ffmpeg (void);
/* ffmpeg reads @seconds of the live playlist at @path from its oldest
 * segment, decoding everything; asserts it exits 0 and says nothing. The
 * main context keeps running meanwhile. */
void kt_test_ffmpeg_reads (KtApp *app, const char *path, int seconds);

/* A logged-in account for tests of protected routes: the account is made
 * with KtAuth, then logged in over HTTP like a browser would. */
typedef struct {
  char *cookie; /* "ketang_session=…" for a Cookie header */
  char *csrf;   /* for X-CSRF-Token */
} KtTestSession;

void kt_test_session_open (KtApp *app, const char *name, const char *role, KtTestSession *out);
void kt_test_session_clear (KtTestSession *session);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (KtTestSession, kt_test_session_clear)
/* A request with the session's cookie (and CSRF token); @body may be NULL. */
KtTestResponse *kt_test_request_as (KtApp *app, const KtTestSession *session, const char *method,
                                    const char *path, const char *content_type, const char *body);
/* Test media. An MP4 file @dir/@name of @seconds: @video "WxH@FPS" (SMPTE
 * bars, x264) or NULL for none, @audio "RATExCHANNELS" (a tone, AAC) or NULL
 * for none. Asserts it was written. (transfer full) the path. */
char *kt_test_make_clip (const char *dir, const char *name, const char *video, const char *audio,
                         double seconds);
/* The same, and @faststart puts the MP4 index (moov) before the data. */
char *kt_test_make_clip_full (const char *dir, const char *name, const char *video,
                              const char *audio, double seconds, gboolean faststart);
/* Set the display matrix of the first video track of the MP4 at @path to a
 * clockwise rotation of 90 degrees, as a phone held upright writes it
 * (mp4mux in GStreamer 1.22 does not write one from tags). */
void kt_test_mp4_rotate_90 (const char *path);
/* A bad upload in @dir: @kind "random" (bytes named .mp4), "truncated" (the
 * first half of a valid MP4), "empty" (zero bytes), "text" (a letter named
 * .mp4), or "cut-after-index" (the first half of an MP4 whose index comes
 * first: it probes well, and only decoding finds the data missing).
 * (transfer full) the path. */
char *kt_test_make_bad_upload (const char *dir, const char *kind);
/* Each kind the probe refuses, with the KtProbeError it must be refused
 * with; ends with a NULL kind. */
typedef struct {
  const char *kind;
  int code;
} KtTestBadUpload;
extern const KtTestBadUpload kt_test_bad_uploads[];

/* A media playlist's numbers and segments, for continuity checks. */
typedef struct {
  guint64 msn, dsn;      /* EXT-X-MEDIA-SEQUENCE, EXT-X-DISCONTINUITY-SEQUENCE */
  GPtrArray *uris;       /* char*, in order */
  GArray *discontinuity; /* gboolean per segment: a tag precedes it */
} KtTestPlaylist;

void kt_test_playlist_parse (const char *text, KtTestPlaylist *out);
void kt_test_playlist_clear (KtTestPlaylist *playlist);
/* GET @playlist_path (200 expected): the first segment it lists. */
char *kt_test_first_segment (KtApp *app, const char *playlist_path);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (KtTestPlaylist, kt_test_playlist_clear)

/* The real `ketang serve` (KETANG_BIN) as a child process on 127.0.0.1:0
 * with @data_dir and extra environment @env ("NAME=value", NULL-terminated);
 * returns once it printed where it listens. Its standard error goes to the
 * test's log. */
typedef struct {
  GSubprocess *process;
  char *base; /* "http://127.0.0.1:PORT" without the trailing slash */
  int pid;
} KtTestServer;

void kt_test_server_start (KtTestServer *server, const char *data_dir, const char *const *env);
/* Send @signal and wait for the process to end; its wait status. */
int kt_test_server_stop (KtTestServer *server, int signal);
/* Log in to a child server over HTTP as @name (an account made with
 * `ketang user add`) with @password. */
void kt_test_server_login (KtTestServer *server, const char *name, const char *password,
                           KtTestSession *out);
/* Upload the file @path to a child server through the resumable protocol,
 * in 64 KiB chunks; the answer to the last chunk, or to the creation when
 * that was refused. */
KtTestResponse *kt_test_server_upload (KtTestServer *server, const KtTestSession *as,
                                       const char *path, const char *title);
/* `ketang user add` in @data_dir: account @name of @role whose password is
 * "<name>-password", as kt_test_session_open makes them. */
void kt_test_user_add_cli (const char *data_dir, const char *name, const char *role);
