/*
 * ketang (课堂) live board for administrators: the viewing points online
 * now (channel, lesson, playing or stalling, headcount), the ones expected
 * but missing while their channel's lesson runs (to phone them), and how
 * many people watch at home. Refreshed every 10 s.
 */
(function () {
  'use strict';

  var A = window.ketangAdmin;
  var $ = A.$;
  var t = A.t;
  var REFRESH_MS = 10000;
  var last = null;

  function stateWord(state) {
    return t({ playing: 'statePlaying', paused: 'statePaused', stalled: 'stateStalled' }[state] ||
      'statePaused');
  }

  function hhmmss(iso) {
    var m = /T(\d\d:\d\d:\d\d)/.exec(iso || '');
    return m ? m[1] : '';
  }

  function render() {
    if (!last) {
      return;
    }
    var missing = $('missing');
    missing.innerHTML = '';
    if (last.missing.length) {
      missing.appendChild(A.table([
        { key: 'name', label: 'vpName', cls: 'state-missing' },
        { key: 'township', label: 'colTownship' },
        { key: 'channel', label: 'colChannel' },
        { key: 'lesson', label: 'colLesson' }
      ], last.missing));
    } else {
      missing.appendChild(A.el('p', 'note', t('noneMissing')));
    }
    var online = $('online');
    online.innerHTML = '';
    var table = A.table([
      { key: 'name', label: 'vpName' },
      { key: 'township', label: 'colTownship' },
      { key: 'channel', label: 'colChannel' },
      { key: 'lesson', label: 'colLesson' },
      { key: function (v) { return stateWord(v.state); }, label: 'colState' },
      { key: 'headcount', label: 'colHeadcount', num: true },
      { key: function (v) { return hhmmss(v.last_heard); }, label: 'colLastHeard' }
    ], last.viewpoints);
    var rows = table.getElementsByTagName('tr');
    for (var i = 1; i < rows.length; i++) {
      if (last.viewpoints[i - 1].state === 'stalled') {
        rows[i].cells[4].className = 'state-stalled';
      }
    }
    online.appendChild(table);
    $('individuals').textContent = t('boardIndividuals', { n: last.individuals_online });
    $('updated').textContent = t('boardUpdated', { t: new Date().toTimeString().substring(0, 8) });
  }

  function load() {
    A.request('GET', '/api/attendance/online', null, function (status, data) {
      if (status === 200 && data) {
        last = data;
        A.showMessage($('page-message'), '');
        render();
      } else {
        A.showMessage($('page-message'), A.errorText(status, data));
      }
      window.setTimeout(load, REFRESH_MS);
    });
  }

  A.start(function () {
    A.onLanguage(render);
    load();
  });
})();
