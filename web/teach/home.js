/* ketang: the teacher's home (/teach/): greeting, "上传讲座", and "我的讲座".
 *
 * The list comes from GET /api/library (a teacher's own lectures, an
 * administrator's all of them). Each lecture shows its title, length, state
 * in words, a thumbnail (or a placeholder), and buttons: 预览 (an inline
 * player: hls.js on the item's playlist, loaded only when first needed, or
 * the browser's own HLS on iPhones), 编辑 (title and description, saved with
 * PATCH), 安排播出 (the schedule page) and, for administrators, 删除 (which
 * shows the lessons still on the timetable and offers to delete anyway).
 *
 * While anything is processing the list is fetched again every few seconds;
 * cards are updated in place so an open player or edit form is not lost.
 * Until /api/library exists (404), the page shows the caller's uploads from
 * GET /api/uploads instead and keeps checking for the library.
 */
(function () {
  'use strict';

  var K = window.ketangTeach;
  var $ = K.$;
  var t = K.t;
  var el = K.el;

  var POLL_PROCESSING_MS = 4000;
  var POLL_FALLBACK_MS = 10000;

  var me = null;
  var mode = null;        // 'library' | 'uploads'
  var cards = {};         // id → card
  var order = [];         // ids in display order
  var pollTimer = null;
  var loading = false;
  var changes = 0;        // local edits; a list fetched before one is stale

  /* ---- what a lecture's state says ---- */

  function stateOf(item) {
    if (item.upload) {
      if (item.upload.state === 'refused' || item.upload.error) {
        return 'failed';
      }
      return item.upload.state === 'receiving' ? 'uploading' : 'processing';
    }
    return item.state === 'ready' ? 'ready' : item.state === 'failed' ? 'failed' : 'processing';
  }

  function stateText(item) {
    if (item.upload) {
      var u = item.upload;
      if (u.state === 'refused' || u.error) {
        return t('uploadRefused', { reason: u.error || t('errGeneric') });
      }
      if (u.state === 'receiving') {
        return t('uploadReceiving', { pct: u.size ? Math.floor((u.offset / u.size) * 100) : 0 });
      }
      return t('uploadComplete');
    }
    if (item.state === 'ready') {
      return t('ready');
    }
    if (item.state === 'failed') {
      return item.error ? t('failed', { reason: item.error }) : t('failedNoReason');
    }
    var text = typeof item.progress === 'number'
      ? t('processing', { pct: Math.floor(Math.max(0, Math.min(1, item.progress)) * 100) })
      : t('processingNoPct');
    if (typeof item.eta_s === 'number' && item.eta_s >= 0) {
      text += t('etaSuffix', { eta: K.formatEta(item.eta_s) });
    }
    return text;
  }

  /* ---- cards ---- */

  function button(label, className, onclick) {
    var b = el('button', 'btn ' + (className || ''), label);
    b.type = 'button';
    b.onclick = onclick;
    return b;
  }

  function makeCard(item) {
    var card = { item: item, mode: null, hls: null, video: null };
    var li = el('li', 'lecture');
    li.setAttribute('data-id', item.id);
    var main = el('div', 'lecture-main');
    card.thumb = el('div', 'thumb');
    main.appendChild(card.thumb);
    var info = el('div', 'lecture-info');
    card.title = el('h3', 'lecture-title');
    card.meta = el('p', 'lecture-meta');
    card.state = el('p', 'lecture-state');
    card.progress = el('progress', 'lecture-progress');
    card.progress.max = 100;
    info.appendChild(card.title);
    info.appendChild(card.meta);
    info.appendChild(card.state);
    info.appendChild(card.progress);
    main.appendChild(info);
    li.appendChild(main);

    var actions = el('div', 'lecture-actions');
    card.previewBtn = button('', 'btn-primary action-preview', function () {
      if (card.mode === 'preview') {
        closePanel(card);
      } else {
        openPreview(card);
      }
    });
    card.editBtn = button('', 'action-edit', function () {
      if (card.mode === 'edit') {
        closePanel(card);
      } else {
        openEdit(card);
      }
    });
    card.scheduleLink = el('a', 'btn action-schedule');
    card.deleteBtn = button('', 'btn-danger action-delete', function () {
      openDelete(card);
    });
    actions.appendChild(card.previewBtn);
    actions.appendChild(card.editBtn);
    actions.appendChild(card.scheduleLink);
    actions.appendChild(card.deleteBtn);
    li.appendChild(actions);
    card.message = el('p', 'message hidden');
    card.message.setAttribute('role', 'status');
    li.appendChild(card.message);
    card.panel = el('div', 'lecture-panel hidden');
    li.appendChild(card.panel);
    card.li = li;
    return card;
  }

  function show(node, visible) {
    var cls = node.className.replace(/\s*\bhidden\b/g, '');
    node.className = visible ? cls : cls + ' hidden';
  }

  function updateCard(card, item) {
    card.item = item;
    var state = stateOf(item);
    card.li.className = 'lecture state-' + (state === 'uploading' ? 'processing' : state);
    card.li.setAttribute('data-state', state);

    // thumbnail or placeholder
    var img = card.thumb.firstChild;
    card.thumb.className = item.thumbnail ? 'thumb' : 'thumb thumb-empty';
    if (item.thumbnail) {
      if (!img || img.tagName !== 'IMG') {
        card.thumb.textContent = '';
        img = el('img');
        img.alt = '';
        img.loading = 'lazy';
        card.thumb.appendChild(img);
      }
      if (img.getAttribute('src') !== item.thumbnail) {
        img.src = item.thumbnail;
      }
    } else {
      var glyph = state === 'ready' ? '▶' : state === 'failed' ? '!' : '…';
      if (!img || img.tagName === 'IMG' || img.textContent !== glyph) {
        card.thumb.textContent = '';
        card.thumb.appendChild(el('span', 'thumb-placeholder', glyph));
      }
    }

    card.title.textContent = item.title || '';
    var meta = [];
    var d = K.formatDuration(item.duration_s);
    if (d) {
      meta.push(t('length', { d: d }));
    }
    if (me && me.role === 'admin' && item.owner && item.owner !== me.name) {
      meta.push(t('by', { name: item.teacher || item.owner }));
    }
    card.meta.textContent = meta.join(' · ');
    show(card.meta, meta.length > 0);
    card.state.textContent = stateText(item);

    var pct = null;
    if (item.upload && item.upload.state === 'receiving' && item.upload.size) {
      pct = (item.upload.offset / item.upload.size) * 100;
    } else if (!item.upload && state === 'processing' && typeof item.progress === 'number') {
      pct = Math.max(0, Math.min(1, item.progress)) * 100;
    }
    if (pct !== null) {
      card.progress.value = pct;
    }
    show(card.progress, pct !== null);

    var library = !item.upload;
    card.previewBtn.textContent = card.mode === 'preview' ? t('closePreview') : t('preview');
    card.editBtn.textContent = t('edit');
    card.scheduleLink.textContent = t('schedule');
    card.scheduleLink.href = K.link('/teach/schedule.html?item=' + encodeURIComponent(item.id));
    card.deleteBtn.textContent = t('del');
    show(card.previewBtn, library && state === 'ready');
    show(card.editBtn, library);
    show(card.scheduleLink, library && state === 'ready');
    show(card.deleteBtn, library && me && me.role === 'admin');
    if (card.mode === 'preview' && state !== 'ready') {
      closePanel(card);
    }
  }

  function flash(card, text, kind) {
    K.showMessage(card.message, text, kind);
    if (card.flashTimer) {
      window.clearTimeout(card.flashTimer);
    }
    if (kind === 'ok') {
      card.flashTimer = window.setTimeout(function () {
        K.showMessage(card.message, '');
      }, 5000);
    }
  }

  function closePanel(card) {
    if (card.hls) {
      card.hls.destroy();
      card.hls = null;
    }
    if (card.video) {
      card.video.pause();
      card.video.removeAttribute('src');
      try {
        card.video.load();
      } catch (e) { /* nothing to unload */ }
      card.video = null;
    }
    card.mode = null;
    card.panel.textContent = '';
    show(card.panel, false);
    card.previewBtn.textContent = t('preview');
  }

  function openPanel(card, mode) {
    closePanel(card);
    card.mode = mode;
    K.showMessage(card.message, '');
    show(card.panel, true);
  }

  /* ---- preview ---- */

  var hlsLoading = null; // callbacks waiting for /vendor/hls.min.js

  function withHls(ready) {
    if (window.Hls) {
      ready();
      return;
    }
    if (hlsLoading) {
      hlsLoading.push(ready);
      return;
    }
    hlsLoading = [ready];
    var script = document.createElement('script');
    script.src = '/vendor/hls.min.js';
    script.onload = script.onerror = function () {
      var waiting = hlsLoading;
      hlsLoading = null;
      for (var i = 0; i < waiting.length; i++) {
        waiting[i]();
      }
    };
    document.head.appendChild(script);
  }

  function openPreview(card) {
    openPanel(card, 'preview');
    card.previewBtn.textContent = t('closePreview');
    var video = el('video', 'preview-video');
    video.controls = true;
    video.setAttribute('playsinline', '');
    video.preload = 'metadata';
    card.video = video;
    card.panel.appendChild(video);
    var problem = el('p', 'message hidden');
    card.panel.appendChild(problem);
    var url = card.item.playlist || '/watch/' + encodeURIComponent(card.item.id) + '/index.m3u8';

    function failed() {
      K.showMessage(problem, t('previewFailed'));
    }
    function play() {
      var p = video.play();
      if (p && p.catch) {
        p.catch(function () { /* autoplay refused: the controls are there */ });
      }
    }
    withHls(function () {
      if (card.video !== video) {
        return; // closed meanwhile
      }
      var Hls = window.Hls;
      if (Hls && Hls.isSupported && Hls.isSupported()) {
        var hls = new Hls({ maxBufferLength: 30 });
        card.hls = hls;
        hls.on(Hls.Events.MANIFEST_PARSED, play);
        hls.on(Hls.Events.ERROR, function (event, data) {
          if (data && data.fatal) {
            failed();
            hls.destroy();
            if (card.hls === hls) {
              card.hls = null;
            }
          }
        });
        hls.loadSource(url);
        hls.attachMedia(video);
      } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
        video.src = url;
        video.onerror = failed;
        play();
      } else {
        failed();
      }
    });
  }

  /* ---- edit ---- */

  function openEdit(card) {
    openPanel(card, 'edit');
    var item = card.item;
    var form = el('form', 'edit-form');
    form.noValidate = true;
    var uid = 'edit-' + String(item.id).replace(/[^A-Za-z0-9_-]/g, '_');
    var titleLabel = el('label', 'label', t('titleLabel'));
    titleLabel.htmlFor = uid + '-title';
    var title = el('input', 'input edit-title');
    title.id = uid + '-title';
    title.type = 'text';
    title.maxLength = 200;
    title.value = item.title || '';
    var descLabel = el('label', 'label', t('descLabel'));
    descLabel.htmlFor = uid + '-desc';
    var desc = el('textarea', 'input edit-description');
    desc.id = uid + '-desc';
    desc.rows = 4;
    desc.maxLength = 2000;
    desc.value = item.description || '';
    var problem = el('p', 'message hidden');
    problem.setAttribute('role', 'alert');
    var save = el('button', 'btn btn-primary edit-save', t('save'));
    save.type = 'submit';
    var cancel = button(t('cancel'), 'edit-cancel', function () {
      closePanel(card);
    });
    form.appendChild(titleLabel);
    form.appendChild(title);
    form.appendChild(descLabel);
    form.appendChild(desc);
    form.appendChild(problem);
    form.appendChild(save);
    form.appendChild(cancel);
    form.onsubmit = function (event) {
      event.preventDefault();
      var newTitle = title.value.replace(/^\s+|\s+$/g, '');
      if (!newTitle) {
        K.showMessage(problem, t('needTitle'));
        title.focus();
        return false;
      }
      save.disabled = true;
      save.textContent = t('saving');
      K.request('PATCH', '/api/library/' + encodeURIComponent(item.id),
        { title: newTitle, description: desc.value }, null, function (status, data) {
          save.disabled = false;
          save.textContent = t('save');
          if (status === 200) {
            var updated = data && data.id ? data : null;
            if (!updated) {
              updated = card.item;
              updated.title = newTitle;
              updated.description = desc.value;
            }
            changes += 1;
            closePanel(card);
            updateCard(card, updated);
            flash(card, t('saved'), 'ok');
          } else {
            K.showMessage(problem, K.errorText(status, data));
          }
        });
      return false;
    };
    card.panel.appendChild(form);
    title.focus();
  }

  /* ---- delete (administrators) ---- */

  function openDelete(card) {
    openPanel(card, 'delete');
    var box = el('div', 'delete-confirm');
    var question = el('p', 'message message-info', t('confirmDelete', { title: card.item.title }));
    var problem = el('p', 'message hidden');
    problem.setAttribute('role', 'alert');
    var yes = button(t('deleteYes'), 'btn-danger delete-yes', function () {
      remove(false);
    });
    var no = button(t('cancel'), 'delete-cancel', function () {
      closePanel(card);
    });
    box.appendChild(question);
    box.appendChild(problem);
    box.appendChild(yes);
    box.appendChild(no);
    card.panel.appendChild(box);

    function remove(force) {
      yes.disabled = true;
      yes.textContent = t('deleting');
      K.request('DELETE', '/api/library/' + encodeURIComponent(card.item.id) + (force ? '?force=1' : ''),
        null, null, function (status, data) {
          yes.disabled = false;
          if (status === 204 || status === 200) {
            changes += 1;
            dropCard(card.item.id);
            showEmpty();
            return;
          }
          if (status === 409 && data && data.lessons) {
            var said = data.error && data.error.message;
            question.textContent = K.hasChinese(said) ? said + '：' : t('onTimetable');
            var list = el('ul', 'lesson-list timetable-lessons');
            question.appendChild(list);
            withChannelNames(function (names) {
              for (var i = 0; i < data.lessons.length; i++) {
                var l = data.lessons[i];
                var parts = [names[l.channel] || l.channel, K.formatDateTime(l.start), l.title];
                list.appendChild(el('li', null, parts.filter(function (x) {
                  return !!x;
                }).join(' · ')));
              }
            });
            yes.textContent = t('deleteAnyway');
            yes.className = 'btn btn-danger delete-anyway';
            yes.onclick = function () {
              remove(true);
            };
            return;
          }
          yes.textContent = force ? t('deleteAnyway') : t('deleteYes');
          K.showMessage(problem, K.errorText(status, data));
        });
    }
  }

  /* Channel ids → names ("2" → "第二频道·书画"), for lessons shown in words. */
  function withChannelNames(done) {
    K.request('GET', '/api/channels', null, null, function (status, data) {
      var names = {};
      var list = status === 200 && data && data.channels ? data.channels : [];
      for (var i = 0; i < list.length; i++) {
        names[list[i].id] = list[i].name;
      }
      done(names);
    });
  }

  function dropCard(id) {
    var card = cards[id];
    if (!card) {
      return;
    }
    closePanel(card);
    if (card.li.parentNode) {
      card.li.parentNode.removeChild(card.li);
    }
    delete cards[id];
    for (var i = 0; i < order.length; i++) {
      if (order[i] === id) {
        order.splice(i, 1);
        break;
      }
    }
  }

  /* ---- the list ---- */

  function showEmpty() {
    show($('list-empty'), order.length === 0);
  }

  function render(items) {
    var seen = {};
    var ids = [];
    for (var i = 0; i < items.length; i++) {
      var item = items[i];
      var id = String(item.id);
      seen[id] = true;
      ids.push(id);
      if (!cards[id]) {
        cards[id] = makeCard(item);
      }
      updateCard(cards[id], item);
    }
    for (var old in cards) {
      if (Object.prototype.hasOwnProperty.call(cards, old) && !seen[old]) {
        dropCard(old);
      }
    }
    // Re-insert only when the order changed: moving a playing video pauses it.
    if (ids.join('\n') !== order.join('\n')) {
      var list = $('lectures');
      for (var j = 0; j < ids.length; j++) {
        var li = cards[ids[j]].li;
        if (list.children[j] !== li) {
          list.insertBefore(li, list.children[j] || null);
        }
      }
    }
    order = ids;
    show($('list-loading'), false);
    showEmpty();
  }

  /* Uploads shown as lectures while the library is not there yet. */
  function fromUploads(uploads) {
    var items = [];
    for (var i = 0; i < uploads.length; i++) {
      var u = uploads[i];
      items.push({
        id: 'upload-' + u.id,
        title: u.title || u.filename,
        upload: u
      });
    }
    return items; // the server lists the newest first
  }

  function schedulePoll(ms) {
    if (pollTimer) {
      window.clearTimeout(pollTimer);
    }
    pollTimer = ms ? window.setTimeout(function () {
      pollTimer = null;
      if (document.hidden) {
        return; // refreshed again when the page is shown
      }
      load();
    }, ms) : null;
  }

  function anyProcessing(items) {
    for (var i = 0; i < items.length; i++) {
      var s = stateOf(items[i]);
      if (s === 'processing' || s === 'uploading') {
        return true;
      }
    }
    return false;
  }

  function listProblem(status, data) {
    show($('list-loading'), false);
    K.showMessage($('list-message'), K.errorText(status, data));
  }

  function load() {
    if (loading) {
      return;
    }
    loading = true;
    var before = changes;
    K.request('GET', '/api/library', null, { keep401: true }, function (status, data) {
      if (status === 200 && data && data.items) {
        loading = false;
        if (changes !== before) {
          load(); // fetched before a local edit: it would undo it on screen
          return;
        }
        mode = 'library';
        show($('list-note'), false);
        K.showMessage($('list-message'), '');
        render(data.items);
        schedulePoll(anyProcessing(data.items) ? POLL_PROCESSING_MS : 0);
        return;
      }
      if (status === 404 || status === 401 || status === 405 || status === 501) {
        // The library is not there yet: show the uploads meanwhile.
        K.request('GET', '/api/uploads', null, null, function (status2, data2) {
          loading = false;
          if (status2 === 200 && data2 && data2.uploads) {
            if (mode === 'library') {
              order.slice().forEach(dropCard);
            }
            mode = 'uploads';
            show($('list-note'), data2.uploads.length > 0);
            K.showMessage($('list-message'), '');
            render(fromUploads(data2.uploads));
          } else {
            listProblem(status2, data2);
          }
          schedulePoll(POLL_FALLBACK_MS);
        });
        return;
      }
      loading = false;
      listProblem(status, data);
      schedulePoll(POLL_FALLBACK_MS);
    });
  }

  function init() {
    $('upload-link').href = K.link('/teach/upload.html');
    K.onLanguage(function () {
      if (me) {
        $('greeting').textContent = t('greeting', { name: me.display_name || me.name });
      }
      for (var id in cards) {
        if (Object.prototype.hasOwnProperty.call(cards, id)) {
          updateCard(cards[id], cards[id].item);
        }
      }
    });
    document.addEventListener('visibilitychange', function () {
      if (!document.hidden && me && !pollTimer) {
        load();
      }
    });
    K.start(function (user) {
      me = user;
      $('greeting').textContent = t('greeting', { name: user.display_name || user.name });
      load();
    });
  }

  // For tests and diagnosis.
  window.ketangHome = {
    mode: function () { return mode; },
    reload: load
  };

  init();
})();
