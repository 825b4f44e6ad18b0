/* WHIP ingest over HTTP (/api/live/whip/<talk>), against the real server
 * with a live talk on its timetable: who may publish (a publish key as
 * Bearer, or a teacher's session with its CSRF token; anyone else is
 * refused at once), which offers are refused before any webrtcbin exists
 * (not SDP, no sound, a codec nothing here decodes, media that is not sent
 * to us), and that a good offer is answered 201 with an SDP answer that
 * has ICE candidates, the one usable codec the offer was cut down to, and a
 * Location whose DELETE ends the publish; one publisher at a time. After
 * each refusal the server goes on serving the channel. That real media then
 * goes on air is the browser test's (tests/browser/whip.test.mjs). */
#include <json-glib/json-glib.h>

#include "kt-clock.h"
#include "test-utils.h"

/* 2026-12-10 14:00:00 in Shanghai. */
#define TWO_PM (G_GINT64_CONSTANT (1796882400) * G_USEC_PER_SEC)
#define AT(s) (TWO_PM + (gint64) (s) * G_USEC_PER_SEC)

static const char timetable[] =
    "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//test//EN\nX-WR-CALNAME:报告会频道\n"
    "X-KETANG-CHANNEL:9\n"
    "BEGIN:VEVENT\nUID:talk\nSUMMARY:养生讲座\nORGANIZER;CN=李教授:mailto:l@x\n"
    "DTSTART:20261210T140000\nDTEND:20261210T141000\nX-KETANG-SOURCE:live:talk-a\nEND:VEVENT\n"
    "END:VCALENDAR\n";

/* What a browser offers, shortened: video in VP9, then VP8, then H.264;
 * Opus and telephone-event. */
#define OFFER_HEAD                                                                               \
  "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"                     \
  "a=group:BUNDLE 0 1\r\na=msid-semantic: WMS\r\n"
#define OFFER_VIDEO(dir)                                                                         \
  "m=video 9 UDP/TLS/RTP/SAVPF 98 96 102\r\nc=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\n"  \
  "a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=ice-options:trickle\r\n"         \
  "a=fingerprint:sha-256 "                                                                     \
  "4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB:4A:AD:B9:B1:3F:82:18:3B:54:02:" \
  "12:DF\r\na=setup:actpass\r\na=mid:0\r\na=" dir "\r\na=rtcp-mux\r\na=rtcp-rsize\r\n"         \
  "a=rtpmap:98 VP9/90000\r\na=rtcp-fb:98 nack\r\na=fmtp:98 profile-id=0\r\n"                  \
  "a=rtpmap:96 VP8/90000\r\na=rtcp-fb:96 nack\r\na=rtcp-fb:96 nack pli\r\n"                   \
  "a=rtpmap:102 H264/90000\r\na=rtcp-fb:102 nack\r\n"                                          \
  "a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n"      \
  "a=ssrc:1001 cname:x\r\n"
#define OFFER_AUDIO(codec)                                                                       \
  "m=audio 9 UDP/TLS/RTP/SAVPF 111 126\r\nc=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\n"    \
  "a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=ice-options:trickle\r\n"         \
  "a=fingerprint:sha-256 "                                                                     \
  "4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB:4A:AD:B9:B1:3F:82:18:3B:54:02:" \
  "12:DF\r\na=setup:actpass\r\na=mid:1\r\na=sendonly\r\na=rtcp-mux\r\n"                        \
  "a=rtpmap:111 " codec "/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\n"               \
  "a=rtpmap:126 telephone-event/8000\r\na=ssrc:1002 cname:x\r\n"

static const char good_offer[] = OFFER_HEAD OFFER_VIDEO ("sendonly") OFFER_AUDIO ("opus");

typedef struct {
  char *data_dir;
  KtApp *app;
  char *key;
  KtTestSession teacher;
} Fixture;

static void
fixture_set_up (Fixture *f, gconstpointer unused)
{
  kt_clock_set_fake (AT (30));
  f->data_dir = kt_test_mkdtemp ();
  g_autofree char *schedules = g_build_filename (f->data_dir, "schedules", NULL);
  g_mkdir_with_parents (schedules, 0755);
  g_autofree char *path = g_build_filename (schedules, "9.ics", NULL);
  g_assert_true (g_file_set_contents (path, timetable, -1, NULL));
  const char *settings[] = { "live.srt_listen=", NULL };
  f->app = kt_test_app_start (f->data_dir, FALSE, settings);
  kt_test_session_open (f->app, "li", "teacher", &f->teacher);
  g_autoptr (KtTestResponse) r
      = kt_test_request_as (f->app, &f->teacher, "POST", "/api/live/key", NULL, NULL);
  g_assert_cmpuint (r->status, ==, 201);
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *o = kt_test_json_object (r, parser);
  f->key = g_strdup (json_object_get_string_member (o, "key"));
  kt_test_wait_on_air (f->app, "9");
}

static void
fixture_tear_down (Fixture *f, gconstpointer unused)
{
  kt_test_session_clear (&f->teacher);
  kt_app_free (f->app);
  kt_test_rmtree (f->data_dir);
  g_free (f->data_dir);
  g_free (f->key);
  kt_clock_use_real ();
}

static KtTestResponse *
post_offer (Fixture *f, const char *path, const char *bearer, const char *type, const char *sdp)
{
  g_autofree char *authorization = bearer ? g_strdup_printf ("Bearer %s", bearer) : NULL;
  const char *headers[] = { "Authorization", authorization, NULL };
  return kt_test_request_body (f->app, "POST", path, bearer ? headers : NULL, type, sdp);
}

/* Nobody publishes talk-a: what was refused left nothing running. The
 * talks and events administrators read, as text. */
static char *
assert_nobody_publishes (Fixture *f)
{
  g_autoptr (KtTestResponse) talks
      = kt_test_request_as (f->app, &f->teacher, "GET", "/api/live/talks", NULL, NULL);
  char *text = kt_test_body_text (talks);
  g_assert_null (strstr (text, "\"state\":\"live\""));
  return text;
}

/* The channel still airs, and the server still answers. */
static void
assert_serving (Fixture *f)
{
  g_autoptr (KtTestResponse) h = kt_test_get (f->app, "/healthz");
  g_assert_cmpuint (h->status, ==, 200);
  g_autoptr (KtTestResponse) p = kt_test_get (f->app, "/live/9/720p/index.m3u8");
  g_assert_cmpuint (p->status, ==, 200);
  g_autofree char *text = kt_test_body_text (p);
  g_assert_nonnull (strstr (text, "#EXTINF"));
}

static void
test_who_may_publish (Fixture *f, gconstpointer unused)
{
  const char *talk = "/api/live/whip/talk-a";
  /* A key one character off: 401 at once, saying how to authenticate. */
  g_autofree char *off = g_strdup (f->key);
  off[3] = off[3] == 'x' ? 'y' : 'x';
  g_autoptr (KtTestResponse) wrong = post_offer (f, talk, off, "application/sdp", good_offer);
  kt_test_assert_error (wrong, 401, "credentials", NULL);
  g_assert_cmpstr (soup_message_headers_get_one (wrong->headers, "WWW-Authenticate"), ==,
                   "Bearer");
  /* Not a key at all, and not Bearer. */
  g_autoptr (KtTestResponse) junk = post_offer (f, talk, "x", "application/sdp", good_offer);
  kt_test_assert_error (junk, 401, "credentials", NULL);
  const char *basic[] = { "Authorization", "Basic bGk6bGk=", NULL };
  g_autoptr (KtTestResponse) b
      = kt_test_request_body (f->app, "POST", talk, basic, "application/sdp", good_offer);
  g_assert_cmpuint (b->status, ==, 401);
  /* No credentials at all. */
  g_autoptr (KtTestResponse) none = post_offer (f, talk, NULL, "application/sdp", good_offer);
  g_assert_cmpuint (none->status, ==, 401);
  /* A session without its CSRF token: what another site's page could send. */
  const char *cookie_only[] = { "Cookie", f->teacher.cookie, NULL };
  g_autoptr (KtTestResponse) csrf
      = kt_test_request_body (f->app, "POST", talk, cookie_only, "application/sdp", good_offer);
  kt_test_assert_error (csrf, 403, "csrf", NULL);
  /* A viewing point's account is not a publisher. */
  g_auto (KtTestSession) room = { 0 };
  kt_test_session_open (f->app, "room", "viewpoint", &room);
  g_autoptr (KtTestResponse) viewer
      = kt_test_request_as (f->app, &room, "POST", talk, "application/sdp", good_offer);
  g_assert_cmpuint (viewer->status, ==, 403);
  /* Nothing was started for any of them: no talk was even looked up. */
  g_autofree char *talks = assert_nobody_publishes (f);
  g_assert_nonnull (strstr (talks, "\"talks\":[]"));
  assert_serving (f);
}

static void
test_bad_offers (Fixture *f, gconstpointer unused)
{
  const char *talk = "/api/live/whip/talk-a";
  const char *not_sdp[] = { "hello", "{\"sdp\": \"v=0\"}", "v=1\r\nm=video 9 RTP/AVP 96\r\n",
                            "v=0\r\n", NULL };
  for (int i = 0; not_sdp[i]; i++) {
    g_autoptr (KtTestResponse) r = post_offer (f, talk, f->key, "application/sdp", not_sdp[i]);
    g_assert_cmpuint (r->status, ==, 400);
  }
  g_autoptr (KtTestResponse) garbage = post_offer (f, talk, f->key, "application/sdp", "hello");
  kt_test_assert_error (garbage, 400, "bad-offer", "不是 SDP");
  guchar binary[512];
  for (guint i = 0; i < sizeof binary; i++)
    binary[i] = g_random_int ();
  const char *auth[] = { "Authorization", NULL, NULL };
  g_autofree char *bearer = g_strdup_printf ("Bearer %s", f->key);
  auth[1] = bearer;
  g_autoptr (KtTestResponse) bytes = kt_test_request_bytes (f->app, "POST", talk, auth,
                                                            "application/sdp", binary, sizeof binary);
  g_assert_cmpuint (bytes->status, ==, 400);

  static const char no_sound[] = OFFER_HEAD OFFER_VIDEO ("sendonly");
  g_autoptr (KtTestResponse) mute = post_offer (f, talk, f->key, "application/sdp", no_sound);
  kt_test_assert_error (mute, 400, "bad-offer", "没有声音");
  static const char g722[] = OFFER_HEAD OFFER_VIDEO ("sendonly") OFFER_AUDIO ("G722");
  g_autoptr (KtTestResponse) codec = post_offer (f, talk, f->key, "application/sdp", g722);
  kt_test_assert_error (codec, 400, "bad-offer", "Opus");
  static const char receive[] = OFFER_HEAD OFFER_VIDEO ("recvonly") OFFER_AUDIO ("opus");
  g_autoptr (KtTestResponse) viewer = post_offer (f, talk, f->key, "application/sdp", receive);
  kt_test_assert_error (viewer, 400, "bad-offer", "sendonly");
  static const char two[] = OFFER_HEAD OFFER_VIDEO ("sendonly") OFFER_VIDEO ("sendonly")
      OFFER_AUDIO ("opus");
  g_autoptr (KtTestResponse) twice = post_offer (f, talk, f->key, "application/sdp", two);
  kt_test_assert_error (twice, 400, "bad-offer", NULL);
  /* SDP that our checks pass but WebRTC cannot use (no DTLS
   * fingerprint): webrtcbin refuses it, and so does the answer. */
  g_autoptr (GString) bare = g_string_new (good_offer);
  g_autofree char *fingerprint = g_strdup (strstr (good_offer, "a=fingerprint:"));
  *strchr (fingerprint, '\n') = '\0';
  g_string_replace (bare, fingerprint, "a=x-nothing:", 0);
  g_autoptr (KtTestResponse) unusable = post_offer (f, talk, f->key, "application/sdp", bare->str);
  kt_test_assert_error (unusable, 400, "bad-offer", "WebRTC");
  /* The right body as another type. */
  g_autoptr (KtTestResponse) json = post_offer (f, talk, f->key, "application/json", good_offer);
  g_assert_cmpuint (json->status, ==, 415);
  /* A good offer for a talk that is not on. */
  g_autoptr (KtTestResponse) other
      = post_offer (f, "/api/live/whip/talk-b", f->key, "application/sdp", good_offer);
  kt_test_assert_error (other, 404, "no-talk", "talk-b");

  /* None of it left a publisher behind: the channel waits for its speaker.
   * The one refused by webrtcbin is told to the administrator too. */
  g_autofree char *talks = assert_nobody_publishes (f);
  g_assert_nonnull (strstr (talks, "WebRTC 协商失败"));
  assert_serving (f);
}

static void
test_answer_and_delete (Fixture *f, gconstpointer unused)
{
  /* By publish key, as OBS does. */
  g_autoptr (KtTestResponse) r
      = post_offer (f, "/api/live/whip/talk-a", f->key, "application/sdp", good_offer);
  g_autofree char *answer = kt_test_body_text (r);
  g_test_message ("%u %s", r->status, answer);
  g_assert_cmpuint (r->status, ==, 201);
  g_assert_cmpstr (soup_message_headers_get_content_type (r->headers, NULL), ==,
                   "application/sdp");
  const char *location = soup_message_headers_get_one (r->headers, "Location");
  g_assert_true (g_str_has_prefix (location, "/api/live/whip/talk-a/"));
  /* A whole answer (no trickle): candidates, and VP8 only, the first codec
   * of the offer that is decoded here. */
  g_assert_true (g_str_has_prefix (answer, "v=0"));
  g_assert_nonnull (strstr (answer, "a=candidate:"));
  g_assert_nonnull (strstr (answer, "VP8/90000"));
  g_assert_null (strstr (answer, "VP9"));
  g_assert_null (strstr (answer, "H264"));
  g_assert_true (strstr (answer, "OPUS/48000") || strstr (answer, "opus/48000"));

  /* One publisher at a time: a second one, even the teacher's page, waits. */
  g_autoptr (KtTestResponse) second = kt_test_request_as (
      f->app, &f->teacher, "POST", "/api/live/whip/talk-a", "application/sdp", good_offer);
  kt_test_assert_error (second, 409, "busy", NULL);

  /* Someone else cannot end it; its publisher can, once. */
  g_auto (KtTestSession) other = { 0 };
  kt_test_session_open (f->app, "wang", "teacher", &other);
  g_autoptr (KtTestResponse) theirs
      = kt_test_request_as (f->app, &other, "DELETE", location, NULL, NULL);
  g_assert_cmpuint (theirs->status, ==, 404);
  g_autoptr (KtTestResponse) unknown = kt_test_request_as (
      f->app, &f->teacher, "DELETE", "/api/live/whip/talk-a/not-the-id", NULL, NULL);
  g_assert_cmpuint (unknown->status, ==, 404);
  g_autoptr (KtTestResponse) del = kt_test_request_as (f->app, &f->teacher, "DELETE", location,
                                                       NULL, NULL);
  g_assert_cmpuint (del->status, ==, 200);
  g_autoptr (KtTestResponse) again = kt_test_request_as (f->app, &f->teacher, "DELETE", location,
                                                         NULL, NULL);
  g_assert_cmpuint (again->status, ==, 404);

  /* The talk is free again: the teacher's page may publish it now, by
   * session and CSRF token. */
  g_autoptr (KtTestResponse) page = kt_test_request_as (
      f->app, &f->teacher, "POST", "/api/live/whip/talk-a", "application/sdp", good_offer);
  g_assert_cmpuint (page->status, ==, 201);
  assert_serving (f);
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  /* Refused publishers are warnings for the operator, expected here. */
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
#define ADD(name, fn) g_test_add (name, Fixture, NULL, fixture_set_up, fn, fixture_tear_down)
  ADD ("/whip/who-may-publish", test_who_may_publish);
  ADD ("/whip/bad-offers", test_bad_offers);
  ADD ("/whip/answer-and-delete", test_answer_and_delete);
  return g_test_run ();
}
