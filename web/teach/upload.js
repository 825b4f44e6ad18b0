/* ketang: upload a lecture (/teach/upload.html).
 *
 * The resumable upload protocol (src/kt-http-upload.c):
 *   POST  /api/uploads {"filename", "size", "title"} → 201 {"id", "offset": 0, "chunk_max"}
 *   PATCH /api/uploads/<id>  Upload-Offset: n, body = the next bytes → {"offset", "state"}
 *   GET   /api/uploads/<id>  where it stands, after a failure
 *
 * The file is never read whole: each chunk is file.slice(offset, offset + n)
 * and the browser streams it. Chunks are 1 MB, growing to 4 MB while the
 * network keeps up (?chunk=<bytes> fixes the size, for tests). After any
 * network failure the page waits (1, 2, 4 … 30 s, or until the browser says
 * it is back online), asks the server how far it got, and goes on from
 * there. The upload id is kept in localStorage under the file's name, size
 * and modification time, so picking the same file after a reload resumes.
 *
 * The progress bar (#upload-progress, 0..100) moves with the bytes actually
 * sent, and the time left is computed from the rate measured over the last
 * 30 seconds.
 */
(function () {
  'use strict';

  var K = window.ketangTeach;
  var $ = K.$;
  var t = K.t;

  var MB = 1024 * 1024;
  var CHUNK_MIN = MB;
  var CHUNK_MAX = 4 * MB;
  var STALL_MS = 60000;         // no progress this long → treat as a network failure
  var ANSWER_MS = 300000;       // after the last byte of a chunk: the server checks the file
  var RATE_WINDOW_MS = 30000;   // the rate is measured over this window
  var RETRY_MAX_S = 30;

  var fixedChunk = parseInt(K.queryParam('chunk'), 10);
  if (!(fixedChunk >= 1024)) {
    fixedChunk = 0;
  }

  var up = null;      // the upload under way (see begin())
  var file = null;    // the chosen File
  var defaultTitle = '';

  function storageKey(f) {
    return 'ketang.upload.' + f.name + '|' + f.size + '|' + (f.lastModified || 0);
  }

  /* ---- showing progress ---- */

  function position() {
    return up ? Math.min(up.size, up.offset + up.inflight) : 0;
  }

  function sample() {
    var now = Date.now();
    var b = position();
    var s = up.samples;
    if (s.length && b < s[s.length - 1].b) {
      s.length = 0; // bytes in flight were lost: measure again from here
    }
    s.push({ t: now, b: b });
    while (s.length > 2 && now - s[1].t > RATE_WINDOW_MS) {
      s.shift();
    }
  }

  function rate() {
    var s = up.samples;
    if (s.length < 2) {
      return 0;
    }
    var dt = s[s.length - 1].t - s[0].t;
    return dt >= 1500 ? (s[s.length - 1].b - s[0].b) / (dt / 1000) : 0;
  }

  function renderProgress() {
    if (!up) {
      return;
    }
    var b = position();
    var pct = up.size > 0 ? (b / up.size) * 100 : 0;
    if (up.phase === 'done' || up.phase === 'refused') {
      pct = 100;
      b = up.size;
    }
    $('upload-progress').value = pct;
    $('upload-progress').setAttribute('aria-valuetext', Math.floor(pct) + '%');
    var vars = { done: K.formatBytes(b), total: K.formatBytes(up.size) };
    var text;
    if (b >= up.size || up.phase === 'retrying') {
      text = t('progress', vars);
    } else {
      var r = rate();
      if (r > 0) {
        vars.eta = K.formatEta((up.size - b) / r);
        text = t('progressEta', vars);
      } else {
        text = t('progressMeasuring', vars);
      }
    }
    var whole = Math.floor(pct) + '%';
    $('progress-text').textContent = text + (K.lang() === 'en' ? ' (' + whole + ')' : '（' + whole + '）');
  }

  function setStatus(text) {
    K.showMessage($('status'), text, 'info');
  }

  function setResult(text, kind, withLinks) {
    var box = $('result');
    K.showMessage(box, text, kind);
    if (withLinks) {
      box.appendChild(document.createElement('br'));
      var a = K.el('a', 'btn btn-primary', t('doneLink'));
      a.id = 'done-link';
      a.href = K.link('/teach/');
      box.appendChild(a);
    }
  }

  /* ---- the upload ---- */

  function onBeforeUnload(event) {
    event.preventDefault();
    event.returnValue = t('dontLeave');
    return t('dontLeave');
  }

  function setBusy(busy) {
    if (busy) {
      window.addEventListener('beforeunload', onBeforeUnload);
    } else {
      window.removeEventListener('beforeunload', onBeforeUnload);
    }
  }

  function stopTimers() {
    if (up && up.retryTimer) {
      window.clearTimeout(up.retryTimer);
      up.retryTimer = null;
    }
    if (up && up.countdown) {
      window.clearInterval(up.countdown);
      up.countdown = null;
    }
  }

  /* Ends the upload with a message; kind 'ok' or 'error'. */
  function end(phase, text, kind, withLinks) {
    stopTimers();
    if (up.stallTimer) {
      window.clearInterval(up.stallTimer);
      up.stallTimer = null;
    }
    up.phase = phase;
    setBusy(false);
    setStatus('');
    renderProgress();
    $('cancel-area').className = 'hidden';
    setResult(text, kind, withLinks);
    var again = K.el('button', 'btn', t('uploadAnother'));
    again.type = 'button';
    again.id = 'upload-another';
    again.onclick = reset;
    $('result').appendChild(document.createElement('br'));
    $('result').appendChild(again);
  }

  function fail(text) {
    K.storage(up.key, null);
    end('failed', text, 'error', false);
  }

  /* The last byte arrived: the server's answer says whether it took the file. */
  function finished(data) {
    up.offset = up.size;
    up.inflight = 0;
    K.storage(up.key, null);
    if (data && (data.state === 'refused' || data.error)) {
      // The server says why in words for teachers; shown as it is.
      var reason = data.error || t('errGeneric');
      end('refused', K.hasChinese(reason) ? reason : t('refused', { reason: reason }), 'error', false);
      return;
    }
    end('done', t('doneProcessing'), 'ok', true);
    if (!data || !data.item) {
      watchImport(up.id, 10);
    }
  }

  /* The server imports after the last chunk; if it did not answer at once,
   * look a few more times so that a refusal is still shown. */
  function watchImport(id, times) {
    if (times <= 0) {
      return;
    }
    window.setTimeout(function () {
      if (!up || up.id !== id || up.phase !== 'done') {
        return;
      }
      K.request('GET', '/api/uploads/' + encodeURIComponent(id), null, null, function (status, data) {
        if (!up || up.id !== id || up.phase !== 'done') {
          return;
        }
        if (status === 200 && data && (data.state === 'refused' || data.error)) {
          finished(data);
        } else if (!(status === 200 && data && data.item)) {
          watchImport(id, times - 1);
        }
      });
    }, 3000);
  }

  function nextChunkSize() {
    if (fixedChunk) {
      return Math.min(fixedChunk, up.chunkMax);
    }
    return Math.min(up.chunk, up.chunkMax);
  }

  function sendNext() {
    if (!up || up.phase === 'cancelled') {
      return;
    }
    if (up.offset >= up.size) {
      finished(up.last);
      return;
    }
    up.phase = 'uploading';
    setStatus('');
    var start = up.offset;
    var n = Math.min(nextChunkSize(), up.size - start);
    var blob = file.slice(start, start + n);
    var began = Date.now();
    up.inflight = 0;
    up.sentAll = false;
    up.lastProgress = began;
    up.xhr = K.request('PATCH', '/api/uploads/' + encodeURIComponent(up.id), blob, {
      contentType: 'application/offset+octet-stream',
      headers: { 'Upload-Offset': String(start) },
      onUploadProgress: function (loaded) {
        if (!up || up.offset !== start) {
          return;
        }
        up.inflight = Math.min(loaded, n);
        up.lastProgress = Date.now();
        up.sentAll = loaded >= n;
        sample();
        renderProgress();
      }
    }, function (status, data, xhr) {
      up.xhr = null;
      up.inflight = 0;
      if (up.phase === 'cancelled') {
        return;
      }
      if (status === 200 && data && typeof data.offset === 'number') {
        up.retries = 0;
        up.offset = data.offset;
        up.last = data;
        sample();
        renderProgress();
        if (!fixedChunk) {
          var took = Date.now() - began;
          if (took < 4000) {
            up.chunk = Math.min(CHUNK_MAX, up.chunk * 2);
          } else if (took > 20000) {
            up.chunk = Math.max(CHUNK_MIN, Math.floor(up.chunk / 2));
          }
        }
        if (data.state === 'complete' || data.state === 'refused' || data.offset >= up.size) {
          finished(data);
        } else {
          sendNext();
        }
        return;
      }
      if (status === 409) {
        var right = parseInt(xhr.getResponseHeader('Upload-Offset'), 10);
        if (right >= 0 && right <= up.size) {
          up.offset = right;
          sendNext();
        } else {
          retryLater();
        }
        return;
      }
      if (status === 404) {
        fail(t('uploadGone'));
        return;
      }
      if (status === 0 || status === 408 || status === 429 || status >= 500) {
        retryLater();
        return;
      }
      fail(K.errorText(status, data));
    });
  }

  /* A network failure: wait (longer each time), then ask where we stand. */
  function retryLater() {
    stopTimers();
    up.phase = 'retrying';
    up.retries += 1;
    var wait = Math.min(RETRY_MAX_S, Math.pow(2, up.retries - 1));
    var left = wait;
    renderProgress();
    setStatus(t('retryingIn', { s: left }));
    up.countdown = window.setInterval(function () {
      left -= 1;
      if (left > 0) {
        setStatus(t('retryingIn', { s: left }));
      } else {
        setStatus(t('retrying'));
      }
    }, 1000);
    up.retryTimer = window.setTimeout(resume, wait * 1000);
  }

  function resume() {
    stopTimers();
    if (!up || up.phase !== 'retrying') {
      return;
    }
    setStatus(t('retrying'));
    up.xhr = K.request('GET', '/api/uploads/' + encodeURIComponent(up.id), null, { timeout: 30000 },
      function (status, data) {
        up.xhr = null;
        if (up.phase === 'cancelled') {
          return;
        }
        if (status === 200 && data && typeof data.offset === 'number') {
          up.offset = data.offset;
          up.samples.length = 0;
          if (data.state === 'receiving') {
            sendNext();
          } else {
            finished(data);
          }
        } else if (status === 404) {
          fail(t('uploadGone'));
        } else {
          retryLater();
        }
      });
  }

  function watchStalls() {
    up.stallTimer = window.setInterval(function () {
      var limit = up && up.sentAll ? ANSWER_MS : STALL_MS;
      if (up && up.xhr && up.phase === 'uploading' && Date.now() - up.lastProgress > limit) {
        up.xhr.abort(); // reported as a network failure: retried
      }
    }, 5000);
  }

  /* Start (or resume) uploading the chosen file. */
  function begin() {
    var title = $('title').value.replace(/^\s+|\s+$/g, '') || defaultTitle;
    if (!file) {
      K.showMessage($('form-message'), t('pickFirst'));
      return;
    }
    K.showMessage($('form-message'), '');
    up = {
      id: null,
      key: storageKey(file),
      size: file.size,
      offset: 0,
      inflight: 0,
      chunk: CHUNK_MIN,
      chunkMax: 8 * MB,
      samples: [],
      retries: 0,
      phase: 'starting',
      xhr: null,
      last: null,
      retryTimer: null,
      countdown: null,
      stallTimer: null,
      lastProgress: Date.now()
    };
    $('upload-form').className = 'panel hidden';
    $('progress-box').className = 'panel';
    $('cancel-area').className = '';
    $('cancel').className = 'btn';
    $('cancel-confirm').className = 'hidden';
    $('progress-title').textContent = title;
    K.showMessage($('result'), '');
    setStatus(t('preparing'));
    renderProgress();
    setBusy(true);
    watchStalls();

    var stored = K.storage(up.key);
    if (stored) {
      K.request('GET', '/api/uploads/' + encodeURIComponent(stored), null, null, function (status, data) {
        if (up.phase === 'cancelled') {
          return;
        }
        if (status === 200 && data && data.state === 'receiving' && data.size === up.size) {
          up.id = stored;
          up.offset = data.offset;
          up.chunkMax = data.chunk_max || up.chunkMax;
          setStatus(t('resuming'));
          sample();
          sendNext();
        } else if (status === 0 || status >= 500) {
          setStatus('');
          K.showMessage($('result'), K.errorText(status, data));
          showRetryStart();
        } else {
          K.storage(up.key, null);
          create(title);
        }
      });
    } else {
      create(title);
    }
  }

  function showRetryStart() {
    var again = K.el('button', 'btn btn-primary', t('retry'));
    again.type = 'button';
    again.onclick = function () {
      stopAll();
      begin();
    };
    $('result').appendChild(document.createTextNode(' '));
    $('result').appendChild(again);
  }

  function create(title) {
    K.request('POST', '/api/uploads', { filename: file.name, size: file.size, title: title }, null,
      function (status, data) {
        if (up.phase === 'cancelled') {
          return;
        }
        if (status === 201 && data && data.id) {
          up.id = data.id;
          up.offset = data.offset || 0;
          up.chunkMax = data.chunk_max || up.chunkMax;
          K.storage(up.key, data.id);
          sample();
          sendNext();
          return;
        }
        if (status === 0 || status >= 500) {
          setStatus('');
          K.showMessage($('result'), K.errorText(status, data));
          showRetryStart();
          return;
        }
        // 413 (too large), 400 (empty file, bad name): the server says why
        end('failed', K.errorText(status, data), 'error', false);
      });
  }

  function stopAll() {
    stopTimers();
    if (up) {
      K.abortQuietly(up.xhr);
      if (up.stallTimer) {
        window.clearInterval(up.stallTimer);
      }
      up.phase = 'cancelled';
    }
    setBusy(false);
  }

  function cancelUpload() {
    var id = up && up.id;
    var key = up && up.key;
    stopAll();
    if (key) {
      K.storage(key, null);
    }
    if (id) {
      K.request('DELETE', '/api/uploads/' + encodeURIComponent(id), null, null, function () {});
    }
    reset();
    K.showMessage($('form-message'), t('cancelled'), 'info');
  }

  /* Back to choosing a file. */
  function reset() {
    stopAll();
    up = null;
    $('progress-box').className = 'panel hidden';
    $('upload-form').className = 'panel';
    K.showMessage($('form-message'), '');
    $('file').value = '';
    $('title').value = '';
    file = null;
    defaultTitle = '';
    showFile();
    loadUnfinished();
  }

  /* ---- choosing a file ---- */

  function showFile() {
    if (!file) {
      $('file-info').textContent = t('noFile');
      $('file-button').textContent = t('chooseFile');
      return;
    }
    var text = t('fileInfo', { name: file.name, size: K.formatBytes(file.size) });
    if (K.storage(storageKey(file))) {
      text += ' ' + t('resumable');
    }
    $('file-info').textContent = text;
    $('file-button').textContent = t('chooseAnother');
  }

  function onFileChosen() {
    var f = $('file').files && $('file').files[0];
    if (!f) {
      return;
    }
    file = f;
    var title = $('title').value.replace(/^\s+|\s+$/g, '');
    var name = f.name.replace(/\.[^.]*$/, '') || f.name;
    if (!title || title === defaultTitle) {
      $('title').value = name;
    }
    defaultTitle = name;
    K.showMessage($('form-message'), '');
    showFile();
  }

  /* Uploads that did not finish: the teacher can pick the same file again. */
  function loadUnfinished() {
    K.request('GET', '/api/uploads', null, null, function (status, data) {
      var box = $('unfinished');
      var list = status === 200 && data && data.uploads ? data.uploads : [];
      var open = [];
      for (var i = 0; i < list.length; i++) {
        if (list[i].state === 'receiving' && !(up && up.id === list[i].id)) {
          open.push(list[i]);
        }
      }
      box.textContent = '';
      if (!open.length) {
        box.className = 'message message-info hidden';
        return;
      }
      box.appendChild(K.el('strong', null, t('unfinished')));
      var ul = K.el('ul', 'lesson-list');
      for (var j = 0; j < open.length && j < 5; j++) {
        var u = open[j];
        ul.appendChild(K.el('li', null, t('unfinishedItem', {
          title: u.title || u.filename, file: u.filename,
          pct: u.size ? Math.floor((u.offset / u.size) * 100) : 0
        })));
      }
      box.appendChild(ul);
      box.appendChild(K.el('span', null, t('unfinishedHint')));
      box.className = 'message message-info';
    });
  }

  function init() {
    $('back-link').href = K.link('/teach/');
    $('file').onchange = onFileChosen;
    $('file-button').onkeydown = function (event) {
      if (event.key === 'Enter' || event.key === ' ') {
        event.preventDefault();
        $('file').click();
      }
    };
    $('upload-form').onsubmit = function (event) {
      event.preventDefault();
      begin();
      return false;
    };
    $('cancel').onclick = function () {
      $('cancel').className = 'btn hidden';
      $('cancel-confirm').className = '';
    };
    $('cancel-no').onclick = function () {
      $('cancel').className = 'btn';
      $('cancel-confirm').className = 'hidden';
    };
    $('cancel-yes').onclick = cancelUpload;
    window.addEventListener('online', function () {
      if (up && up.phase === 'retrying') {
        resume();
      }
    });
    K.onLanguage(function () {
      showFile();
      renderProgress();
    });
    $('start').disabled = true; // until GET /api/me gave the CSRF token
    K.start(function () {
      $('start').disabled = false;
      loadUnfinished();
    });
  }

  // For tests and diagnosis: where the upload stands.
  window.ketangUpload = {
    state: function () {
      return up ? { id: up.id, phase: up.phase, offset: up.offset, size: up.size, retries: up.retries } : null;
    }
  };

  init();
})();
