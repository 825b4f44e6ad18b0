/*
 * ketang (课堂) web player.
 *
 * Plain ES5 on purpose: it has to run in old TV browsers as well as on
 * phones and PCs. No modules, no arrow functions, no let/const, no template
 * strings, no optional chaining, no Promise dependency (Promises returned by
 * the browser are used only when present).
 *
 * Structure:
 *   - STRINGS / t()            UI string table (zh-CN default, en)
 *   - http helpers             XMLHttpRequest JSON loader
 *   - channel list             /api/channels polling and rendering
 *   - playback engine          hls.js, falling back to native HLS
 *   - recovery                 fatal errors, stalls, server restarts
 *   - controls                 unmute, full screen, audio only, language
 *
 * Test hook: window.ketangPlayer = { state, errors, channel, ... }.
 */
(function (window, document) {
  'use strict';

  // ---------------------------------------------------------------------
  // Strings

  var STRINGS = {
    'zh-CN': {
      pageTitle: '课堂 · 远程教学直播',
      brand: '课堂',
      brandSub: '远程教学直播',
      nowPlaying: '正在播放',
      upNext: '接下来',
      channels: '频道',
      fullscreen: '全屏',
      exitFullscreen: '退出全屏',
      audioOnly: '仅声音',
      audioOnlyOn: '仅声音模式',
      unmute: '点击开启声音',
      tapToPlay: '点击播放',
      loading: '正在加载…',
      reconnecting: '信号中断，正在重新连接…',
      preparing: '节目准备中，请稍候…',
      offAir: '本频道现在没有节目',
      unsupported: '这个浏览器无法播放直播，请换一个浏览器试试。',
      noChannels: '暂时没有频道',
      noProgramme: '暂无节目信息',
      noLessonNow: '现在没有课程',
      nextPrefix: '下一节：',
      teacher: '主讲：',
      stateOnAir: '直播中',
      statePreparing: '准备中',
      stateOffAir: '休息中',
      hint: '点一下频道即可观看。声音太小时，请调大电视或手机的音量。',
      langToggle: 'English',
      langToggleLang: 'en',
      todayGuide: '今日节目',
      guideEmpty: '今天没有安排课程',
      guideNow: '正在播放'
    },
    en: {
      pageTitle: 'Ketang · Distance Learning Live',
      brand: 'Ketang',
      brandSub: 'Distance Learning Live',
      nowPlaying: 'Now playing',
      upNext: 'Up next',
      channels: 'Channels',
      fullscreen: 'Full screen',
      exitFullscreen: 'Exit full screen',
      audioOnly: 'Audio only',
      audioOnlyOn: 'Audio only',
      unmute: 'Tap to turn sound on',
      tapToPlay: 'Tap to play',
      loading: 'Loading…',
      reconnecting: 'Signal lost, reconnecting…',
      preparing: 'The programme is being prepared, please wait…',
      offAir: 'Nothing on this channel right now',
      unsupported: 'This browser cannot play the live stream. Please try another browser.',
      noChannels: 'No channels yet',
      noProgramme: 'No programme information',
      noLessonNow: 'No lesson right now',
      nextPrefix: 'Next: ',
      teacher: 'Teacher: ',
      stateOnAir: 'Live',
      statePreparing: 'Preparing',
      stateOffAir: 'Off air',
      hint: 'Tap a channel to watch. If the sound is too quiet, turn up the volume on your TV or phone.',
      langToggle: '中文',
      langToggleLang: 'zh-CN',
      todayGuide: "Today's lessons",
      guideEmpty: 'No lessons today',
      guideNow: 'On now'
    }
  };

  // ---------------------------------------------------------------------
  // Tunables (milliseconds)

  var CHANNEL_REFRESH_MS = 15000;   // normal /api/channels polling
  var GUIDE_LINES = 8;              // lessons shown in today's guide
  var PREPARING_REFRESH_MS = 3000;  // polling while a channel is being prepared
  var MIN_REFRESH_MS = 2000;
  var BACKOFF_BASE_MS = 1000;
  var BACKOFF_MAX_MS = 10000;       // retries never wait longer than this
  var STALL_NOTICE_MS = 4000;       // no progress for this long => show the status line
  var STALL_MS = 10000;             // no progress for this long => stalled, recover
  var HEALTHY_MS = 5000;            // progress for this long => reset back-off
  var WATCHDOG_MS = 1000;
  var REQUEST_TIMEOUT_MS = 8000;
  var MAX_LOG = 100;                // cap for errors / recoveries lists

  // ---------------------------------------------------------------------
  // Small helpers (no classList / dataset / Array.prototype.find needed)

  function $(id) {
    return document.getElementById(id);
  }

  function hasClass(el, cls) {
    return (' ' + el.className + ' ').indexOf(' ' + cls + ' ') >= 0;
  }

  function setClass(el, cls, on) {
    if (!el) {
      return;
    }
    var present = hasClass(el, cls);
    if (on && !present) {
      el.className = (el.className ? el.className + ' ' : '') + cls;
    } else if (!on && present) {
      el.className = (' ' + el.className + ' ').replace(' ' + cls + ' ', ' ')
        .replace(/^\s+|\s+$/g, '');
    }
  }

  function show(el, on) {
    setClass(el, 'hidden', !on);
  }

  function setText(el, text) {
    if (el && el.textContent !== text) {
      el.textContent = text;
    }
  }

  function isArray(v) {
    return Object.prototype.toString.call(v) === '[object Array]';
  }

  function now() {
    return new Date().getTime();
  }

  function pushCapped(list, item) {
    list.push(item);
    while (list.length > MAX_LOG) {
      list.shift();
    }
  }

  function parseQuery(search) {
    var out = {};
    var parts = (search || '').replace(/^\?/, '').split('&');
    for (var i = 0; i < parts.length; i++) {
      if (!parts[i]) {
        continue;
      }
      var eq = parts[i].indexOf('=');
      var key = eq >= 0 ? parts[i].substring(0, eq) : parts[i];
      var val = eq >= 0 ? parts[i].substring(eq + 1) : '';
      try {
        key = decodeURIComponent(key.replace(/\+/g, ' '));
        val = decodeURIComponent(val.replace(/\+/g, ' '));
      } catch (e) {
        continue;
      }
      out[key] = val;
    }
    return out;
  }

  function storageGet(key) {
    try {
      return window.localStorage ? window.localStorage.getItem(key) : null;
    } catch (e) {
      return null;
    }
  }

  function storageSet(key, value) {
    try {
      if (window.localStorage) {
        window.localStorage.setItem(key, value);
      }
    } catch (e) {
      // Private mode or disabled storage: preferences just are not kept.
    }
  }

  // "2026-11-29T09:00:00+08:00" -> milliseconds since the epoch, or NaN.
  // Done by hand because old browsers' Date.parse does not know ISO 8601.
  function parseIsoMs(s) {
    var m = /^(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d)(?::(\d\d)(?:\.(\d+))?)?(Z|[+\-]\d\d:?\d\d)?$/
      .exec(s || '');
    if (!m) {
      return NaN;
    }
    var ms = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +(m[6] || 0),
      m[7] ? Math.round(+('0.' + m[7]) * 1000) : 0);
    if (m[8] && m[8] !== 'Z') {
      var sign = m[8].charAt(0) === '-' ? -1 : 1;
      var digits = m[8].replace(/[^0-9]/g, '');
      var offMin = (+digits.substring(0, 2)) * 60 + (+digits.substring(2, 4));
      ms -= sign * offMin * 60000;
    }
    return ms;
  }

  // Wall-clock "HH:MM" exactly as the server wrote it (the school's time
  // zone), independent of the viewer device's clock and zone settings.
  function hhmm(s) {
    var m = /T(\d\d):(\d\d)/.exec(s || '');
    return m ? m[1] + ':' + m[2] : '';
  }

  var MONTHS_EN = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

  // "HH:MM" when s is today (in s's own time zone), else with the date:
  // "12月1日 09:00" / "Dec 1, 09:00".
  function whenText(s) {
    var m = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d)/.exec(s || '');
    if (!m) {
      return '';
    }
    var time = m[4] + ':' + m[5];
    var z = /(Z|([+\-])(\d\d):?(\d\d))$/.exec(s);
    if (z) {
      var off = z[1] === 'Z' ? 0 : (z[2] === '-' ? -1 : 1) * ((+z[3]) * 60 + (+z[4]));
      var today = new Date(now() + off * 60000);
      if (today.getUTCFullYear() === +m[1] && today.getUTCMonth() + 1 === +m[2] &&
          today.getUTCDate() === +m[3]) {
        return time;
      }
    }
    if (S.lang === 'en') {
      return MONTHS_EN[(+m[2] - 1) % 12] + ' ' + (+m[3]) + ', ' + time;
    }
    return (+m[2]) + '月' + (+m[3]) + '日 ' + time;
  }

  // ---------------------------------------------------------------------
  // State

  var params = parseQuery(window.location.search);

  function pickLang(v) {
    if (!v) {
      return null;
    }
    v = String(v).toLowerCase();
    if (v.indexOf('en') === 0) {
      return 'en';
    }
    if (v.indexOf('zh') === 0) {
      return 'zh-CN';
    }
    return null;
  }

  var S = {
    lang: pickLang(params.lang) || pickLang(storageGet('ketang.lang')) || 'zh-CN',
    kiosk: params.kiosk === '1' || params.kiosk === 'true',
    // A viewing point's kiosk waits for attend.js to say which channel the
    // room follows (api.tune) instead of starting on the default one.
    tuneHeld: (params.kiosk === '1' || params.kiosk === 'true') && !!(params.token || params.code),
    preferredChannel: params.channel || '1',
    audioOnly: params.audio === '1' || (params.audio !== '0' && storageGet('ketang.audioOnly') === '1'),

    channels: [],
    channelsLoaded: false,
    guide: null,           // today's lessons of the channel (api/channels/<id>/guide)
    guideKey: null,        // what the guide was fetched for (see refreshGuide)
    syncSeconds: 0,        // the hold-back hls.js was given, in seconds (applyLiveSync)
    jumpChecks: 0,         // segments still to buffer before giving up a jump (jumpToLiveSync)
    apiFailures: 0,
    refreshTimer: null,

    channelId: null,
    engine: null,          // 'hls' | 'native' | null
    hls: null,
    manifestParsed: false,
    sourceUrl: null,
    generation: 0,         // bumps on every (re)start; stale callbacks compare it
    audioUrls: {},         // channel id -> audio-only variant URL (or '' if none)

    wantPlay: false,       // playback is wanted (a channel is selected and on air)
    playRequested: false,
    forcedMute: false,     // the browser refused sound without a tap
    pauseStrikes: 0,
    userPaused: false,     // waiting for the viewer to tap "play"

    attempt: 0,            // consecutive failures, drives the back-off
    retryTimer: null,
    retryFn: null,
    networkRecoveries: 0,
    mediaErrorAt: 0,
    swappedAudio: false,
    awaitingFrag: false,   // after a network recovery: no new media yet

    lastTime: -1,
    lastTickAt: 0,
    lastProgressAt: 0,
    healthySince: 0,
    stallStrikes: 0,

    statusKey: null
  };

  var api = {
    state: 'idle',
    errors: [],       // fatal playback errors, e.g. "networkError:levelLoadError (HTTP 503)"
    recoveries: [],   // what the player did to recover (stalls, restarts)
    warnings: [],     // non-fatal hls.js errors, for diagnosis
    channel: null,
    lang: S.lang,
    kiosk: S.kiosk,
    audioOnly: S.audioOnly,
    engine: null,
    source: null      // playlist URL being played (master or audio-only variant)
  };
  window.ketangPlayer = api;

  var video;

  function t(key) {
    var table = STRINGS[S.lang] || STRINGS['zh-CN'];
    return table[key] !== undefined ? table[key] : (STRINGS['zh-CN'][key] || key);
  }

  // ---------------------------------------------------------------------
  // HTTP

  // GET url; cb(status, text). status is 0 when the server could not be
  // reached or the request timed out. cb is called exactly once.
  function request(url, accept, cb) {
    var done = false;
    var xhr;
    var guard = null;
    function finish(status, text) {
      if (done) {
        return;
      }
      done = true;
      if (guard !== null) {
        window.clearTimeout(guard);
      }
      cb(status, text);
    }
    try {
      xhr = new window.XMLHttpRequest();
      xhr.open('GET', url, true);
      if (accept) {
        xhr.setRequestHeader('Accept', accept);
      }
    } catch (e) {
      finish(0, '');
      return;
    }
    // Our own timer rather than xhr.timeout, which old engines lack.
    guard = window.setTimeout(function () {
      try {
        xhr.abort();
      } catch (e) {
        // ignore
      }
      finish(0, '');
    }, REQUEST_TIMEOUT_MS);
    xhr.onreadystatechange = function () {
      if (xhr.readyState === 4) {
        finish(xhr.status, xhr.responseText || '');
      }
    };
    try {
      xhr.send(null);
    } catch (e) {
      finish(0, '');
    }
  }

  // cb(err, data). err is {status, code, message}, following the server's
  // {"error":{"code":..,"message":..}} shape when it answered that way.
  function getJSON(url, cb) {
    request(url, 'application/json', function (status, text) {
      var body = null;
      try {
        body = text ? JSON.parse(text) : null;
      } catch (e) {
        body = null;
      }
      if (status >= 200 && status < 300 && body) {
        cb(null, body);
        return;
      }
      var err = { status: status, code: 'http-error', message: 'HTTP ' + status };
      if (body && body.error) {
        err.code = body.error.code || err.code;
        err.message = body.error.message || err.message;
      } else if (status === 0) {
        err.code = 'unreachable';
        err.message = 'server unreachable';
      }
      cb(err);
    });
  }

  // cb(err, text)
  function getText(url, cb) {
    request(url, null, function (status, text) {
      if (status >= 200 && status < 300) {
        cb(null, text);
      } else {
        cb({ status: status });
      }
    });
  }

  // ---------------------------------------------------------------------
  // UI state and status line

  function setState(state) {
    api.state = state;
    var app = $('app');
    if (app) {
      app.setAttribute('data-state', state);
    }
    updateOverlays();
  }

  function updateOverlays() {
    var state = api.state;
    var key = null;
    if (state === 'loading') {
      key = 'loading';
    } else if (state === 'reconnecting') {
      key = currentChannelState() === 'preparing' && !S.apiFailures ? 'preparing' : 'reconnecting';
    } else if (state === 'preparing') {
      key = 'preparing';
    } else if (state === 'off-air') {
      key = 'offAir';
    } else if (state === 'error') {
      key = 'unsupported';
    } else if (state === 'idle' && S.channelsLoaded && !S.channels.length) {
      key = 'noChannels';
    }
    S.statusKey = key;
    var status = $('status');
    setText(status, key ? t(key) : '');
    show(status, !!key);

    show($('tap-play'), state === 'paused');
    show($('unmute'), S.forcedMute && (state === 'playing' || state === 'loading'));
    show($('audio-panel'), S.audioOnly && !!S.engine);
  }

  function applyLanguage() {
    api.lang = S.lang;
    document.documentElement.setAttribute('lang', S.lang);
    var nodes = document.querySelectorAll ? document.querySelectorAll('[data-i18n]') : [];
    for (var i = 0; i < nodes.length; i++) {
      setText(nodes[i], t(nodes[i].getAttribute('data-i18n')));
    }
    var toggle = $('lang-toggle');
    if (toggle) {
      setText(toggle, t('langToggle'));
      toggle.setAttribute('lang', t('langToggleLang'));
    }
    updateFullscreenButton();
    renderChannels();
    renderNowPlaying();
    renderGuide();
    updateOverlays();
  }

  function setLanguage(lang) {
    S.lang = pickLang(lang) || 'zh-CN';
    storageSet('ketang.lang', S.lang);
    applyLanguage();
  }

  // ---------------------------------------------------------------------
  // Channels

  function findChannel(id) {
    for (var i = 0; i < S.channels.length; i++) {
      if (String(S.channels[i].id) === String(id)) {
        return S.channels[i];
      }
    }
    return null;
  }

  function currentChannel() {
    return S.channelId !== null ? findChannel(S.channelId) : null;
  }

  function currentChannelState() {
    var ch = currentChannel();
    return ch && ch.state ? ch.state : null;
  }

  function stateLabel(state) {
    if (state === 'on-air') {
      return t('stateOnAir');
    }
    if (state === 'preparing') {
      return t('statePreparing');
    }
    if (state === 'off-air') {
      return t('stateOffAir');
    }
    return '';
  }

  var channelButtons = {};

  function renderChannels() {
    var list = $('channel-list');
    if (!list) {
      return;
    }
    var seen = {};
    for (var i = 0; i < S.channels.length; i++) {
      var ch = S.channels[i];
      var id = String(ch.id);
      seen[id] = true;
      var btn = channelButtons[id];
      if (!btn) {
        btn = createChannelButton(id);
        channelButtons[id] = btn;
      }
      // Keep DOM order equal to API order without rebuilding (keeps focus
      // on TV remote controls).
      var li = btn.parentNode;
      if (list.children[i] !== li) {
        list.insertBefore(li, list.children[i] || null);
      }
      var nameEl = btn.children[0];
      var nowEl = btn.children[1];
      var nameText = nameEl.children[0];
      var badge = nameEl.children[1];
      setText(nameText, ch.name || ('#' + id));
      var label = stateLabel(ch.state);
      setText(badge, label);
      badge.className = 'channel-state state-' + (ch.state || 'unknown');
      show(badge, !!label);
      var line;
      if (ch.now && ch.now.title) {
        line = ch.now.title;
      } else if (ch.next && ch.next.title) {
        var at = whenText(ch.next.start);
        line = t('nextPrefix') + ch.next.title + (at ? ' · ' + at : '');
      } else {
        line = t('noProgramme');
      }
      setText(nowEl, line);
      setClass(btn, 'current', id === String(S.channelId));
      btn.setAttribute('aria-current', id === String(S.channelId) ? 'true' : 'false');
    }
    for (var key in channelButtons) {
      if (channelButtons.hasOwnProperty(key) && !seen[key]) {
        var old = channelButtons[key].parentNode;
        if (old && old.parentNode) {
          old.parentNode.removeChild(old);
        }
        delete channelButtons[key];
      }
    }
    show($('channels-empty'), S.channelsLoaded && !S.channels.length);
  }

  function createChannelButton(id) {
    var li = document.createElement('li');
    var btn = document.createElement('button');
    btn.type = 'button';
    btn.className = 'channel';
    btn.setAttribute('data-channel', id);
    var name = document.createElement('span');
    name.className = 'channel-name';
    var nameText = document.createElement('span');
    var badge = document.createElement('span');
    badge.className = 'channel-state';
    name.appendChild(nameText);
    name.appendChild(badge);
    var nowLine = document.createElement('span');
    nowLine.className = 'channel-now';
    btn.appendChild(name);
    btn.appendChild(nowLine);
    btn.onclick = function () {
      selectChannel(id, true);
    };
    li.appendChild(btn);
    return btn;
  }

  function renderNowPlaying() {
    var ch = currentChannel();
    var item = ch && ch.now ? ch.now : null;
    var title;
    if (item && item.title) {
      title = item.title;
    } else if (!S.channelsLoaded) {
      title = t('loading');
    } else if (ch && ch.next && ch.next.title) {
      title = t('noLessonNow');
    } else {
      title = t('noProgramme');
    }
    setText($('now-title'), title);

    var meta = [];
    if (ch && ch.name) {
      meta.push(ch.name);
    }
    if (item && item.teacher) {
      meta.push(t('teacher') + item.teacher);
    }
    if (item && (item.start || item.end)) {
      var from = hhmm(item.start);
      var to = hhmm(item.end);
      var range = from && to && to !== from ? from + '–' + to : (from || '');
      if (range) {
        meta.push(range);
      }
    }
    setText($('now-meta'), meta.join(' · '));

    var next = ch && ch.next ? ch.next : null;
    if (next && next.title) {
      var when = whenText(next.start);
      setText($('next-title'), next.title + (when ? (S.lang === 'en' ? ' (' + when + ')' : '（' + when + '）') : ''));
      show($('next-line'), true);
    } else {
      show($('next-line'), false);
    }

    document.title = (item && item.title ? item.title + ' · ' : '') + t('pageTitle');
  }

  // ---------------------------------------------------------------------
  // The day's guide (今日节目): the channel's lessons today, the one on air
  // marked. Fetched only when something it shows can have changed — another
  // channel, another lesson on air or next, another day — not at every
  // poll, so thousands of players cost the server one small request each
  // per lesson.

  function refreshGuide() {
    var ch = currentChannel();
    if (!ch) {
      return;
    }
    var key = [ch.id, ch.now ? ch.now.start : '', ch.next ? ch.next.start : '',
      new Date().toDateString()].join('|');
    if (key === S.guideKey) {
      return;
    }
    S.guideKey = key;
    var id = String(ch.id);
    getJSON('api/channels/' + encodeURIComponent(id) + '/guide', function (err, data) {
      if (err || !data || !isArray(data.lessons) || id !== String(S.channelId)) {
        if (err) {
          S.guideKey = null;   // try again at the next poll
        }
        return;
      }
      S.guide = data.lessons;
      renderGuide();
    });
  }

  function renderGuide() {
    var list = $('guide-list');
    if (!list) {
      return;
    }
    while (list.firstChild) {
      list.removeChild(list.firstChild);
    }
    // A TV guide's window: the two lessons before the one on air (or the
    // next one) and what follows, at most GUIDE_LINES in all, so a channel
    // that loops a short lesson all day does not fill the page.
    var lessons = S.guide || [];
    var at = 0;
    while (at < lessons.length && lessons[at].state === 'past') {
      at++;
    }
    var first = Math.max(0, Math.min(at - 2, lessons.length - GUIDE_LINES));
    var last = Math.min(lessons.length, first + GUIDE_LINES);
    for (var i = first; i < last; i++) {
      var entry = lessons[i];
      var lesson = entry.lesson || {};
      var li = document.createElement('li');
      li.className = 'guide-item guide-' + (entry.state || 'upcoming');
      var time = document.createElement('span');
      time.className = 'guide-time';
      time.appendChild(document.createTextNode(hhmm(lesson.start)));
      var title = document.createElement('span');
      title.className = 'guide-title';
      title.appendChild(document.createTextNode(lesson.title || ''));
      li.appendChild(time);
      li.appendChild(title);
      if (lesson.teacher) {
        var teacher = document.createElement('span');
        teacher.className = 'guide-teacher';
        teacher.appendChild(document.createTextNode(lesson.teacher));
        li.appendChild(teacher);
      }
      if (entry.state === 'on-air') {
        var mark = document.createElement('span');
        mark.className = 'guide-mark';
        mark.appendChild(document.createTextNode(t('guideNow')));
        li.appendChild(mark);
        li.setAttribute('aria-current', 'true');
      }
      list.appendChild(li);
    }
    show($('guide-empty'), S.guide !== null && !lessons.length);
  }

  // Milliseconds until the current item ends (by the server's offset, so
  // the device clock does not matter), or NaN when unknown.
  function msUntilItemEnds(ch) {
    if (ch && !ch.now && ch.next) {
      // Between lessons: look again when the next one starts (device
      // clock; the regular refresh bounds any error).
      var next = parseIsoMs(ch.next.start);
      return isNaN(next) ? NaN : next - new Date().getTime();
    }
    if (!ch || !ch.now) {
      return NaN;
    }
    var start = parseIsoMs(ch.now.start);
    var end = parseIsoMs(ch.now.end);
    var offset = typeof ch.now.offset_s === 'number' ? ch.now.offset_s : NaN;
    if (isNaN(start) || isNaN(end) || isNaN(offset)) {
      return NaN;
    }
    return (end - start) - offset * 1000;
  }

  function scheduleRefresh(delay) {
    window.clearTimeout(S.refreshTimer);
    S.refreshTimer = window.setTimeout(refreshChannels, delay);
  }

  function refreshChannels() {
    window.clearTimeout(S.refreshTimer);
    S.refreshTimer = null;
    getJSON('api/channels', function (err, data) {
      if (err || !data || !isArray(data.channels)) {
        S.apiFailures++;
        pushCapped(api.warnings, 'api: ' + (err ? err.code + ' ' + err.message : 'bad response'));
        if (S.channelId === null && !S.tuneHeld) {
          // No channel list yet: try the preferred channel's stream anyway,
          // the playlists may well work even if the API does not.
          selectChannel(S.preferredChannel, false);
        } else if (api.state === 'preparing' || api.state === 'idle') {
          // Nothing is playing: the server itself is probably away.
          setState('reconnecting');
        } else {
          updateOverlays();
        }
        scheduleRefresh(Math.min(CHANNEL_REFRESH_MS, backoffDelay(S.apiFailures - 1)));
        return;
      }
      var serverBack = S.apiFailures > 0;
      S.apiFailures = 0;
      S.channels = data.channels;
      if (serverBack && S.retryTimer && S.retryFn) {
        // The server answers again (e.g. after a restart): do not sit out
        // the rest of a long back-off.
        runRetryNow();
      }
      S.channelsLoaded = true;

      if (S.channelId === null && S.tuneHeld) {
        setState('loading');
      } else if (S.channelId === null) {
        var initial = findChannel(S.preferredChannel) || S.channels[0];
        if (initial) {
          selectChannel(String(initial.id), false);
        } else {
          setState('idle');
        }
      } else {
        handleChannelState();
      }
      applyLiveSync();
      renderChannels();
      renderNowPlaying();
      refreshGuide();

      var delay = CHANNEL_REFRESH_MS;
      var ch = currentChannel();
      if (ch && ch.state === 'preparing') {
        delay = PREPARING_REFRESH_MS;
      }
      var left = msUntilItemEnds(ch);
      if (!isNaN(left) && left + 1000 < delay) {
        delay = left + 1000;   // refresh the title right after the item ends
      }
      scheduleRefresh(Math.max(MIN_REFRESH_MS, delay));
    });
  }

  // React to the selected channel's state from the API.
  function handleChannelState() {
    var ch = currentChannel();
    if (!S.wantPlay) {
      return;
    }
    var state = ch ? ch.state : null;
    if (!ch) {
      // The channel disappeared; keep trying the stream in case it comes back.
      if (!S.engine && !S.retryTimer) {
        startPlayback();
      }
      return;
    }
    if (state === 'preparing') {
      if (api.state !== 'playing') {
        teardown();
        setState('preparing');
      }
      return;
    }
    if (state === 'off-air') {
      if (api.state !== 'playing') {
        teardown();
        setState('off-air');
      }
      return;
    }
    // 'on-air' or an unknown state: make sure something is playing.
    if (!S.engine && !S.retryTimer) {
      startPlayback();
    } else {
      updateOverlays();
    }
  }

  function selectChannel(id, byUser) {
    if (byUser && S.forcedMute) {
      unmute();   // a tap is a user gesture: sound is allowed now
    }
    if (byUser) {
      S.userPaused = false;
    }
    if (String(id) === String(S.channelId) && S.engine && api.state === 'playing') {
      return;
    }
    S.channelId = String(id);
    api.channel = S.channelId;
    S.wantPlay = true;
    S.attempt = 0;
    S.networkRecoveries = 0;
    S.stallStrikes = 0;
    teardown();
    renderChannels();
    renderNowPlaying();
    S.guide = null;
    renderGuide();
    refreshGuide();
    var ch = currentChannel();
    if (ch && (ch.state === 'preparing' || ch.state === 'off-air')) {
      setState(ch.state);
      return;
    }
    startPlayback();
  }

  // ---------------------------------------------------------------------
  // Playback engine

  function masterUrl(id) {
    return 'live/' + encodeURIComponent(id) + '/index.m3u8';
  }

  function resolveUrl(base, rel) {
    if (/^[a-z][a-z0-9+.\-]*:/i.test(rel) || rel.charAt(0) === '/') {
      return rel;
    }
    var q = base.indexOf('?');
    if (q >= 0) {
      base = base.substring(0, q);
    }
    return base.substring(0, base.lastIndexOf('/') + 1) + rel;
  }

  // Finds the audio-only variant in a master playlist: a variant without
  // RESOLUTION whose CODECS has no video codec (or, without CODECS, one
  // without RESOLUTION when others have it). Lowest bandwidth wins.
  function findAudioVariant(text, base) {
    var lines = String(text).split(/\r?\n/);
    var variants = [];
    var anyResolution = false;
    for (var i = 0; i < lines.length; i++) {
      var line = lines[i];
      if (line.indexOf('#EXT-X-STREAM-INF:') !== 0) {
        continue;
      }
      var attrs = line.substring(18);
      var uri = null;
      for (var j = i + 1; j < lines.length; j++) {
        var l2 = lines[j].replace(/^\s+|\s+$/g, '');
        if (l2 && l2.charAt(0) !== '#') {
          uri = l2;
          break;
        }
      }
      if (!uri) {
        continue;
      }
      var codecs = /CODECS="([^"]*)"/.exec(attrs);
      var bw = /(?:^|,)BANDWIDTH=(\d+)/.exec(attrs);
      var hasRes = /RESOLUTION=/.test(attrs);
      anyResolution = anyResolution || hasRes;
      variants.push({
        uri: uri,
        codecs: codecs ? codecs[1] : null,
        bandwidth: bw ? +bw[1] : 0,
        hasRes: hasRes
      });
    }
    var best = null;
    for (var k = 0; k < variants.length; k++) {
      var v = variants[k];
      var audio;
      if (v.hasRes) {
        audio = false;
      } else if (v.codecs !== null) {
        audio = !/avc1|avc3|hvc1|hev1|av01|vp08|vp09|vp8|vp9|mp4v/i.test(v.codecs) &&
          /mp4a|ac-3|ec-3|opus|mp3/i.test(v.codecs);
      } else {
        audio = anyResolution || /audio/i.test(v.uri);
      }
      if (audio && (!best || v.bandwidth < best.bandwidth)) {
        best = v;
      }
    }
    return best ? resolveUrl(base, best.uri) : null;
  }

  // cb(url): the URL to load for the current mode.
  function sourceFor(id, cb) {
    var master = masterUrl(id);
    if (!S.audioOnly) {
      cb(master);
      return;
    }
    if (S.audioUrls.hasOwnProperty(id)) {
      cb(S.audioUrls[id] || master);
      return;
    }
    getText(master, function (err, text) {
      if (err) {
        cb(master);   // try the master; the error path will retry
        return;
      }
      var url = findAudioVariant(text, master);
      S.audioUrls[id] = url || '';
      cb(url || master);
    });
  }

  function hlsSupported() {
    return !!(window.Hls && typeof window.Hls.isSupported === 'function' && window.Hls.isSupported());
  }

  function nativeSupported() {
    return !!(video && video.canPlayType &&
      (video.canPlayType('application/vnd.apple.mpegurl') ||
       video.canPlayType('application/x-mpegURL')));
  }

  function teardown() {
    S.generation++;
    window.clearTimeout(S.retryTimer);
    S.retryTimer = null;
    S.retryFn = null;
    var h = S.hls;
    S.hls = null;
    S.engine = null;
    api.engine = null;
    S.manifestParsed = false;
    S.awaitingFrag = false;
    S.playRequested = false;
    S.pauseStrikes = 0;
    if (h) {
      try {
        h.destroy();
      } catch (e) {
        // ignore
      }
    }
    if (video && video.getAttribute('src')) {
      try {
        video.pause();
        video.removeAttribute('src');
        video.load();
      } catch (e) {
        // ignore
      }
    }
  }

  function startPlayback() {
    if (S.channelId === null) {
      return;
    }
    teardown();
    S.wantPlay = true;
    var gen = S.generation;
    if (api.state !== 'reconnecting') {
      setState('loading');
    }
    S.lastTime = -1;
    S.lastProgressAt = now();
    S.healthySince = 0;

    if (!hlsSupported() && !nativeSupported()) {
      setState('error');
      pushCapped(api.errors, 'unsupported: neither MediaSource (hls.js) nor native HLS');
      return;
    }

    sourceFor(S.channelId, function (url) {
      if (gen !== S.generation) {
        return;   // superseded while we looked up the audio variant
      }
      S.sourceUrl = url;
      api.source = url;
      if (hlsSupported()) {
        startHls(url, gen);
      } else {
        startNative(url);
      }
      updateOverlays();
    });
  }

  // How far behind the live edge hls.js plays: 6 s (three segments) for
  // recorded lessons, where a viewing point on a weak county link needs the
  // slack and nobody can tell the delay; 2.5 s for a live talk
  // (X-KETANG-SOURCE live:…), where every second of hold-back adds to the
  // delay between the speaker and the room (docs/live.md, "Latency"). hls.js
  // counts the edge as the end of the newest listed segment, which the
  // server lists the moment its 2 s begin and tells the player at once
  // (blocking playlist reload, _HLS_msn): 2 s would leave no time to fetch
  // it, 2.5 s leaves half a second. A player that stalls moves back by
  // itself (hls.js adds liveSyncOnStallIncrease, 1 s, per stall, up to a
  // segment). A player already running when a live talk begins catches up
  // by playing at most 10 % fast until it is there; at the end of the talk
  // it simply keeps its place until the next join.
  var SYNC_SECONDS_RECORDED = 6;
  var SYNC_SECONDS_LIVE_TALK = 2.5;
  var CATCH_UP_RATE_LIVE_TALK = 1.1;

  function liveTalkOnAir() {
    var ch = currentChannel();
    return !!(ch && ch.now && typeof ch.now.source === 'string' &&
      ch.now.source.indexOf('live:') === 0);
  }

  function syncSeconds() {
    return liveTalkOnAir() ? SYNC_SECONDS_LIVE_TALK : SYNC_SECONDS_RECORDED;
  }

  // The lesson on air may have changed (a poll of /api/channels): move the
  // running hls.js to the hold-back that lesson wants.
  function applyLiveSync() {
    var hls = S.hls;
    if (!hls || !hls.config) {
      return;
    }
    var seconds = syncSeconds();
    if (seconds === S.syncSeconds) {
      return;
    }
    var closer = seconds < S.syncSeconds;
    S.syncSeconds = seconds;
    hls.config.maxLiveSyncPlaybackRate =
      seconds === SYNC_SECONDS_LIVE_TALK ? CATCH_UP_RATE_LIVE_TALK : 1;
    try {
      hls.targetLatency = seconds;
    } catch (e) {
      hls.config.liveSyncDuration = seconds;   // older hls.js: next join
    }
    if (closer) {
      S.jumpChecks = JUMP_CHECKS;
    }
  }

  // Jump to where hls.js wants to play, if the picture there is already
  // buffered and hls.js is more than JUMP_SLACK_S behind it: tried as the
  // first few segments are buffered after joining (hls.js starts up to a segment behind its target, not
  // knowing how long ago the playlist it first loaded advanced) and when a
  // live talk begins (the target drops from 6 s to 2.5 s). Catching up at
  // 1.1x would take 20 to 35 s, all of it delay between the speaker and the
  // room; the jump skips at most a few seconds of a slate, or of a picture
  // the viewer has only just begun to see.
  var JUMP_SLACK_S = 0.75;
  var JUMP_CHECKS = 3;   // segments buffered after a join or a closer target

  function jumpToLiveSync() {
    var hls = S.hls;
    if (!hls || !S.manifestParsed) {
      return false;
    }
    var target = hls.liveSyncPosition;
    if (typeof target !== 'number' || !isFinite(target) || target < video.currentTime + JUMP_SLACK_S) {
      return false;
    }
    var b = video.buffered;
    for (var i = 0; i < b.length; i++) {
      if (b.start(i) <= target && target < b.end(i) - 0.2) {
        try {
          video.currentTime = target;
          return true;
        } catch (e) {
          return false;
        }
      }
    }
    return false;
  }

  function startHls(url, gen) {
    var Hls = window.Hls;
    S.syncSeconds = syncSeconds();
    var hls = new Hls({
      backBufferLength: 30,        // keep memory small on TV sets
      maxBufferLength: 30,
      liveSyncDuration: S.syncSeconds,
      maxLiveSyncPlaybackRate: S.syncSeconds === SYNC_SECONDS_LIVE_TALK ? CATCH_UP_RATE_LIVE_TALK : 1,
      startLevel: 0,               // start small and fast (weak links), ABR moves up
      enableWorker: true,
      capLevelToPlayerSize: true,  // phones: no 720p into a small player
      capLevelOnFPSDrop: true      // weak TV sets: step down when frames drop
    });
    S.hls = hls;
    S.engine = 'hls';
    api.engine = 'hls';

    hls.on(Hls.Events.MANIFEST_PARSED, function (event, data) {
      if (gen !== S.generation) {
        return;
      }
      S.manifestParsed = true;
      if (S.audioOnly && data && data.levels && data.levels.length > 1) {
        // No separate audio-only playlist was found: at least use the
        // smallest variant.
        var lowest = 0;
        for (var i = 1; i < data.levels.length; i++) {
          if (data.levels[i].bitrate < data.levels[lowest].bitrate) {
            lowest = i;
          }
        }
        hls.currentLevel = lowest;
      }
      tryPlay();
    });

    // After joining, the first segments hls.js hears of at once (blocking
    // reload) say how far behind the player really is: look then.
    S.jumpChecks = JUMP_CHECKS;
    hls.on(Hls.Events.FRAG_BUFFERED, function () {
      if (gen === S.generation && S.jumpChecks > 0 && video.readyState >= 3) {
        S.jumpChecks--;
        if (jumpToLiveSync()) {
          S.jumpChecks = 0;
        }
      }
    });

    hls.on(Hls.Events.FRAG_BUFFERED, function () {
      if (gen === S.generation) {
        S.awaitingFrag = false;
      }
    });

    hls.on(Hls.Events.ERROR, function (event, data) {
      if (gen !== S.generation) {
        return;
      }
      onHlsError(hls, data || {});
    });

    hls.loadSource(url);
    hls.attachMedia(video);
    // play() is called on MANIFEST_PARSED: calling it before hls.js has
    // attached its MediaSource would only be aborted by the source change.
  }

  function startNative(url) {
    S.engine = 'native';
    api.engine = 'native';
    video.src = url;
    try {
      video.load();
    } catch (e) {
      // ignore
    }
    tryPlay();
  }

  function describeHlsError(data) {
    var s = (data.type || 'error') + ':' + (data.details || 'unknown');
    if (data.response && data.response.code) {
      s += ' (HTTP ' + data.response.code + ')';
    }
    if (data.reason) {
      s += ' ' + data.reason;
    } else if (data.error && data.error.message) {
      s += ' ' + data.error.message;
    }
    return s;
  }

  function onHlsError(hls, data) {
    var Hls = window.Hls;
    if (!data.fatal) {
      pushCapped(api.warnings, describeHlsError(data));
      return;
    }
    pushCapped(api.errors, describeHlsError(data));

    if (data.type === Hls.ErrorTypes.NETWORK_ERROR) {
      // The server is restarting or the link dropped: calm message and
      // retry with back-off.
      setState('reconnecting');
      var canResume = S.manifestParsed && S.networkRecoveries < 3;
      scheduleRetry(function () {
        if (canResume && hls === S.hls) {
          S.networkRecoveries++;
          pushCapped(api.recoveries, 'network: startLoad');
          S.lastProgressAt = now();
          // Buffered media may keep playing meanwhile; only call it
          // recovered once new media has arrived.
          S.awaitingFrag = true;
          hls.startLoad();
        } else {
          pushCapped(api.recoveries, 'network: restart');
          S.networkRecoveries = 0;
          // Look the audio-only variant up again: the server may have changed.
          delete S.audioUrls[S.channelId];
          startPlayback();
        }
      });
      return;
    }

    if (data.type === Hls.ErrorTypes.MEDIA_ERROR) {
      var tNow = now();
      if (!S.mediaErrorAt || tNow - S.mediaErrorAt > 5000) {
        S.mediaErrorAt = tNow;
        pushCapped(api.recoveries, 'media: recoverMediaError');
        hls.recoverMediaError();
        return;
      }
      if (!S.swappedAudio) {
        S.mediaErrorAt = tNow;
        S.swappedAudio = true;
        pushCapped(api.recoveries, 'media: swapAudioCodec + recoverMediaError');
        hls.swapAudioCodec();
        hls.recoverMediaError();
        return;
      }
    }

    // Anything else (or repeated media errors): start over from scratch.
    setState('reconnecting');
    scheduleRetry(function () {
      pushCapped(api.recoveries, 'fatal: restart');
      S.mediaErrorAt = 0;
      S.swappedAudio = false;
      startPlayback();
    });
  }

  function backoffDelay(attempt) {
    var d = BACKOFF_BASE_MS * Math.pow(2, Math.max(0, attempt));
    return Math.min(BACKOFF_MAX_MS, d);
  }

  function scheduleRetry(fn) {
    var delay = backoffDelay(S.attempt);
    S.attempt++;
    window.clearTimeout(S.retryTimer);
    S.retryFn = fn;
    S.retryTimer = window.setTimeout(runRetryNow, delay);
  }

  function runRetryNow() {
    var fn = S.retryFn;
    window.clearTimeout(S.retryTimer);
    S.retryTimer = null;
    S.retryFn = null;
    if (fn) {
      fn();
    }
  }

  function onNativeError() {
    if (S.engine !== 'native') {
      return;
    }
    var code = video.error ? video.error.code : 0;
    pushCapped(api.errors, 'native:mediaError code ' + code);
    setState('reconnecting');
    scheduleRetry(function () {
      pushCapped(api.recoveries, 'native: restart');
      startPlayback();
    });
  }

  // ---------------------------------------------------------------------
  // Autoplay and sound

  function tryPlay() {
    if (!video || S.userPaused) {
      return;
    }
    S.playRequested = true;
    if (!S.forcedMute) {
      video.muted = false;
    }
    var p;
    try {
      p = video.play();
    } catch (e) {
      p = null;
    }
    if (p && typeof p.then === 'function') {
      p.then(null, function (err) {
        var name = err && err.name;
        if (name === 'NotAllowedError' && !video.muted) {
          // Sound without a tap is not allowed: play muted and offer a
          // big button to turn the sound on.
          S.forcedMute = true;
          video.muted = true;
          updateOverlays();
          var p2;
          try {
            p2 = video.play();
          } catch (e2) {
            p2 = null;
          }
          if (p2 && typeof p2.then === 'function') {
            p2.then(null, function (err2) {
              if (err2 && err2.name === 'NotAllowedError') {
                S.userPaused = true;
                setState('paused');
              }
            });
          }
        } else if (name === 'NotAllowedError') {
          S.userPaused = true;
          setState('paused');
        }
        // AbortError etc.: the source changed under us; nothing to do.
      });
    }
    // Old browsers without a play() promise are handled by the watchdog.
  }

  function unmute() {
    S.forcedMute = false;
    if (video) {
      video.muted = false;
      if (video.volume === 0) {
        video.volume = 1;
      }
    }
    updateOverlays();
  }

  function onTapPlay() {
    S.userPaused = false;
    unmute();
    if (!S.engine) {
      startPlayback();
      return;
    }
    setState('loading');
    S.lastProgressAt = now();
    tryPlay();
  }

  // ---------------------------------------------------------------------
  // Watchdog: progress, stalls, refused autoplay

  function watchdog() {
    if (!S.engine || !S.wantPlay || S.retryTimer || S.userPaused) {
      return;
    }
    var tNow = now();
    var ct = video.currentTime || 0;
    var wall = S.lastTickAt ? (tNow - S.lastTickAt) / 1000 : 1;
    S.lastTickAt = tNow;

    if (S.playRequested && video.paused && !video.ended && video.readyState >= 2) {
      // Media is there but the element stays paused: refused autoplay on
      // browsers without a play() promise, a media-error recovery that
      // re-attached the element, or a pause by the system (phone call,
      // headphones unplugged...). Ask again, then muted, then give up and
      // show the big "tap to play" button.
      S.pauseStrikes++;
      if (S.pauseStrikes === 3 && !video.muted) {
        S.forcedMute = true;
        video.muted = true;
        tryPlay();
      } else if (S.pauseStrikes === 1 || S.pauseStrikes === 3) {
        tryPlay();
      } else if (S.pauseStrikes >= 6) {
        S.userPaused = true;
        setState('paused');
      }
      S.lastProgressAt = tNow;
      return;
    }
    if (!video.paused) {
      S.pauseStrikes = 0;
    }

    if (ct !== S.lastTime && !video.paused) {
      // Only steps no faster than the wall clock, with media to play, are
      // playback. Jumps (hls.js seeking to the live edge or over holes in
      // the buffer) are not: a player that only hops between holes is
      // stalled and gets recovered below.
      var step = ct - S.lastTime;
      var real = S.lastTime >= 0 && step > 0 && step <= wall * 1.5 + 0.25 &&
        video.readyState >= 3;
      S.lastTime = ct;
      if (real) {
        S.lastProgressAt = tNow;
        onProgress(tNow);
        return;
      }
    }

    if (tNow - S.lastProgressAt >= STALL_MS) {
      onStall(tNow);
    } else if (tNow - S.lastProgressAt >= STALL_NOTICE_MS && api.state === 'playing') {
      // The picture froze: say so calmly before the recovery kicks in.
      S.healthySince = 0;
      setState('reconnecting');
    }
  }

  function onProgress(tNow) {
    if (api.state === 'reconnecting' && S.awaitingFrag) {
      return;   // still playing what was buffered before the interruption
    }
    if (api.state !== 'playing') {
      setState('playing');
    }
    if (!S.healthySince) {
      S.healthySince = tNow;
    } else if (tNow - S.healthySince >= HEALTHY_MS) {
      // Played fine for a while: forget earlier trouble.
      S.attempt = 0;
      S.networkRecoveries = 0;
      S.stallStrikes = 0;
      S.swappedAudio = false;
    }
  }

  function onStall(tNow) {
    S.stallStrikes++;
    S.healthySince = 0;
    S.lastProgressAt = tNow;
    pushCapped(api.recoveries, 'stall #' + S.stallStrikes + ' at ' + (video.currentTime || 0).toFixed(1));
    if (api.state === 'playing' || api.state === 'loading') {
      setState('reconnecting');
    }
    // First try a cheap nudge to the live edge, then restart with back-off.
    if (S.stallStrikes === 1 && S.hls && S.manifestParsed) {
      var live = S.hls.liveSyncPosition;
      if (typeof live === 'number' && isFinite(live) && live > video.currentTime + 0.5) {
        try {
          video.currentTime = live;
          tryPlay();
          return;
        } catch (e) {
          // fall through to a restart
        }
      }
    }
    scheduleRetry(function () {
      startPlayback();
    });
  }

  // ---------------------------------------------------------------------
  // Full screen

  function fullscreenElement() {
    return document.fullscreenElement || document.webkitFullscreenElement ||
      document.mozFullScreenElement || document.msFullscreenElement || null;
  }

  function ignorePromise(p) {
    if (p && typeof p.then === 'function') {
      p.then(null, function () {});
    }
  }

  function toggleFullscreen() {
    var el = $('player');
    if (fullscreenElement()) {
      var exit = document.exitFullscreen || document.webkitExitFullscreen ||
        document.mozCancelFullScreen || document.msExitFullscreen;
      if (exit) {
        ignorePromise(exit.call(document));
      }
      return;
    }
    var req = el.requestFullscreen || el.webkitRequestFullscreen ||
      el.mozRequestFullScreen || el.msRequestFullscreen;
    if (req) {
      ignorePromise(req.call(el));
      // Phones: prefer landscape while full screen.
      try {
        if (window.screen && window.screen.orientation && window.screen.orientation.lock) {
          ignorePromise(window.screen.orientation.lock('landscape'));
        }
      } catch (e) {
        // ignore
      }
    } else if (video.webkitEnterFullscreen) {
      // iPhone Safari: only the video element itself can go full screen.
      try {
        video.webkitEnterFullscreen();
      } catch (e) {
        // ignore
      }
    }
  }

  function updateFullscreenButton() {
    setText($('fullscreen'), fullscreenElement() ? t('exitFullscreen') : t('fullscreen'));
  }

  // ---------------------------------------------------------------------
  // Audio only

  function setAudioOnly(on) {
    on = !!on;
    var changed = on !== S.audioOnly;
    S.audioOnly = on;
    api.audioOnly = on;
    storageSet('ketang.audioOnly', on ? '1' : '0');
    var btn = $('audio-only');
    if (btn) {
      btn.setAttribute('aria-pressed', on ? 'true' : 'false');
    }
    updateOverlays();
    if (changed && S.engine) {
      S.attempt = 0;
      startPlayback();
    }
  }

  // ---------------------------------------------------------------------
  // Start-up

  function bind(id, fn) {
    var el = $(id);
    if (el) {
      el.onclick = fn;
    }
  }

  function init() {
    video = $('video');
    if (S.kiosk) {
      setClass(document.body, 'kiosk', true);
    }

    bind('unmute', function () {
      unmute();
      if (video.paused) {
        tryPlay();
      }
    });
    bind('tap-play', onTapPlay);
    bind('fullscreen', toggleFullscreen);
    bind('audio-only', function () {
      if (S.forcedMute) {
        unmute();
      }
      setAudioOnly(!S.audioOnly);
    });
    bind('lang-toggle', function () {
      setLanguage(S.lang === 'en' ? 'zh-CN' : 'en');
    });

    var fsEvents = ['fullscreenchange', 'webkitfullscreenchange', 'mozfullscreenchange', 'MSFullscreenChange'];
    for (var i = 0; i < fsEvents.length; i++) {
      document.addEventListener(fsEvents[i], updateFullscreenButton, false);
    }

    video.addEventListener('error', onNativeError, false);
    video.addEventListener('timeupdate', function () {
      // Faster than the 1 s watchdog for hiding the status line.
      if (api.state !== 'playing' && !video.paused && S.engine &&
          S.lastTime >= 0 && video.currentTime > S.lastTime) {
        watchdog();
      }
    }, false);
    video.addEventListener('ended', function () {
      // A live stream should not end; treat it as an interruption.
      if (S.engine && S.wantPlay) {
        pushCapped(api.recoveries, 'ended: restart');
        setState('reconnecting');
        scheduleRetry(startPlayback);
      }
    }, false);

    document.addEventListener('visibilitychange', function () {
      if (!document.hidden) {
        refreshChannels();
      }
    }, false);

    setAudioOnly(S.audioOnly);
    applyLanguage();
    setState('idle');
    window.setInterval(watchdog, WATCHDOG_MS);
    refreshChannels();
  }

  // Public API (tests, kiosk tooling, debugging from the console).
  api.selectChannel = function (id) {
    selectChannel(String(id), true);
  };
  // Tune without a tap (a kiosk following its room's channel): the
  // channel is kept playing across lessons, and a change of channel
  // restarts playback only when it is a different one.
  api.tune = function (id) {
    S.tuneHeld = false;
    if (String(id) !== String(S.channelId) || !S.wantPlay) {
      selectChannel(String(id), false);
    }
  };
  api.setLanguage = setLanguage;
  api.setAudioOnly = setAudioOnly;
  api.restart = function () {
    startPlayback();
  };
  api.getHls = function () {
    return S.hls;   // the live hls.js instance, for debugging
  };

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', init, false);
  } else {
    init();
  }
}(window, document));
