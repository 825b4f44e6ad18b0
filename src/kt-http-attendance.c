/* kt-http-attendance: heartbeats in, attendance reports out.
 *
 *   POST /api/heartbeat   {"token"? | "code"? | "viewer" + ("name" + "phone"? | "code"),
 *                          "channel", "state": "playing"|"paused"|"stalled", "headcount"?}
 *                          → 200, empty body
 *   GET  /api/attendance/lessons?from=&to=[&channel=]      per lesson, JSON
 *   GET  /api/attendance/lessons.csv?from=&to=[&channel=]  the same for Excel
 *   GET  /api/attendance/online                            the live board
 *
 * A relay (an edge cache in a township, a PC serving a room's tablets) may
 * post an array of up to 500 heartbeats in one request: each is checked and
 * counted as if sent alone, and the answer is {"accepted": n, "refused":
 * [{"index", "status", "code", "message"}]}. One request instead of
 * hundreds is what lets one server take tens of thousands a second
 * (bench/heartbeat-ingest.sh).
 *
 * The heartbeat route is public in the route table because a kiosk has no
 * login: it authenticates itself, by the viewing point's token (or its
 * 6-digit code), or, for a person at home, takes the random "viewer" id the
 * page keeps in localStorage (nothing to steal there: it only names a row
 * in the report) with the name and phone they typed, or with the code of
 * their viewing point: then they count as an individual of that room's
 * township, not as the room. A phone number makes one viewer of a person on
 * any device. It has no cookie, so there is nothing for CSRF to ride on.
 * It answers from memory: kt-attendance writes in batches.
 *
 * The reports are for administrators (the route table says so). The CSV is
 * what a county office opens in Excel: UTF-8 with a byte-order mark (else
 * Excel reads it as GBK and the Chinese turns to mojibake), CRLF line ends,
 * fields quoted when they hold a comma, quote or line break, and a field
 * that starts like a formula (= + - @) prefixed with ' so that a room named
 * "=HYPERLINK(…)" stays text.
 */
#define G_LOG_DOMAIN "kt-http"

#include "kt-attendance.h"
#include "kt-clock.h"
#include "kt-http.h"
#include "kt-viewpoint.h"

#define VIEWER_ID_MAX 64
#define NAME_MAX_BYTES 120
#define HEADCOUNT_MAX 100000
#define PHONE_MAX 20
#define BATCH_MAX 500 /* heartbeats in one request: well within the 64 KiB body limit */

static gboolean
viewer_id_ok (const char *id)
{
  gsize len = strlen (id);
  if (len == 0 || len > VIEWER_ID_MAX)
    return FALSE;
  for (const char *p = id; *p; p++)
    if (!g_ascii_isalnum (*p) && *p != '-' && *p != '_')
      return FALSE;
  return TRUE;
}

/* "138 0000-1234", "+86 138…": digits, spaces, '+' and '-', at most
 * PHONE_MAX bytes and at least 5 digits. @digits gets the digits alone. */
static gboolean
phone_ok (const char *phone, char digits[PHONE_MAX + 1])
{
  if (strlen (phone) > PHONE_MAX)
    return FALSE;
  gsize n = 0;
  for (const char *p = phone; *p; p++) {
    if (g_ascii_isdigit (*p))
      digits[n++] = *p;
    else if (*p != ' ' && *p != '+' && *p != '-')
      return FALSE;
  }
  digits[n] = '\0';
  return n >= 5;
}

/* A string member, or NULL; FALSE when it is there but not a string. */
static gboolean
get_string (JsonObject *o, const char *name, const char **out)
{
  JsonNode *node = json_object_get_member (o, name);
  *out = NULL;
  if (node == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return FALSE;
  *out = json_node_get_string (node);
  return TRUE;
}

/* What one heartbeat object says, its shape checked: no lookups, so any
 * thread can read it. The strings are the object's. */
typedef struct {
  const char *token, *code, *viewer, *name, *phone, *channel_id;
  char phone_digits[PHONE_MAX + 1];
  KtPlayState state;
  gint64 headcount; /* -1: not given */
} KtBeatFields;

static gboolean
read_beat (JsonObject *o, KtBeatFields *f, KtHttpRefusal *refusal)
{
  const char *state_text;
  f->headcount = -1;
  if (!get_string (o, "token", &f->token) || !get_string (o, "code", &f->code) ||
      !get_string (o, "viewer", &f->viewer) || !get_string (o, "name", &f->name) ||
      !get_string (o, "phone", &f->phone) || (f->phone && !phone_ok (f->phone, f->phone_digits)) ||
      !get_string (o, "channel", &f->channel_id) || !get_string (o, "state", &state_text) ||
      f->channel_id == NULL || !kt_play_state_from_string (state_text, &f->state) ||
      (f->viewer && !viewer_id_ok (f->viewer)) ||
      (f->code && !kt_http_code_well_formed (f->code)) ||
      (f->name && (strlen (f->name) > NAME_MAX_BYTES)) ||
      (f->token == NULL && f->code == NULL && f->viewer == NULL)) {
    refusal->status = SOUP_STATUS_BAD_REQUEST, refusal->code = "bad-request";
    refusal->message = g_strdup ("expected {\"token\" or \"code\" or \"viewer\" (with \"name\" "
                                 "and \"phone\"?, or \"code\"), \"channel\", \"state\": "
                                 "\"playing\"|\"paused\"|\"stalled\", \"headcount\"?}");
    return FALSE;
  }
  JsonNode *headcount = json_object_get_member (o, "headcount");
  if (headcount != NULL && !JSON_NODE_HOLDS_NULL (headcount)) {
    if (!JSON_NODE_HOLDS_VALUE (headcount) || json_node_get_value_type (headcount) != G_TYPE_INT64 ||
        json_node_get_int (headcount) < 0 || json_node_get_int (headcount) > HEADCOUNT_MAX) {
      refusal->status = SOUP_STATUS_BAD_REQUEST, refusal->code = "bad-request";
      refusal->message = g_strdup_printf ("headcount must be a whole number from 0 to %d",
                                          HEADCOUNT_MAX);
      return FALSE;
    }
    f->headcount = json_node_get_int (headcount);
  }
  if (f->viewer != NULL && f->code == NULL && f->token == NULL &&
      (f->name == NULL || f->name[0] == '\0')) {
    refusal->status = SOUP_STATUS_BAD_REQUEST, refusal->code = "bad-request";
    refusal->message
        = g_strdup ("a person at home gives a name (and a phone), or a viewing point's code");
    return FALSE;
  }
  return TRUE;
}

/* A person at home, by name: counted as one, of no room. */
static KtHeartbeat
person_beat (const KtBeatFields *f)
{
  return (KtHeartbeat) { .state = f->state,
                         .headcount = -1, /* a person is one */
                         .viewer = f->viewer,
                         .name = f->name,
                         .phone = f->phone ? f->phone_digits : NULL };
}

/* Count one heartbeat object of @msg. FALSE with @refusal filled in when
 * it is refused. */
static gboolean
beat_one (KtApp *app, SoupServerMessage *msg, JsonObject *o, KtHttpRefusal *refusal)
{
  KtBeatFields f;
  if (!read_beat (o, &f, refusal))
    return FALSE;
  g_autoptr (KtViewpoint) viewpoint = NULL;
  if (f.token != NULL || f.code != NULL) {
    /* The client's address (for the code guard) is a string libsoup makes
     * when first asked: not asked for people at home, who give neither. */
    viewpoint = kt_http_lookup_viewpoint (app, soup_server_message_get_remote_host (msg), f.token,
                                          f.code, refusal);
    if (viewpoint == NULL)
      return FALSE;
  }
  KtHeartbeat hb = person_beat (&f);
  if (viewpoint != NULL && (f.viewer == NULL || f.token != NULL)) {
    hb.viewer = NULL; /* the room itself */
    hb.phone = NULL;
    hb.viewpoint_id = viewpoint->id;
    hb.name = viewpoint->name;
    hb.headcount = f.headcount;
  } else {
    hb.name = f.name ? f.name : ""; /* one person, perhaps of a room */
    hb.member_of = viewpoint ? viewpoint->id : 0;
  }
  KtChannel *channel = kt_app_find_channel (app, f.channel_id);
  if (channel == NULL) {
    refusal->status = SOUP_STATUS_NOT_FOUND, refusal->code = "not-found";
    refusal->message = g_strdup_printf ("no channel “%s”", f.channel_id);
    return FALSE;
  }
  kt_attendance_heartbeat (kt_app_attendance (app), channel, &hb, kt_clock_now_us ());
  return TRUE;
}

/* A batch: {"accepted": n, "refused": [{"index", "status", "code", "message"}]}. */
static void
beat_batch (KtApp *app, SoupServerMessage *msg, JsonArray *beats)
{
  guint n = json_array_get_length (beats);
  if (n == 0 || n > BATCH_MAX) {
    kt_http_error (msg, SOUP_STATUS_BAD_REQUEST, "bad-request",
                   "a batch holds 1 to %d heartbeats", BATCH_MAX);
    return;
  }
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "refused");
  json_builder_begin_array (b);
  guint accepted = 0;
  for (guint i = 0; i < n; i++) {
    JsonNode *node = json_array_get_element (beats, i);
    KtHttpRefusal refusal = { SOUP_STATUS_BAD_REQUEST, "bad-request", NULL, 0 };
    if (JSON_NODE_HOLDS_OBJECT (node) &&
        beat_one (app, msg, json_node_get_object (node), &refusal)) {
      accepted++;
      continue;
    }
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "index");
    json_builder_add_int_value (b, i);
    json_builder_set_member_name (b, "status");
    json_builder_add_int_value (b, refusal.status);
    json_builder_set_member_name (b, "code");
    json_builder_add_string_value (b, refusal.code);
    json_builder_set_member_name (b, "message");
    json_builder_add_string_value (b, refusal.message ? refusal.message : "not a JSON object");
    json_builder_end_object (b);
    g_free (refusal.message);
  }
  json_builder_end_array (b);
  json_builder_set_member_name (b, "accepted");
  json_builder_add_int_value (b, accepted);
  json_builder_end_object (b);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  kt_http_json (msg, SOUP_STATUS_OK, root);
}

/* Heartbeats come by the ten thousand a second. A person at home who gives
 * a name needs no lookup: only that the channel exists, which any thread
 * may ask (kt_app_channel_listed). So the serving thread that received such
 * a heartbeat answers it by itself (kt_http_heartbeat_answer_alone) and
 * sends the main thread a small record to count, with no round trip. A
 * viewing point's token or code needs kt-viewpoint and the code guard,
 * which live on the main thread: that heartbeat is handed over as other
 * requests are, and the serving thread leaves its parse on the message,
 * parsing being a third of the work. A heartbeat answered alone is lost
 * only if the server stops in the instant between answer and count. */
G_DEFINE_QUARK (kt-http-parsed-beat, parsed_beat)

typedef struct {
  JsonParser *parser;
  JsonNode *root; /* the parser's, or NULL: not a JSON document */
  gsize len;
} KtParsedBeat;

static void
parsed_beat_free (gpointer data)
{
  KtParsedBeat *parsed = data;
  g_object_unref (parsed->parser);
  g_free (parsed);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (KtParsedBeat, parsed_beat_free)

static KtParsedBeat *
parse_beat_data (const char *data, gsize len)
{
  KtParsedBeat *parsed = g_new0 (KtParsedBeat, 1);
  parsed->len = len;
  parsed->parser = json_parser_new_immutable ();
  if (len > 0 && g_utf8_validate (data, len, NULL) &&
      json_parser_load_from_data (parsed->parser, data, len, NULL))
    parsed->root = json_parser_get_root (parsed->parser);
  return parsed;
}

static KtParsedBeat *
parse_beat (SoupServerMessage *msg)
{
  g_autoptr (GBytes) bytes = soup_message_body_flatten (soup_server_message_get_request_body (msg));
  gsize len;
  const char *data = g_bytes_get_data (bytes, &len);
  return parse_beat_data (data, len);
}

/* A person's heartbeat answered on a serving thread, on its way to be
 * counted on the main thread: the fields copied out of the parser, and the
 * time it came at (the main thread may get to it a little later). */
typedef struct {
  KtApp *app;
  char *channel_id;
  KtHeartbeat hb; /* person_beat's, its strings copied (owned) */
  gint64 at_us;
} KtPersonBeat;

static void
person_beat_free (gpointer data)
{
  KtPersonBeat *beat = data;
  g_free (beat->channel_id);
  g_free ((char *) beat->hb.viewer);
  g_free ((char *) beat->hb.name);
  g_free ((char *) beat->hb.phone);
  g_free (beat);
}

/* On the main thread. The channel was there when the beat was answered; one
 * dropped since has nothing left to count it on. */
static void
count_person_beat (gpointer data)
{
  KtPersonBeat *beat = data;
  KtChannel *channel = kt_app_find_channel (beat->app, beat->channel_id);
  KtAttendance *attendance = kt_app_attendance (beat->app);
  if (channel != NULL && attendance != NULL)
    kt_attendance_heartbeat (attendance, channel, &beat->hb, beat->at_us);
  person_beat_free (beat);
}

/* On a serving thread: @parsed is a person's heartbeat by name on a channel
 * that exists, now on its way to be counted on the main thread, TRUE; or
 * FALSE, for the route's handler. */
static gboolean
send_person_beat (KtHttp *http, KtApp *app, KtParsedBeat *parsed)
{
  KtBeatFields f;
  KtHttpRefusal refusal = { 0 };
  if (parsed->root == NULL || !JSON_NODE_HOLDS_OBJECT (parsed->root) || parsed->len > 4096 ||
      !read_beat (json_node_get_object (parsed->root), &f, &refusal) || f.token != NULL ||
      f.code != NULL || !kt_app_channel_listed (app, f.channel_id)) {
    g_free (refusal.message);
    return FALSE;
  }
  KtPersonBeat *beat = g_new0 (KtPersonBeat, 1);
  *beat = (KtPersonBeat) { app, g_strdup (f.channel_id), person_beat (&f), kt_clock_now_us () };
  beat->hb.viewer = g_strdup (beat->hb.viewer);
  beat->hb.name = g_strdup (beat->hb.name);
  beat->hb.phone = g_strdup (beat->hb.phone);
  kt_http_to_main (http, count_person_beat, person_beat_free, beat);
  return TRUE;
}

gboolean
kt_http_heartbeat_answer_alone (KtHttp *http, KtApp *app, SoupServerMessage *msg)
{
  g_autoptr (KtParsedBeat) parsed = parse_beat (msg);
  if (!send_person_beat (http, app, parsed)) {
    g_object_set_qdata_full (G_OBJECT (msg), parsed_beat_quark (), g_steal_pointer (&parsed),
                             parsed_beat_free);
    return FALSE;
  }
  kt_http_ok_empty (msg);
  return TRUE;
}

gboolean
kt_http_heartbeat_answer_data (KtHttp *http, KtApp *app, const char *body, gsize len)
{
  g_autoptr (KtParsedBeat) parsed = parse_beat_data (body, len);
  return send_person_beat (http, app, parsed);
}

void
kt_http_heartbeat_handle (KtApp *app, KtRequest *request)
{
  SoupServerMessage *msg = request->msg;
  KtParsedBeat *parsed = g_object_steal_qdata (G_OBJECT (msg), parsed_beat_quark ());
  if (parsed == NULL)
    parsed = parse_beat (msg);
  g_autoptr (KtParsedBeat) owned = parsed;
  JsonNode *root = parsed->root;
  gsize len = parsed->len;
  if (root != NULL && JSON_NODE_HOLDS_ARRAY (root)) {
    beat_batch (app, msg, json_node_get_array (root));
    return;
  }
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root) || len > 4096) {
    kt_http_error (msg, SOUP_STATUS_BAD_REQUEST, "bad-request",
                   "the body must be a JSON object, or an array of them");
    return;
  }
  KtHttpRefusal refusal = { 0 };
  if (!beat_one (app, msg, json_node_get_object (root), &refusal)) {
    kt_http_refuse (msg, &refusal);
    return;
  }
  kt_http_ok_empty (msg);
}

static double
round_to (double value, double unit)
{
  return (double) (gint64) (value / unit + 0.5) * unit; /* values are never negative */
}

double
kt_http_minutes (gint64 us)
{
  return round_to (us / 60e6, 0.1);
}

const char *
kt_http_channel_name (KtApp *app, const char *id)
{
  KtChannel *channel = kt_app_find_channel (app, id);
  return channel ? kt_channel_name (channel) : id;
}

static void
add_attendee (JsonBuilder *b, const KtAttendee *a, GTimeZone *tz)
{
  json_builder_begin_object (b);
  if (a->viewpoint_id > 0) {
    json_builder_set_member_name (b, "id");
    json_builder_add_int_value (b, a->viewpoint_id);
  }
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, a->name);
  json_builder_set_member_name (b, "township");
  json_builder_add_string_value (b, a->township);
  if (a->viewpoint_id == 0) {
    json_builder_set_member_name (b, "phone");
    json_builder_add_string_value (b, a->phone);
    json_builder_set_member_name (b, "viewpoint");
    json_builder_add_string_value (b, a->member_of);
  }
  if (a->viewpoint_id > 0) {
    json_builder_set_member_name (b, "headcount");
    if (a->headcount >= 0)
      json_builder_add_int_value (b, a->headcount);
    else
      json_builder_add_null_value (b);
  }
  json_builder_set_member_name (b, "minutes");
  json_builder_add_double_value (b, kt_http_minutes (a->watched_us));
  json_builder_set_member_name (b, "seconds");
  json_builder_add_int_value (b, a->watched_us / G_USEC_PER_SEC);
  json_builder_set_member_name (b, "share");
  json_builder_add_double_value (b, round_to (a->share, 0.001));
  json_builder_set_member_name (b, "attended");
  json_builder_add_boolean_value (b, a->attended);
  json_builder_set_member_name (b, "stalls");
  json_builder_add_int_value (b, a->stalls);
  kt_http_add_time (b, "joined", a->joined_us, tz);
  if (a->left_us >= 0)
    kt_http_add_time (b, "left", a->left_us, tz);
  else {
    json_builder_set_member_name (b, "left");
    json_builder_add_null_value (b);
  }
  json_builder_end_object (b);
}

static void
add_group (JsonBuilder *b, const char *name, GPtrArray *list, GTimeZone *tz)
{
  json_builder_set_member_name (b, name);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "count");
  json_builder_add_int_value (b, list->len);
  json_builder_set_member_name (b, "list");
  json_builder_begin_array (b);
  for (guint i = 0; i < list->len; i++)
    add_attendee (b, list->pdata[i], tz);
  json_builder_end_array (b);
  json_builder_end_object (b);
}

static void
reply_lessons (KtApp *app, SoupServerMessage *msg, GPtrArray *lessons, gint64 from, gint64 to)
{
  GTimeZone *tz = kt_app_timezone (app);
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  kt_http_add_time (b, "from", from, tz);
  kt_http_add_time (b, "to", to, tz);
  json_builder_set_member_name (b, "lessons");
  json_builder_begin_array (b);
  for (guint i = 0; i < lessons->len; i++) {
    const KtLessonReport *r = lessons->pdata[i];
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "channel");
    json_builder_add_string_value (b, r->channel);
    json_builder_set_member_name (b, "channel_name");
    json_builder_add_string_value (b, kt_http_channel_name (app, r->channel));
    json_builder_set_member_name (b, "title");
    json_builder_add_string_value (b, r->title);
    json_builder_set_member_name (b, "teacher");
    json_builder_add_string_value (b, r->teacher);
    kt_http_add_time (b, "start", r->start_us, tz);
    kt_http_add_time (b, "end", r->end_us, tz);
    add_group (b, "viewpoints", r->viewpoints, tz);
    add_group (b, "individuals", r->individuals, tz);
    json_builder_set_member_name (b, "minutes_watched");
    json_builder_add_double_value (b, kt_http_minutes (r->watched_us));
    json_builder_set_member_name (b, "people_reached");
    json_builder_add_int_value (b, r->people);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  json_builder_end_object (b);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  kt_http_json (msg, SOUP_STATUS_OK, root);
}

GString *
kt_http_csv_new (void)
{
  return g_string_new ("\xEF\xBB\xBF"); /* the BOM that tells Excel it is UTF-8 */
}

/* One CSV field, quoted when it must be. */
static void
csv_field (GString *out, const char *text, gboolean last)
{
  g_autofree char *safe = strchr ("=+-@", text[0]) != NULL && text[0] != '\0'
                              ? g_strconcat ("'", text, NULL)
                              : g_strdup (text);
  if (strpbrk (safe, ",\"\r\n") != NULL) {
    g_string_append_c (out, '"');
    for (const char *p = safe; *p; p++) {
      if (*p == '"')
        g_string_append_c (out, '"');
      g_string_append_c (out, *p);
    }
    g_string_append_c (out, '"');
  } else {
    g_string_append (out, safe);
  }
  g_string_append (out, last ? "\r\n" : ",");
}

void
kt_http_csv_row (GString *out, const char *const *fields, guint n)
{
  for (guint i = 0; i < n; i++)
    csv_field (out, fields[i], i == n - 1);
}

static void
csv_attendee (GString *out, KtApp *app, const KtLessonReport *r, const KtAttendee *a)
{
  g_autoptr (GDateTime) utc = g_date_time_new_from_unix_utc (r->start_us / G_USEC_PER_SEC);
  g_autoptr (GDateTime) local = g_date_time_to_timezone (utc, kt_app_timezone (app));
  g_autofree char *start = g_date_time_format (local, "%Y-%m-%d %H:%M");
  g_autofree char *where = a->viewpoint_id > 0 ? g_strdup (a->name)
                           : a->member_of[0] ? g_strdup_printf ("%s（个人，%s）", a->name, a->member_of)
                                             : g_strdup_printf ("%s（个人）", a->name);
  g_autofree char *mins = g_strdup_printf ("%.1f", kt_http_minutes (a->watched_us));
  g_autofree char *share = g_strdup_printf ("%.0f%%", round_to (a->share * 100, 1));
  g_autofree char *people = a->viewpoint_id == 0 ? g_strdup ("1")
                            : a->headcount >= 0  ? g_strdup_printf ("%" G_GINT64_FORMAT, a->headcount)
                                                 : g_strdup ("");
  const char *fields[] = { r->title, kt_http_channel_name (app, r->channel), start, where, a->township,
                           mins, share, people, a->attended ? "是" : "否" };
  kt_http_csv_row (out, fields, G_N_ELEMENTS (fields));
}

static void
reply_csv (KtApp *app, SoupServerMessage *msg, GPtrArray *lessons, gint64 from)
{
  GString *out = kt_http_csv_new ();
  static const char *const header[] = { "课程", "频道", "开始时间", "收视点", "乡镇",
                                        "收看分钟", "占比", "到课人数", "是否到课" };
  kt_http_csv_row (out, header, G_N_ELEMENTS (header));
  for (guint i = 0; i < lessons->len; i++) {
    const KtLessonReport *r = lessons->pdata[i];
    for (guint j = 0; j < r->viewpoints->len; j++)
      csv_attendee (out, app, r, r->viewpoints->pdata[j]);
    for (guint j = 0; j < r->individuals->len; j++)
      csv_attendee (out, app, r, r->individuals->pdata[j]);
  }
  kt_http_csv_reply (app, msg, out, "attendance", from);
}

void
kt_http_csv_reply (KtApp *app, SoupServerMessage *msg, GString *csv, const char *name, gint64 from)
{
  g_autoptr (GDateTime) utc = g_date_time_new_from_unix_utc (from / G_USEC_PER_SEC);
  g_autoptr (GDateTime) local = g_date_time_to_timezone (utc, kt_app_timezone (app));
  g_autofree char *day = g_date_time_format (local, "%Y-%m-%d");
  g_autofree char *disposition
      = g_strdup_printf ("attachment; filename=\"%s-%s.csv\"", name, day);
  soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                "Content-Disposition", disposition);
  g_autoptr (GBytes) bytes = g_string_free_to_bytes (csv);
  kt_http_bytes (msg, bytes, "text/csv; charset=utf-8", "no-store");
}

void
kt_http_attendance_handle (KtApp *app, KtRequest *request)
{
  SoupServerMessage *msg = request->msg;
  const char *what = request->n_parts == 1 ? request->parts[0] : "";
  if (g_str_equal (what, "online") || g_str_equal (what, "online.csv")) {
    kt_http_board_reply (app, msg, g_str_equal (what, "online.csv"));
    return;
  }
  if (g_str_has_prefix (what, "viewpoints") || g_str_has_prefix (what, "months")) {
    kt_http_summary_reply (app, msg, what);
    return;
  }
  gboolean csv = g_str_equal (what, "lessons.csv");
  if (!csv && !g_str_equal (what, "lessons")) {
    kt_http_error (msg, SOUP_STATUS_NOT_FOUND, "not-found", "no such report");
    return;
  }
  gint64 now = kt_clock_now_us (), from, to;
  if (!kt_http_parse_range (app, msg, now, &from, &to))
    return;
  const char *q = g_uri_get_query (soup_server_message_get_uri (msg));
  g_autoptr (GHashTable) query = q ? g_uri_parse_params (q, -1, "&", G_URI_PARAMS_NONE, NULL) : NULL;
  const char *channel = query ? g_hash_table_lookup (query, "channel") : NULL;

  g_autoptr (GError) error = NULL;
  /* The report reads the store: write what heartbeats changed first. */
  if (!kt_attendance_flush (kt_app_attendance (app), now, &error)) {
    kt_http_error_from_gerror (msg, error);
    return;
  }
  double share = kt_config_get_double (kt_app_config (app), "attendance", "attended_share");
  g_autoptr (GPtrArray) lessons
      = kt_attendance_report (kt_app_store (app), from, to, channel, share, &error);
  if (lessons == NULL) {
    kt_http_error_from_gerror (msg, error);
    return;
  }
  if (csv)
    reply_csv (app, msg, lessons, from);
  else
    reply_lessons (app, msg, lessons, from, to);
}
