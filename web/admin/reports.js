/*
 * ketang (课堂) attendance reports for administrators: per lesson (with a
 * chart of people reached per lesson and per week), per viewing point, and
 * per month by channel and township, each with its Excel (CSV) download.
 * Charts are drawn by Chart.js from npm (/vendor/chart.umd.min.js).
 *
 * The range defaults to this month. The per-lesson report covers at most
 * 62 days (the server says so); the others up to a year, e.g. a term.
 */
(function () {
  'use strict';

  var A = window.ketangAdmin;
  var $ = A.$;
  var t = A.t;
  var charts = {};
  var last = null; // the latest answers, to redraw on a change of language

  function pad(n) {
    return (n < 10 ? '0' : '') + n;
  }

  function isoDate(d) {
    return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate());
  }

  function thisMonth() {
    var now = new Date();
    return {
      from: isoDate(new Date(now.getFullYear(), now.getMonth(), 1)),
      to: isoDate(new Date(now.getFullYear(), now.getMonth() + 1, 1))
    };
  }

  function query() {
    return 'from=' + encodeURIComponent($('from').value) + '&to=' + encodeURIComponent($('to').value);
  }

  /* "2026-12-01T09:00:00+08:00" → "12-01 09:00", as the server wrote it. */
  function shortTime(iso) {
    var m = /^\d{4}-(\d\d-\d\d)T(\d\d:\d\d)/.exec(iso || '');
    return m ? m[1] + ' ' + m[2] : iso;
  }

  /* The Monday (server's dates) of an ISO date-time, as "2026-11-30". */
  function weekOf(iso) {
    var m = /^(\d{4})-(\d\d)-(\d\d)/.exec(iso);
    var d = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3]));
    var back = (d.getUTCDay() + 6) % 7;
    d.setUTCDate(d.getUTCDate() - back);
    return d.toISOString().substring(0, 10);
  }

  function chart(id, type, labels, values, label) {
    if (charts[id]) {
      charts[id].destroy();
    }
    if (!window.Chart) {
      return;
    }
    charts[id] = new window.Chart($(id), {
      type: type,
      data: {
        labels: labels,
        datasets: [{ label: label, data: values, backgroundColor: '#ffd54a', borderColor: '#ffd54a' }]
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        plugins: { legend: { labels: { color: '#ffffff', font: { size: 18 } } } },
        scales: {
          x: { ticks: { color: '#c8d0d8', font: { size: 16 } } },
          y: { beginAtZero: true, ticks: { color: '#c8d0d8', font: { size: 16 }, precision: 0 } }
        }
      }
    });
  }

  function renderLessons(data) {
    var box = $('lessons');
    box.innerHTML = '';
    if (!data) {
      box.appendChild(A.el('p', 'note', t('repLessonsTooLong')));
      chart('chart-lessons', 'bar', [], [], t('repPerLesson'));
      chart('chart-weeks', 'bar', [], [], t('repPerWeek'));
      return;
    }
    var lessons = data.lessons;
    box.appendChild(A.table([
      { key: function (l) { return shortTime(l.start); }, label: 'colTime' },
      { key: 'channel_name', label: 'colChannel' },
      { key: 'title', label: 'colLesson' },
      { key: function (l) { return l.viewpoints.count; }, label: 'colViewpoints', num: true },
      { key: function (l) { return l.individuals.count; }, label: 'colIndividuals', num: true },
      { key: 'people_reached', label: 'colPeople', num: true },
      { key: 'minutes_watched', label: 'colMinutes', num: true }
    ], lessons));
    var labels = [];
    var values = [];
    var weeks = {};
    var order = [];
    for (var i = 0; i < lessons.length; i++) {
      labels.push(shortTime(lessons[i].start) + ' ' + lessons[i].title);
      values.push(lessons[i].people_reached);
      var w = weekOf(lessons[i].start);
      if (!weeks.hasOwnProperty(w)) {
        weeks[w] = 0;
        order.push(w);
      }
      weeks[w] += lessons[i].people_reached;
    }
    chart('chart-lessons', 'bar', labels, values, t('repPerLesson'));
    var weekLabels = [];
    var weekValues = [];
    for (var k = 0; k < order.length; k++) {
      weekLabels.push(t('repWeekOf', { d: order[k] }));
      weekValues.push(weeks[order[k]]);
    }
    chart('chart-weeks', 'bar', weekLabels, weekValues, t('repPerWeek'));
  }

  function renderViewpoints(data) {
    var box = $('viewpoints');
    box.innerHTML = '';
    box.appendChild(A.table([
      { key: 'name', label: 'vpName' },
      { key: 'township', label: 'colTownship' },
      { key: 'channel', label: 'colChannel' },
      { key: 'lessons', label: 'colLessonsWatched', num: true },
      { key: 'attended', label: 'colAttended', num: true },
      { key: 'minutes', label: 'colMinutes', num: true },
      { key: 'people_reached', label: 'colPeopleTimes', num: true }
    ], data.viewpoints));
  }

  function renderMonths(data) {
    var box = $('months');
    box.innerHTML = '';
    var byChannel = [];
    var byTownship = [];
    for (var i = 0; i < data.months.length; i++) {
      var m = data.months[i];
      for (var c = 0; c < m.channels.length; c++) {
        m.channels[c].month = m.month;
        byChannel.push(m.channels[c]);
      }
      for (var w = 0; w < m.townships.length; w++) {
        m.townships[w].month = m.month;
        byTownship.push(m.townships[w]);
      }
    }
    var measures = [
      { key: 'lessons', label: 'colLessonCount', num: true },
      { key: 'viewpoints', label: 'colSessions', num: true },
      { key: 'individuals', label: 'colIndividuals', num: true },
      { key: 'people_reached', label: 'colPeopleTimes', num: true },
      { key: 'minutes', label: 'colMinutes', num: true }
    ];
    box.appendChild(A.el('h4', 'label', t('repByChannel')));
    box.appendChild(A.table([{ key: 'month', label: 'colMonth' },
      { key: 'channel_name', label: 'colChannel' }].concat(measures), byChannel));
    box.appendChild(A.el('h4', 'label', t('repByTownship')));
    box.appendChild(A.table([{ key: 'month', label: 'colMonth' },
      { key: 'township', label: 'colTownship' }].concat(measures), byTownship));
  }

  function render() {
    if (!last) {
      return;
    }
    renderLessons(last.lessons);
    if (last.viewpoints) {
      renderViewpoints(last.viewpoints);
    }
    if (last.months) {
      renderMonths(last.months);
    }
  }

  function load(event) {
    if (event) {
      event.preventDefault();
    }
    var q = query();
    $('csv-lessons').href = '/api/attendance/lessons.csv?' + q;
    $('csv-viewpoints').href = '/api/attendance/viewpoints.csv?' + q;
    $('csv-months').href = '/api/attendance/months.csv?' + q;
    var answers = { lessons: null, viewpoints: null, months: null };
    var pending = 3;
    function done() {
      pending--;
      if (pending === 0) {
        last = answers;
        render();
      }
    }
    function get(path, key) {
      A.request('GET', path, null, function (status, data) {
        if (status === 200) {
          answers[key] = data;
        } else if (key !== 'lessons' || status !== 400) {
          A.showMessage($('page-message'), A.errorText(status, data));
        }
        done();
      });
    }
    A.showMessage($('page-message'), '');
    get('/api/attendance/lessons?' + q, 'lessons');
    get('/api/attendance/viewpoints?' + q, 'viewpoints');
    get('/api/attendance/months?' + q, 'months');
  }

  A.start(function () {
    var range = thisMonth();
    $('from').value = A.queryParam('from') || range.from;
    $('to').value = A.queryParam('to') || range.to;
    $('range').onsubmit = load;
    A.onLanguage(render);
    load();
  });
})();
