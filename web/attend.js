/*
 * ketang (课堂) attendance in the player: heartbeats, and the viewing
 * point's kiosk.
 *
 * Plain ES5, like player.js, for old TV browsers. It runs beside the player
 * and talks to it only through window.ketangPlayer (state, channel, tune).
 *
 * Kiosk (/?kiosk=1&token=… or &code=…): a room's TV. It asks /api/kiosk
 * which channel the room follows and tunes the player to it, then asks
 * again every minute, so a change made on the admin page reaches the TV by
 * itself. The channel is remembered in localStorage: after a power cut the
 * TV plays on even while the server is still away. The operator reports
 * how many people sit in the room (本场到课人数) with big + and − buttons;
 * the number goes out with every heartbeat and, at once, when it changes.
 * It is remembered for the day (the same people usually stay for the next
 * lesson) and forgotten the next day.
 *
 * Heartbeats (POST /api/heartbeat) go out every heartbeat_seconds while a
 * channel is tuned: "playing" when the picture moves, "stalled" while the
 * player is loading or reconnecting, "paused" otherwise. A failed heartbeat
 * is not retried: the next one, 20 s later, says the same and more. A page
 * that is not a kiosk sends heartbeats only once the viewer said who they
 * are (join.js keeps that), so nobody is counted without knowing it.
 *
 * Test hook: window.ketangAttend = { viewpoint, headcount, sent, lastStatus }.
 */
(function (window, document) {
  'use strict';

  var STRINGS = {
    'zh-CN': {
      headcount: '本场到课人数',
      headcountUnset: '请按 + 报人数',
      plus: '加一人',
      minus: '减一人',
      linkBroken: '这个收视点链接已失效，请联系管理员。节目照常播放，但不计入到课。',
      disabled: '这个收视点已停用，请联系管理员。节目照常播放，但不计入到课。'
    },
    en: {
      headcount: 'People here now',
      headcountUnset: 'Press + to count',
      plus: 'One more',
      minus: 'One less',
      linkBroken: 'This viewing point link no longer works; please call the administrator. ' +
        'The programme plays on but is not counted.',
      disabled: 'This viewing point is disabled; please call the administrator. ' +
        'The programme plays on but is not counted.'
    }
  };

  var KIOSK_REFRESH_MS = 60000;
  var DEFAULT_HEARTBEAT_S = 20;
  var HEADCOUNT_SEND_DELAY_MS = 1500; // one heartbeat for a burst of taps
  var HEADCOUNT_MAX = 9999;

  function $(id) {
    return document.getElementById(id);
  }

  function parseQuery(search) {
    var out = {};
    var parts = (search || '').replace(/^\?/, '').split('&');
    for (var i = 0; i < parts.length; i++) {
      var eq = parts[i].indexOf('=');
      if (eq <= 0) {
        continue;
      }
      try {
        out[decodeURIComponent(parts[i].substring(0, eq))] =
          decodeURIComponent(parts[i].substring(eq + 1).replace(/\+/g, ' '));
      } catch (e) {
        // a malformed pair is ignored
      }
    }
    return out;
  }

  function storage(key, value) {
    try {
      if (!window.localStorage) {
        return null;
      }
      if (value === undefined) {
        return window.localStorage.getItem(key);
      }
      window.localStorage.setItem(key, value);
    } catch (e) {
      // private mode: nothing is remembered
    }
    return null;
  }

  function today() {
    var d = new Date();
    return d.getFullYear() + '-' + (d.getMonth() + 1) + '-' + d.getDate();
  }

  var params = parseQuery(window.location.search);
  var kiosk = (params.kiosk === '1' || params.kiosk === 'true') && !!(params.token || params.code);

  var A = {
    viewpoint: null,        // {id, name, township, channel} from /api/kiosk
    heartbeatS: DEFAULT_HEARTBEAT_S,
    headcount: null,        // null until the operator sets it
    sent: 0,                // heartbeats answered 200
    lastStatus: null,       // status of the latest heartbeat (0: no answer)
    identity: null,         // {viewer, name?, phone?, code?} for a person at home (join.js)
    timer: null,
    headcountTimer: null
  };
  window.ketangAttend = A;

  function lang() {
    var p = window.ketangPlayer;
    return p && p.lang === 'en' ? 'en' : 'zh-CN';
  }

  function t(key) {
    return STRINGS[lang()][key] || STRINGS['zh-CN'][key] || key;
  }

  function setText(el, text) {
    if (el && el.textContent !== text) {
      el.textContent = text;
    }
  }

  function show(el, on) {
    if (!el) {
      return;
    }
    var cls = ' ' + el.className + ' ';
    if (on) {
      el.className = cls.replace(' hidden ', ' ').replace(/^\s+|\s+$/g, '');
    } else if (cls.indexOf(' hidden ') < 0) {
      el.className = (el.className + ' hidden').replace(/^\s+/, '');
    }
  }

  function send(method, url, body, cb) {
    var xhr;
    try {
      xhr = new window.XMLHttpRequest();
      xhr.open(method, url, true);
      if (body) {
        xhr.setRequestHeader('Content-Type', 'application/json');
      }
    } catch (e) {
      cb(0, null);
      return;
    }
    var done = false;
    function finish(status) {
      if (done) {
        return;
      }
      done = true;
      var data = null;
      try {
        data = xhr.responseText ? JSON.parse(xhr.responseText) : null;
      } catch (e) {
        data = null;
      }
      cb(status, data);
    }
    xhr.onreadystatechange = function () {
      if (xhr.readyState === 4) {
        finish(xhr.status);
      }
    };
    window.setTimeout(function () {
      try {
        xhr.abort();
      } catch (e) {
        // already done
      }
      finish(0);
    }, 8000);
    try {
      xhr.send(body ? JSON.stringify(body) : null);
    } catch (e) {
      finish(0);
    }
  }

  function credentials() {
    return params.token ? { token: params.token } : { code: params.code };
  }

  // -------------------------------------------------------------------
  // Heartbeats

  function playState() {
    var p = window.ketangPlayer;
    var s = p ? p.state : 'idle';
    if (s === 'playing') {
      return 'playing';
    }
    if (s === 'loading' || s === 'reconnecting') {
      return 'stalled';
    }
    return 'paused';
  }

  function heartbeat() {
    var p = window.ketangPlayer;
    if (!p || !p.channel) {
      return;
    }
    var body;
    if (kiosk) {
      body = credentials();
      if (A.headcount !== null) {
        body.headcount = A.headcount;
      }
    } else if (A.identity) {
      body = {};
      for (var k in A.identity) {
        if (A.identity.hasOwnProperty(k)) {
          body[k] = A.identity[k];
        }
      }
    } else {
      return;
    }
    body.channel = String(p.channel);
    body.state = playState();
    send('POST', 'api/heartbeat', body, function (status, data) {
      A.lastStatus = status;
      if (status === 200) {
        A.sent++;
        notice(null);
      } else if (kiosk && (status === 401 || status === 403)) {
        notice(status === 403 ? t('disabled') : t('linkBroken'));
      }
      if (A.onAnswer) {
        A.onAnswer(status, data);
      }
    });
  }

  function startHeartbeats() {
    window.clearInterval(A.timer);
    A.timer = window.setInterval(heartbeat, A.heartbeatS * 1000);
  }

  // -------------------------------------------------------------------
  // Kiosk

  function notice(text) {
    var el = $('kiosk-notice');
    setText(el, text || '');
    show(el, !!text);
  }

  function tune(channel) {
    var p = window.ketangPlayer;
    if (p && p.tune && channel) {
      p.tune(channel);
    }
  }

  function refreshKiosk() {
    var c = credentials();
    var url = 'api/kiosk?' + (c.token ? 'token=' + encodeURIComponent(c.token)
      : 'code=' + encodeURIComponent(c.code));
    send('GET', url, null, function (status, data) {
      if (status === 200 && data && data.viewpoint) {
        var first = !A.viewpoint;
        A.viewpoint = data.viewpoint;
        storage('ketang.kiosk.channel', data.viewpoint.channel);
        setText($('kiosk-room'), data.viewpoint.name);
        notice(null);
        if (data.heartbeat_seconds && data.heartbeat_seconds !== A.heartbeatS) {
          A.heartbeatS = data.heartbeat_seconds;
          startHeartbeats();
        }
        tune(data.viewpoint.channel);
        if (first) {
          heartbeat();
        }
      } else {
        if (status === 401 || status === 403) {
          notice(data && data.error && /[\u4e00-\u9fff]/.test(data.error.message) && lang() !== 'en'
            ? data.error.message : t(status === 403 ? 'disabled' : 'linkBroken'));
        }
        // The server is away or the link is refused: play what the room
        // played last time (or channel 1) rather than a black screen.
        tune(storage('ketang.kiosk.channel') || '1');
      }
      window.setTimeout(refreshKiosk, KIOSK_REFRESH_MS);
    });
  }

  function loadHeadcount() {
    try {
      var saved = JSON.parse(storage('ketang.headcount') || 'null');
      if (saved && saved.day === today() && typeof saved.n === 'number') {
        A.headcount = saved.n;
      }
    } catch (e) {
      A.headcount = null;
    }
  }

  function renderHeadcount() {
    var unset = A.headcount === null;
    setText($('headcount-value'), unset ? '0' : String(A.headcount));
    setText($('headcount-hint'), unset ? t('headcountUnset') : '');
    setText($('headcount-label'), t('headcount'));
    var minus = $('headcount-minus');
    var plus = $('headcount-plus');
    if (minus) {
      minus.disabled = unset || A.headcount <= 0;
      minus.setAttribute('aria-label', t('minus'));
    }
    if (plus) {
      plus.setAttribute('aria-label', t('plus'));
    }
  }

  function changeHeadcount(delta) {
    var n = (A.headcount === null ? 0 : A.headcount) + delta;
    A.headcount = Math.max(0, Math.min(HEADCOUNT_MAX, n));
    storage('ketang.headcount', JSON.stringify({ n: A.headcount, day: today() }));
    renderHeadcount();
    window.clearTimeout(A.headcountTimer);
    A.headcountTimer = window.setTimeout(heartbeat, HEADCOUNT_SEND_DELAY_MS);
  }

  // A kiosk fills the screen when the picture is first touched (browsers
  // allow full screen only after a gesture); the whole page goes full
  // screen, so the headcount stays in view. The + and − buttons do not do
  // it: counting people must not change the screen under the finger.
  function fullscreenOnFirstTouch() {
    var player = $('player');
    if (!player) {
      return;
    }
    function go() {
      player.removeEventListener('click', go, false);
      var el = document.documentElement;
      var req = el.requestFullscreen || el.webkitRequestFullscreen || el.mozRequestFullScreen;
      if (req && !(document.fullscreenElement || document.webkitFullscreenElement)) {
        try {
          var p = req.call(el);
          if (p && p.then) {
            p.then(null, function () {});
          }
        } catch (e) {
          // not allowed here: the page still fills the window
        }
      }
    }
    player.addEventListener('click', go, false);
  }

  function initKiosk() {
    show($('kiosk-panel'), true);
    loadHeadcount();
    renderHeadcount();
    var plus = $('headcount-plus');
    var minus = $('headcount-minus');
    if (plus) {
      plus.onclick = function () {
        changeHeadcount(1);
      };
    }
    if (minus) {
      minus.onclick = function () {
        changeHeadcount(-1);
      };
    }
    var toggle = $('lang-toggle');
    if (toggle) {
      toggle.addEventListener('click', function () {
        window.setTimeout(renderHeadcount, 0);
      }, false);
    }
    fullscreenOnFirstTouch();
    refreshKiosk();
  }

  // For join.js: who is watching at home ({viewer, name, phone} or
  // {viewer, code}); null stops the heartbeats.
  A.setIdentity = function (identity) {
    A.identity = identity;
    if (identity) {
      heartbeat();
    }
  };
  A.heartbeatNow = heartbeat;

  function init() {
    startHeartbeats();
    if (kiosk) {
      initKiosk();
    }
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', init, false);
  } else {
    init();
  }
}(window, document));
