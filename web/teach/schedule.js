/* ketang: put a lecture on a channel's timetable (/teach/schedule.html?item=<id>).
 *
 *   GET  /api/items/<id>  the lecture (only ready ones can be scheduled)
 *   GET  /api/channels    the channels to pick from
 *   POST /api/lessons     {"channel", "item", "start", "weekly_until"?, "title"?}
 *
 * Times are local wall-clock ("2026-12-01T09:00"): the server reads them in
 * its own time zone, which is the teachers' zone. The end defaults to the
 * lecture's length. A clash with another lesson is answered 409 with the
 * problem in words, shown as it is.
 */
(function () {
  'use strict';

  var K = window.ketangTeach;
  var $ = K.$;
  var t = K.t;

  var itemId = K.queryParam('item') || '';
  var item = null;
  var channels = [];
  var lastScheduled = null;

  function pad2(n) {
    return (n < 10 ? '0' : '') + n;
  }

  function isoDate(d) {
    return d.getFullYear() + '-' + pad2(d.getMonth() + 1) + '-' + pad2(d.getDate());
  }

  function channelName(id) {
    for (var i = 0; i < channels.length; i++) {
      if (channels[i].id === id) {
        return channels[i].name || id;
      }
    }
    return id;
  }

  function showItem() {
    if (!item) {
      return;
    }
    $('item-title').textContent = item.title;
    var meta = [];
    var d = K.formatDuration(item.duration_s);
    if (d) {
      meta.push(t('length', { d: d }));
    }
    $('item-meta').textContent = meta.join(' · ');
    $('lesson-title').placeholder = item.title;
  }

  function showSuccess() {
    if (!lastScheduled) {
      return;
    }
    var s = lastScheduled;
    var text = t('scheduled', { channel: channelName(s.channel), date: K.formatDate(s.date), time: s.time });
    if (s.until) {
      text += t('scheduledWeekly', { until: K.formatDate(s.until) });
    }
    $('success-text').textContent = text;
  }

  function fillChannels() {
    var select = $('channel');
    var chosen = select.value;
    select.textContent = '';
    for (var i = 0; i < channels.length; i++) {
      var option = document.createElement('option');
      option.value = channels[i].id;
      option.textContent = channels[i].name || channels[i].id;
      select.appendChild(option);
    }
    if (chosen) {
      select.value = chosen;
    }
  }

  function problem(text) {
    K.showMessage($('form-message'), text);
  }

  function submit() {
    var date = $('date').value;
    var time = $('time').value;
    var until = $('until').value;
    var title = $('lesson-title').value.replace(/^\s+|\s+$/g, '');
    if (!/^\d{4}-\d{2}-\d{2}$/.test(date) || !/^\d{2}:\d{2}/.test(time)) {
      problem(t('pickDate'));
      return;
    }
    if (until && until < date) {
      problem(t('untilBeforeStart'));
      return;
    }
    problem('');
    var body = { channel: $('channel').value, item: itemId, start: date + 'T' + time.slice(0, 5) };
    if (until) {
      body.weekly_until = until;
    }
    if (title) {
      body.title = title;
    }
    var button = $('submit');
    button.disabled = true;
    button.textContent = t('scheduling');
    K.request('POST', '/api/lessons', body, null, function (status, data) {
      button.disabled = false;
      button.textContent = t('submitSchedule');
      if (status === 201 || status === 200) {
        lastScheduled = { channel: (data && data.channel) || body.channel, date: date,
          time: time.slice(0, 5), until: until };
        showSuccess();
        $('schedule-form').className = 'panel hidden';
        $('success').className = '';
        $('success-home').focus();
        return;
      }
      if (status === 409 && data && data.error && data.error.message) {
        // The clash, in the server's words; said in plain Chinese first
        // when the server's words are not.
        var said = data.error.message;
        problem(K.hasChinese(said) ? said : t('clash'));
        if (!K.hasChinese(said)) {
          var detail = document.createElement('span');
          detail.className = 'message-detail';
          detail.textContent = said;
          $('form-message').appendChild(document.createElement('br'));
          $('form-message').appendChild(detail);
        }
        return;
      }
      if (status === 404) {
        problem(t('noItem'));
        return;
      }
      if (status === 400 && !(data && data.error && K.hasChinese(data.error.message))) {
        problem(t('badTime'));
        return;
      }
      problem(K.errorText(status, data));
    });
  }

  function load() {
    var pending = 2;
    var failed = false;
    function done() {
      pending -= 1;
      if (pending > 0 || failed) {
        return;
      }
      $('item-loading').className = 'note hidden';
      if (!channels.length) {
        K.showMessage($('page-message'), t('noChannels'));
        return;
      }
      $('schedule-form').className = 'panel';
    }
    function stop(text) {
      failed = true;
      $('item-loading').className = 'note hidden';
      K.showMessage($('page-message'), text);
    }
    if (!itemId) {
      stop(t('noItem'));
      return;
    }
    K.request('GET', '/api/items/' + encodeURIComponent(itemId), null, null, function (status, data) {
      if (status === 200 && data && data.id) {
        item = data;
        showItem();
        done();
      } else {
        stop(status === 404 ? t('noItem') : K.errorText(status, data));
      }
    });
    K.request('GET', '/api/channels', null, null, function (status, data) {
      if (status === 200 && data && data.channels) {
        channels = data.channels;
        fillChannels();
        done();
      } else {
        stop(K.errorText(status, data));
      }
    });
  }

  function init() {
    $('back-link').href = K.link('/teach/');
    $('success-home').href = K.link('/teach/');
    var tomorrow = new Date();
    tomorrow.setDate(tomorrow.getDate() + 1);
    $('date').value = isoDate(tomorrow);
    $('date').min = isoDate(new Date());
    $('until').min = isoDate(new Date());
    $('schedule-form').onsubmit = function (event) {
      event.preventDefault();
      submit();
      return false;
    };
    $('again').onclick = function () {
      $('success').className = 'hidden';
      $('schedule-form').className = 'panel';
    };
    K.onLanguage(function () {
      showItem();
      showSuccess();
    });
    K.start(function () {
      load();
    });
  }

  init();
})();
