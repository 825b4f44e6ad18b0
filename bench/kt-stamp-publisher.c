/* kt-stamp-publisher: a live talk's speaker whose picture carries the
 * wall-clock time it was made, for bench/live-latency.mjs.
 *
 * Latency from ingest to a viewer's screen can only be measured honestly
 * by reading, off the screen, when the picture on it was made: any
 * reference taken elsewhere (the server's "publisher admitted" line, the
 * stream's own timestamps) differs from the picture's birth by amounts
 * nobody measured. So this program makes its frames itself (appsrc,
 * 640x360 I420, 25 fps, paced by the monotonic clock) and paints into each
 * one, at the moment it is made, g_get_real_time () in milliseconds as
 * blocks of black and white. The viewer (a script in the player page, same
 * machine, same clock) decodes the blocks of the frame it shows and
 * subtracts them from Date.now ().
 *
 * The code. The top 160 rows of the picture are a grid of 16 x 4 cells of
 * 40 x 40 pixels (10 % of the picture's width each: a cell still covers
 * 20 x 20 pixels of the smallest rendition, and x264 at 600 kb/s keeps a
 * flat black or white block of that size far from the middle grey). Read
 * row by row: cell 0 white and cell 1 black (marks that say "this is a
 * stamp", and which way is white), cells 2..49 the 48-bit time (most
 * significant first), cells 50..55 the number of ones among those 48 bits
 * (a check: a misread cell changes it), the rest black. Below the grid a
 * bar moves, so that the encoder has some motion to code, as it would with
 * a camera.
 *
 * Encoding is what a publisher on loopback would do: x264 tune=zerolatency
 * (no look-ahead, no B-frames), a keyframe every 2 s, AAC sound (the server
 * refuses a stream without sound), MPEG-TS with alignment=7 (see
 * NOTES-media.md) into srtsink, caller mode, with the talk's stream id.
 *
 *   kt-stamp-publisher SRT-URI SECONDS
 *   e.g. kt-stamp-publisher 'srt://127.0.0.1:9710?streamid=bench/KEY' 90
 *
 * Exits 0 after SECONDS of stream, 1 if the pipeline fails (the server
 * refused the caller, say).
 */
#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <stdlib.h>
#include <string.h>

#define WIDTH 640
#define HEIGHT 360
#define FPS 25
#define CELL 40
#define COLS 16
#define TIME_BITS 48
#define CHECK_BITS 6

typedef struct {
  GstElement *pipeline;
  GstAppSrc *src;
  guint frames;        /* to send */
  volatile gint stop;  /* set by the main loop when the pipeline failed */
} Publisher;

static void
paint_cell (guint8 *luma, guint index, gboolean white)
{
  guint x0 = (index % COLS) * CELL, y0 = (index / COLS) * CELL;
  for (guint y = y0; y < y0 + CELL; y++)
    memset (luma + y * WIDTH + x0, white ? 235 : 16, CELL);
}

/* Paints @ms into the luma plane @luma; see the essay for the layout. */
static void
paint_stamp (guint8 *luma, guint64 ms)
{
  guint index = 0, ones = 0;
  paint_cell (luma, index++, TRUE);
  paint_cell (luma, index++, FALSE);
  for (int b = TIME_BITS - 1; b >= 0; b--) {
    gboolean bit = (ms >> b) & 1;
    ones += bit;
    paint_cell (luma, index++, bit);
  }
  for (int b = CHECK_BITS - 1; b >= 0; b--)
    paint_cell (luma, index++, (ones >> b) & 1);
  while (index < COLS * 4)
    paint_cell (luma, index++, FALSE);
}

static GstBuffer *
make_frame (guint n)
{
  gsize luma_size = WIDTH * HEIGHT, chroma_size = luma_size / 4;
  GstBuffer *buffer = gst_buffer_new_allocate (NULL, luma_size + 2 * chroma_size, NULL);
  GstMapInfo map;
  gst_buffer_map (buffer, &map, GST_MAP_WRITE);
  memset (map.data, 128, luma_size);
  memset (map.data + luma_size, 128, 2 * chroma_size); /* grey, no colour */
  guint bar = (n * 8) % WIDTH;
  for (guint y = 4 * CELL + 40; y < HEIGHT - 40; y++)
    memset (map.data + y * WIDTH + (bar < WIDTH - 40 ? bar : WIDTH - 40), 235, 40);
  /* The time is taken last, when the picture is otherwise ready. */
  paint_stamp (map.data, (guint64) (g_get_real_time () / 1000));
  gst_buffer_unmap (buffer, &map);
  return buffer;
}

/* Its own thread: one frame every 40 ms of the monotonic clock. appsrc
 * (do-timestamp) stamps each with the pipeline's running time as it is
 * pushed, so stream time runs with the wall clock. */
static gpointer
feed (gpointer data)
{
  Publisher *p = data;
  gint64 start = g_get_monotonic_time ();
  for (guint n = 0; n < p->frames && !g_atomic_int_get (&p->stop); n++) {
    gint64 due = start + (gint64) n * G_USEC_PER_SEC / FPS;
    gint64 wait = due - g_get_monotonic_time ();
    if (wait > 0)
      g_usleep (wait);
    if (gst_app_src_push_buffer (p->src, make_frame (n)) != GST_FLOW_OK)
      break;
  }
  gst_app_src_end_of_stream (p->src);
  return NULL;
}

static gboolean failed; /* main thread */

static gboolean
on_bus (GstBus *bus, GstMessage *message, gpointer user_data)
{
  GMainLoop *loop = user_data;
  if (GST_MESSAGE_TYPE (message) == GST_MESSAGE_ERROR) {
    g_autoptr (GError) error = NULL;
    gst_message_parse_error (message, &error, NULL);
    g_printerr ("kt-stamp-publisher: %s\n", error->message);
    failed = TRUE;
    g_main_loop_quit (loop);
  } else if (GST_MESSAGE_TYPE (message) == GST_MESSAGE_EOS) {
    g_main_loop_quit (loop);
  }
  return G_SOURCE_CONTINUE;
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  if (argc != 3 || !g_str_has_prefix (argv[1], "srt://") || atof (argv[2]) <= 0) {
    g_printerr ("usage: kt-stamp-publisher SRT-URI SECONDS\n");
    return 2;
  }
  /* The URI goes in as a property, not into the launch line. */
  g_autofree char *description = g_strdup_printf (
      "appsrc name=frames is-live=true do-timestamp=true format=time "
      "caps=video/x-raw,format=I420,width=%d,height=%d,framerate=%d/1,"
      "pixel-aspect-ratio=1/1,colorimetry=bt601 ! "
      "x264enc speed-preset=veryfast tune=zerolatency bitrate=1500 key-int-max=50 bframes=0 ! "
      "h264parse ! queue ! mux. "
      "audiotestsrc name=tone is-live=true volume=0.1 samplesperbuffer=960 ! "
      "audio/x-raw,rate=48000,channels=2 ! avenc_aac ! aacparse ! queue ! mux. "
      "mpegtsmux name=mux alignment=7 ! srtsink name=out latency=200 auto-reconnect=false",
      WIDTH, HEIGHT, FPS);
  g_autoptr (GError) error = NULL;
  Publisher p = { 0 };
  p.pipeline = gst_parse_launch (description, &error);
  if (p.pipeline == NULL) {
    g_printerr ("kt-stamp-publisher: %s\n", error->message);
    return 1;
  }
  p.frames = (guint) (atof (argv[2]) * FPS);
  p.src = GST_APP_SRC (gst_bin_get_by_name (GST_BIN (p.pipeline), "frames"));
  g_autoptr (GstElement) out = gst_bin_get_by_name (GST_BIN (p.pipeline), "out");
  g_object_set (out, "uri", argv[1], NULL);
  /* The sound ends with the picture (mpegtsmux ends when both have). */
  g_autoptr (GstElement) tone = gst_bin_get_by_name (GST_BIN (p.pipeline), "tone");
  g_object_set (tone, "num-buffers", (int) (atof (argv[2]) * 50), NULL);
  g_autoptr (GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr (GstBus) bus = gst_element_get_bus (p.pipeline);
  gst_bus_add_watch (bus, on_bus, loop);
  gst_element_set_state (p.pipeline, GST_STATE_PLAYING);
  GThread *feeder = g_thread_new ("frames", feed, &p);
  g_main_loop_run (loop);
  g_atomic_int_set (&p.stop, 1);
  gst_element_set_state (p.pipeline, GST_STATE_NULL);
  g_thread_join (feeder);
  gst_object_unref (p.src);
  gst_object_unref (p.pipeline);
  return failed ? 1 : 0;
}
