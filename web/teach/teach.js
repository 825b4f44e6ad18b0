/* ketang teachers' pages: what the home, upload and schedule pages share.
 *
 *   - the string table (Chinese first; ?lang=en, or the choice saved by the
 *     player and the login page under localStorage "ketang.lang")
 *   - request(): JSON over XMLHttpRequest, the CSRF header on every request
 *     that changes something, and a 401 from any API sends the teacher to
 *     /login.html?next=<this page>
 *   - errorText(): turns an API error into words a teacher understands
 *     (the server's own message when it is written in Chinese, else ours);
 *     never raw JSON
 *   - formatting of lengths, sizes and times
 *   - start(): the top bar (language, log out) and GET /api/me
 *
 * Plain ES5 and XMLHttpRequest like the other pages: no build step, and
 * XHR is what reports upload progress.
 */
(function () {
  'use strict';

  var STRINGS = {
    'zh-CN': {
      brand: '课堂',
      area: '教师',
      langToggle: 'English',
      langToggleLang: 'en',
      logout: '退出登录',
      home: '我的讲座',
      back: '回到我的讲座',
      loading: '正在加载…',
      retry: '再试一次',
      greeting: '{name}，您好！',
      // home
      homeTitle: '我的讲座',
      upload: '上传讲座',
      liveTitle: '直播报告会',
      empty: '还没有讲座。点上面的“上传讲座”，把讲课的视频或录音传上来。',
      libraryPending: '讲座库暂时还不能用，下面是您上传过的文件。',
      processing: '正在处理 {pct}%',
      processingNoPct: '正在处理…',
      etaSuffix: '，约剩 {eta}',
      ready: '可以播放',
      failed: '处理失败：{reason}',
      failedNoReason: '处理失败',
      length: '时长 {d}',
      by: '{name} 的讲座',
      preview: '预览',
      closePreview: '关闭预览',
      previewFailed: '无法播放预览，请稍后再试。',
      edit: '编辑',
      titleLabel: '标题',
      descLabel: '简介（可不填）',
      save: '保存',
      cancel: '取消',
      saving: '正在保存…',
      saved: '已保存。',
      needTitle: '请填写标题。',
      schedule: '安排播出',
      del: '删除',
      confirmDelete: '确定要删除《{title}》吗？删除以后不能恢复。',
      deleteYes: '确定删除',
      deleting: '正在删除…',
      onTimetable: '这个讲座已经排在课表上，删除后这些课会播不出来：',
      deleteAnyway: '仍然删除',
      uploadReceiving: '还没有传完（{pct}%）。回到“上传讲座”，重新选择同一个文件就能接着传。',
      uploadComplete: '已上传，等待处理',
      uploadRefused: '无法使用：{reason}',
      // upload
      uploadTitle: '上传讲座',
      fileLabel: '讲课的视频或录音',
      chooseFile: '选择文件',
      chooseAnother: '换一个文件',
      noFile: '还没有选择文件。可以上传视频或录音。',
      fileInfo: '{name}（{size}）',
      lectureTitle: '讲座标题',
      startUpload: '开始上传',
      pickFirst: '请先选择一个文件。',
      preparing: '正在准备上传…',
      resuming: '接着上次的进度继续上传…',
      progress: '已上传 {done} / {total}',
      progressEta: '已上传 {done} / {total}，约剩 {eta}',
      progressMeasuring: '已上传 {done} / {total}，正在估算剩余时间…',
      retrying: '网络中断，正在重试…',
      retryingIn: '网络中断，正在重试…（{s} 秒后再连）',
      cancelUpload: '取消上传',
      confirmCancel: '确定要取消上传吗？已经传上去的部分会被删掉。',
      cancelYes: '是的，取消上传',
      keepGoing: '继续上传',
      cancelled: '已取消上传。',
      doneProcessing: '上传完成，正在处理…处理好以后就可以在“我的讲座”里预览和安排播出。',
      doneLink: '去“我的讲座”看看',
      uploadGone: '这次上传已经失效，请重新选择文件上传。',
      dontLeave: '正在上传，离开这个页面会中断上传。',
      unfinished: '有没传完的文件：',
      unfinishedItem: '《{title}》（{file}）已传 {pct}%',
      unfinishedHint: '重新选择同一个文件，就会接着上次的进度继续传。',
      resumable: '这个文件上次没有传完，点“开始上传”会接着上次的进度继续。',
      uploadAnother: '再上传一个',
      refused: '服务器不能使用这个文件：{reason}',
      // schedule
      scheduleTitle: '安排播出',
      channel: '频道',
      date: '日期',
      startTime: '开始时间',
      weeklyUntil: '每周重复，直到（可不填）',
      weeklyHint: '不填就只播一次。',
      titleOverride: '节目标题（可不填）',
      titleOverrideHint: '不填就用讲座的标题。',
      submitSchedule: '安排播出',
      scheduling: '正在安排…',
      noItem: '找不到这个讲座，或者它还没有处理好。请回到“我的讲座”再试。',
      noChannels: '还没有可以安排的频道，请联系管理员。',
      pickDate: '请选择日期和开始时间。',
      untilBeforeStart: '“每周重复，直到”的日期要在开始日期之后。',
      scheduled: '已安排：{channel} {date} {time}',
      scheduledWeekly: '，每周一次，直到 {until}',
      scheduleAnother: '再安排一次',
      badTime: '日期或时间不正确，请检查后再试。',
      clash: '这个时间和同一频道的另一节课重叠了，请换一个时间或频道。',
      // errors
      errNetwork: '无法连接服务器，请检查网络后再试。',
      errServer: '服务器出了问题，请稍后再试。',
      errForbidden: '您没有权限做这件事。',
      errNotFound: '找不到了，可能已经被删除。',
      errTooLarge: '文件太大，服务器不接收。',
      errGeneric: '没有成功，请稍后再试。',
      // units
      minutes: '{m} 分钟',
      hoursMinutes: '{h} 小时 {m} 分钟',
      weekdays: '周日 周一 周二 周三 周四 周五 周六',
      dateFormat: '{y}年{m}月{d}日 {w}'
    },
    en: {
      brand: 'Ketang',
      area: 'Teachers',
      langToggle: '中文',
      langToggleLang: 'zh-CN',
      logout: 'Log out',
      home: 'My lectures',
      back: 'Back to my lectures',
      loading: 'Loading…',
      retry: 'Try again',
      greeting: 'Hello, {name}!',
      homeTitle: 'My lectures',
      upload: 'Upload a lecture',
      liveTitle: 'Live talks',
      empty: 'No lectures yet. Tap “Upload a lecture” to send a video or a recording.',
      libraryPending: 'The lecture library is not available yet; these are the files you uploaded.',
      processing: 'Processing {pct}%',
      processingNoPct: 'Processing…',
      etaSuffix: ', about {eta} left',
      ready: 'Ready to play',
      failed: 'Processing failed: {reason}',
      failedNoReason: 'Processing failed',
      length: 'Length {d}',
      by: 'Lecture by {name}',
      preview: 'Preview',
      closePreview: 'Close preview',
      previewFailed: 'The preview cannot play. Please try again later.',
      edit: 'Edit',
      titleLabel: 'Title',
      descLabel: 'Description (optional)',
      save: 'Save',
      cancel: 'Cancel',
      saving: 'Saving…',
      saved: 'Saved.',
      needTitle: 'Please enter a title.',
      schedule: 'Schedule',
      del: 'Delete',
      confirmDelete: 'Delete “{title}”? This cannot be undone.',
      deleteYes: 'Yes, delete',
      deleting: 'Deleting…',
      onTimetable: 'This lecture is on the timetable; these lessons would not air:',
      deleteAnyway: 'Delete anyway',
      uploadReceiving: 'Not finished ({pct}%). Go to “Upload a lecture” and pick the same file to continue.',
      uploadComplete: 'Uploaded, waiting to be processed',
      uploadRefused: 'Cannot be used: {reason}',
      uploadTitle: 'Upload a lecture',
      fileLabel: 'Video or sound recording of the lecture',
      chooseFile: 'Choose a file',
      chooseAnother: 'Choose another file',
      noFile: 'No file chosen yet. You can upload a video or a sound recording.',
      fileInfo: '{name} ({size})',
      lectureTitle: 'Lecture title',
      startUpload: 'Start upload',
      pickFirst: 'Please choose a file first.',
      preparing: 'Getting ready to upload…',
      resuming: 'Continuing where the last upload stopped…',
      progress: 'Uploaded {done} of {total}',
      progressEta: 'Uploaded {done} of {total}, about {eta} left',
      progressMeasuring: 'Uploaded {done} of {total}, estimating time left…',
      retrying: 'Network interrupted, retrying…',
      retryingIn: 'Network interrupted, retrying… (in {s} s)',
      cancelUpload: 'Cancel upload',
      confirmCancel: 'Cancel this upload? The part already sent will be deleted.',
      cancelYes: 'Yes, cancel it',
      keepGoing: 'Keep uploading',
      cancelled: 'Upload cancelled.',
      doneProcessing: 'Upload complete, now processing… When it is ready you can preview and schedule it in “My lectures”.',
      doneLink: 'Go to “My lectures”',
      uploadGone: 'This upload has expired. Please choose the file again.',
      dontLeave: 'Uploading: leaving this page interrupts the upload.',
      unfinished: 'Unfinished uploads:',
      unfinishedItem: '“{title}” ({file}), {pct}% sent',
      unfinishedHint: 'Choose the same file again to continue where it stopped.',
      resumable: 'This file was not finished last time; “Start upload” continues where it stopped.',
      uploadAnother: 'Upload another',
      refused: 'The server cannot use this file: {reason}',
      scheduleTitle: 'Schedule a lecture',
      channel: 'Channel',
      date: 'Date',
      startTime: 'Start time',
      weeklyUntil: 'Repeat weekly until (optional)',
      weeklyHint: 'Leave empty to air it once.',
      titleOverride: 'Programme title (optional)',
      titleOverrideHint: 'Leave empty to use the lecture’s title.',
      submitSchedule: 'Schedule',
      scheduling: 'Scheduling…',
      noItem: 'This lecture cannot be found or is not ready yet. Please go back to “My lectures”.',
      noChannels: 'There is no channel to schedule on yet. Please ask your administrator.',
      pickDate: 'Please choose a date and a start time.',
      untilBeforeStart: 'The “repeat until” date must be after the start date.',
      scheduled: 'Scheduled: {channel} {date} {time}',
      scheduledWeekly: ', weekly until {until}',
      scheduleAnother: 'Schedule again',
      badTime: 'The date or time is not valid. Please check and try again.',
      clash: 'This time overlaps another lesson on the same channel. Please pick another time or channel.',
      errNetwork: 'Cannot reach the server. Check the network and try again.',
      errServer: 'The server has a problem. Please try again later.',
      errForbidden: 'You are not allowed to do this.',
      errNotFound: 'Not found; it may have been deleted.',
      errTooLarge: 'The file is too large for the server.',
      errGeneric: 'That did not work. Please try again later.',
      minutes: '{m} min',
      hoursMinutes: '{h} h {m} min',
      weekdays: 'Sun Mon Tue Wed Thu Fri Sat',
      dateFormat: '{w} {d} {mon} {y}'
    }
  };

  var MONTHS_EN = 'Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec'.split(' ');

  function $(id) {
    return document.getElementById(id);
  }

  function queryParam(name) {
    var pairs = window.location.search.replace(/^\?/, '').split('&');
    for (var i = 0; i < pairs.length; i++) {
      var eq = pairs[i].indexOf('=');
      var key = eq < 0 ? pairs[i] : pairs[i].slice(0, eq);
      if (key === name) {
        try {
          return decodeURIComponent((eq < 0 ? '' : pairs[i].slice(eq + 1)).replace(/\+/g, ' '));
        } catch (e) {
          return null;
        }
      }
    }
    return null;
  }

  function pickLang(l) {
    return l === 'en' || l === 'zh-CN' ? l : null;
  }

  function storage(key, value) {
    try {
      if (value === undefined) {
        return window.localStorage.getItem(key);
      }
      if (value === null) {
        window.localStorage.removeItem(key);
      } else {
        window.localStorage.setItem(key, value);
      }
    } catch (e) { /* private mode: nothing is remembered */ }
    return null;
  }

  var lang = pickLang(queryParam('lang')) || pickLang(storage('ketang.lang')) || 'zh-CN';
  var csrf = null;
  var langListeners = [];

  /* t('key', {name: value}) → the string with {name} filled in. */
  function t(key, vars) {
    var s = (STRINGS[lang] || STRINGS['zh-CN'])[key];
    if (s === undefined) {
      s = STRINGS['zh-CN'][key] || key;
    }
    if (vars) {
      s = s.replace(/\{(\w+)\}/g, function (m, name) {
        return Object.prototype.hasOwnProperty.call(vars, name) ? String(vars[name]) : m;
      });
    }
    return s;
  }

  /* A page's own strings, {lang: {key: text}}, beside the shared ones. */
  function addStrings(table) {
    for (var l in table) {
      if (Object.prototype.hasOwnProperty.call(table, l) && STRINGS[l]) {
        for (var key in table[l]) {
          if (Object.prototype.hasOwnProperty.call(table[l], key)) {
            STRINGS[l][key] = table[l][key];
          }
        }
      }
    }
  }

  function applyLanguage() {
    document.documentElement.setAttribute('lang', lang);
    var nodes = document.querySelectorAll('[data-i18n]');
    for (var i = 0; i < nodes.length; i++) {
      nodes[i].textContent = t(nodes[i].getAttribute('data-i18n'));
    }
    var toggle = $('lang-toggle');
    if (toggle) {
      toggle.textContent = t('langToggle');
      toggle.setAttribute('lang', t('langToggleLang'));
    }
    var titleKey = document.body.getAttribute('data-title');
    if (titleKey) {
      document.title = t(titleKey) + ' · ' + t('brand');
    }
    for (var j = 0; j < langListeners.length; j++) {
      langListeners[j]();
    }
  }

  function onLanguage(fn) {
    langListeners.push(fn);
  }

  /* A link to another teacher page that keeps ?lang=en. */
  function link(path) {
    if (queryParam('lang') === 'en' && lang === 'en') {
      return path + (path.indexOf('?') < 0 ? '?' : '&') + 'lang=en';
    }
    return path;
  }

  function goToLogin() {
    var here = window.location.pathname + window.location.search;
    var url = '/login.html?next=' + encodeURIComponent(here);
    if (lang === 'en') {
      url += '&lang=en';
    }
    window.location.replace(url);
  }

  /* request(method, path, body, options, done)
   *   body: an object sent as JSON, a Blob sent as is, or null
   *   options: {headers, contentType, timeout, onUploadProgress(loaded), keep401}
   *   done(status, data, xhr): data is the parsed JSON answer or null;
   *   status 0 means the network failed (or the request timed out).
   * Returns the XMLHttpRequest (so a caller can abort it). */
  function request(method, path, body, options, done) {
    options = options || {};
    var xhr = new XMLHttpRequest();
    var finished = false;
    xhr.open(method, path, true);
    xhr.setRequestHeader('Accept', 'application/json');
    var isBlob = body !== null && typeof Blob !== 'undefined' && body instanceof Blob;
    if (body !== null && body !== undefined) {
      xhr.setRequestHeader('Content-Type', options.contentType ||
        (isBlob ? 'application/octet-stream' : 'application/json'));
    }
    if (method !== 'GET' && method !== 'HEAD' && csrf) {
      xhr.setRequestHeader('X-CSRF-Token', csrf);
    }
    var headers = options.headers || {};
    for (var name in headers) {
      if (Object.prototype.hasOwnProperty.call(headers, name)) {
        xhr.setRequestHeader(name, headers[name]);
      }
    }
    if (options.timeout) {
      xhr.timeout = options.timeout;
    }
    if (options.onUploadProgress && xhr.upload) {
      xhr.upload.onprogress = function (event) {
        options.onUploadProgress(event.loaded);
      };
    }
    function finish(status) {
      if (finished) {
        return;
      }
      finished = true;
      var data = null;
      if (status !== 0) {
        try {
          data = xhr.responseText ? JSON.parse(xhr.responseText) : null;
        } catch (e) {
          data = null;
        }
      }
      if (status === 401 && !options.keep401) {
        goToLogin();
        return;
      }
      done(status, data, xhr);
    }
    xhr.onload = function () {
      finish(xhr.status);
    };
    xhr.onerror = function () {
      finish(0);
    };
    xhr.ontimeout = function () {
      finish(0);
    };
    xhr.onabort = function () {
      if (!xhr.ketangQuiet) {
        finish(0);
      }
    };
    xhr.send(body === null || body === undefined ? null : (isBlob ? body : JSON.stringify(body)));
    return xhr;
  }

  /* Abort a request without calling its done(). */
  function abortQuietly(xhr) {
    if (xhr) {
      xhr.ketangQuiet = true;
      try {
        xhr.abort();
      } catch (e) { /* already finished */ }
    }
  }

  /* Is this a sentence in Chinese? Quoted names (“…”, 《…》, "…") do not
   * count: "“书法” at 09:00 overlaps …" is English around a Chinese title. */
  function hasChinese(text) {
    if (typeof text !== 'string') {
      return false;
    }
    var bare = text.replace(/“[^”]*”|《[^》]*》|"[^"]*"|「[^」]*」/g, '');
    return /[\u3400-\u9fff]/.test(bare);
  }

  /* The server's message when it is meant for people (written in Chinese),
   * else our own words for the status. Never raw JSON. */
  function errorText(status, data) {
    var message = data && data.error && data.error.message;
    if (hasChinese(message)) {
      return message;
    }
    if (status === 0) {
      return t('errNetwork');
    }
    if (status === 403) {
      return t('errForbidden');
    }
    if (status === 404) {
      return t('errNotFound');
    }
    if (status === 413) {
      return t('errTooLarge');
    }
    if (status >= 500) {
      return t('errServer');
    }
    return t('errGeneric');
  }

  function pad2(n) {
    return (n < 10 ? '0' : '') + n;
  }

  /* 754 → "12:34"; 4000 → "1:06:40". */
  function formatDuration(seconds) {
    if (typeof seconds !== 'number' || !isFinite(seconds) || seconds < 0) {
      return '';
    }
    var s = Math.round(seconds);
    var h = Math.floor(s / 3600);
    var m = Math.floor((s % 3600) / 60);
    var sec = s % 60;
    return h > 0 ? h + ':' + pad2(m) + ':' + pad2(sec) : pad2(m) + ':' + pad2(sec);
  }

  /* Bytes in the unit a person reads: "850 KB", "120 MB", "1.2 GB". */
  function formatBytes(bytes) {
    var units = ['B', 'KB', 'MB', 'GB', 'TB'];
    var v = bytes;
    var i = 0;
    while (v >= 1024 && i < units.length - 1) {
      v /= 1024;
      i += 1;
    }
    var text = i === 0 || v >= 100 ? String(Math.round(v)) : (Math.round(v * 10) / 10).toFixed(1);
    if (i > 0 && v < 100 && text.slice(-2) === '.0') {
      text = text.slice(0, -2);
    }
    return text + ' ' + units[i];
  }

  /* Time left in words: "1 分钟", "3 分钟", "1 小时 5 分钟" (rounded up). */
  function formatEta(seconds) {
    var minutes = Math.max(1, Math.ceil(seconds / 60));
    if (minutes < 60) {
      return t('minutes', { m: minutes });
    }
    return t('hoursMinutes', { h: Math.floor(minutes / 60), m: minutes % 60 });
  }

  /* "2026-12-01" → "2026年12月1日 周二" / "Tue 1 Dec 2026". */
  function formatDate(iso) {
    var m = /^(\d{4})-(\d{2})-(\d{2})/.exec(iso || '');
    if (!m) {
      return iso || '';
    }
    var y = +m[1];
    var mo = +m[2];
    var d = +m[3];
    var w = new Date(y, mo - 1, d).getDay();
    return t('dateFormat', { y: y, m: mo, d: d, mon: MONTHS_EN[mo - 1], w: t('weekdays').split(' ')[w] });
  }

  /* "2026-12-01T09:00:00+08:00" → "2026年12月1日 周二 09:00". */
  function formatDateTime(iso) {
    var m = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2})/.exec(iso || '');
    return m ? formatDate(m[1]) + ' ' + m[2] : (iso || '');
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (text !== undefined && text !== null) {
      node.textContent = text;
    }
    return node;
  }

  /* Show text in a message box: kind 'error' | 'ok' | 'info'; '' hides it. */
  function showMessage(node, text, kind) {
    node.textContent = text || '';
    node.className = text ? 'message message-' + (kind || 'error') : 'message hidden';
  }

  /* Sets up the top bar, then GET /api/me; ready(user) once logged in.
   * Not logged in → the login page. Network trouble → a retry button. */
  function start(ready) {
    applyLanguage();
    var toggle = $('lang-toggle');
    if (toggle) {
      toggle.onclick = function () {
        lang = lang === 'en' ? 'zh-CN' : 'en';
        storage('ketang.lang', lang);
        applyLanguage();
      };
    }
    var logout = $('logout');
    if (logout) {
      logout.onclick = function () {
        logout.disabled = true;
        request('POST', '/api/logout', null, { keep401: true }, function () {
          window.location.replace(link('/login.html'));
        });
      };
    }
    var box = $('page-message');
    function load() {
      request('GET', '/api/me', null, null, function (status, data) {
        if (status === 200 && data && data.user) {
          csrf = data.csrf;
          if (box) {
            showMessage(box, '');
          }
          var role = data.user.role;
          if (role !== 'teacher' && role !== 'admin') {
            if (box) {
              showMessage(box, t('errForbidden'));
            }
            return;
          }
          ready(data.user);
          return;
        }
        if (box) {
          showMessage(box, errorText(status, data));
          var again = el('button', 'btn btn-small', t('retry'));
          again.type = 'button';
          again.onclick = load;
          box.appendChild(document.createTextNode(' '));
          box.appendChild(again);
        }
      });
    }
    load();
  }

  window.ketangTeach = {
    $: $,
    t: t,
    addStrings: addStrings,
    lang: function () { return lang; },
    queryParam: queryParam,
    storage: storage,
    onLanguage: onLanguage,
    applyLanguage: applyLanguage,
    link: link,
    request: request,
    abortQuietly: abortQuietly,
    errorText: errorText,
    hasChinese: hasChinese,
    formatDuration: formatDuration,
    formatBytes: formatBytes,
    formatEta: formatEta,
    formatDate: formatDate,
    formatDateTime: formatDateTime,
    el: el,
    showMessage: showMessage,
    goToLogin: goToLogin,
    start: start
  };
})();
