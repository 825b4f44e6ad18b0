/*
 * ketang (课堂) administrators' pages (/admin/): the shared part.
 *
 * Plain ES5. The HTTP helper, element builder and message box come from the
 * teachers' pages (/teach/teach.js, loaded first) so there is one of each;
 * this file adds the administrators' strings, the sign-in check (only an
 * administrator gets further than the message) and the CSRF header every
 * change needs.
 *
 * window.ketangAdmin = { t, lang, request, el, showMessage, errorText, start, ... }.
 */
(function () {
  'use strict';

  var T = window.ketangTeach;

  var STRINGS = {
    'zh-CN': {
      brand: '课堂',
      area: '管理',
      langToggle: 'English',
      langToggleLang: 'en',
      logout: '退出登录',
      loading: '正在加载…',
      retry: '再试一次',
      notAdmin: '只有管理员可以使用这个页面。',
      navViewpoints: '收视点',
      navReports: '到课报表',
      navBoard: '实时看板',
      // viewpoints
      vpTitle: '收视点',
      vpAdd: '添加收视点',
      vpName: '名称',
      vpTownship: '乡镇/社区',
      vpContact: '联系人（可不填）',
      vpPhone: '联系电话（可不填）',
      vpSeats: '座位数',
      vpChannel: '播放频道',
      vpCode: '编号',
      vpState: '状态',
      vpActive: '使用中',
      vpDisabled: '已停用',
      vpEdit: '编辑',
      vpDisable: '停用',
      vpEnable: '启用',
      vpNewToken: '新链接和二维码',
      vpConfirmToken: '生成新链接后，“{name}”电视上的旧链接立即失效，需要重新扫码或输入。确定吗？',
      vpSave: '保存',
      vpCancel: '取消',
      vpSaved: '已保存。',
      vpNeedName: '请填写名称和乡镇/社区。',
      vpEmpty: '还没有收视点。',
      vpCardTitle: '“{name}”的电视链接',
      vpCardNote: '请在收视点的电视或电脑上打开下面的链接（或用手机扫二维码）。链接只显示这一次，请打印或抄下。',
      vpToken: '令牌',
      vpKiosk: '电视链接',
      vpPrint: '打印',
      vpClose: '关闭',
      vpChannelDefault: '频道 {id}',
      // reports
      repTitle: '到课报表',
      repFrom: '从',
      repTo: '到（不含）',
      repShow: '查看',
      repCsv: '下载 Excel 表格 (CSV)',
      repLessons: '每节课',
      repLessonsTooLong: '按课统计最长 62 天，请缩短日期范围。',
      repPerLesson: '每节课到课人数',
      repPerWeek: '每周到课人次',
      repWeekOf: '{d} 起的一周',
      repViewpoints: '各收视点',
      repMonths: '按月统计',
      repByChannel: '按频道',
      repByTownship: '按乡镇',
      colTime: '时间',
      colChannel: '频道',
      colLesson: '课程',
      colViewpoints: '收视点',
      colIndividuals: '在家个人',
      colPeople: '到课人数',
      colPeopleTimes: '到课人次',
      colMinutes: '收看分钟',
      colTownship: '乡镇',
      colLessonsWatched: '收看课次',
      colAttended: '到课课次',
      colMonth: '月份',
      colLessonCount: '课次',
      colSessions: '收视点场次',
      colState: '状态',
      colHeadcount: '到课人数',
      colLastHeard: '最后收到',
      none: '没有记录。',
      // board
      boardTitle: '实时看板',
      boardOnline: '在线收视点',
      boardMissing: '课程进行中、尚未上线的收视点',
      boardIndividuals: '在家收看的个人：{n} 人',
      boardUpdated: '更新于 {t}',
      statePlaying: '播放中',
      statePaused: '暂停',
      stateStalled: '卡顿',
      stateMissing: '未上线',
      noneMissing: '应到的收视点都已上线。'
    },
    en: {
      brand: 'Ketang',
      area: 'Admin',
      langToggle: '中文',
      langToggleLang: 'zh-CN',
      logout: 'Log out',
      loading: 'Loading…',
      retry: 'Try again',
      notAdmin: 'Only administrators can use this page.',
      navViewpoints: 'Viewing points',
      navReports: 'Attendance reports',
      navBoard: 'Live board',
      vpTitle: 'Viewing points',
      vpAdd: 'Add a viewing point',
      vpName: 'Name',
      vpTownship: 'Township / community',
      vpContact: 'Contact (optional)',
      vpPhone: 'Phone (optional)',
      vpSeats: 'Seats',
      vpChannel: 'Channel',
      vpCode: 'Code',
      vpState: 'State',
      vpActive: 'Active',
      vpDisabled: 'Disabled',
      vpEdit: 'Edit',
      vpDisable: 'Disable',
      vpEnable: 'Enable',
      vpNewToken: 'New link and QR code',
      vpConfirmToken: 'The old link on “{name}”\'s TV stops working at once. Continue?',
      vpSave: 'Save',
      vpCancel: 'Cancel',
      vpSaved: 'Saved.',
      vpNeedName: 'Please fill in the name and the township.',
      vpEmpty: 'No viewing points yet.',
      vpCardTitle: 'TV link of “{name}”',
      vpCardNote: 'Open this link on the viewing point\'s TV or PC (or scan the QR code). ' +
        'It is shown only now: print it or write it down.',
      vpToken: 'Token',
      vpKiosk: 'TV link',
      vpPrint: 'Print',
      vpClose: 'Close',
      vpChannelDefault: 'Channel {id}',
      repTitle: 'Attendance reports',
      repFrom: 'From',
      repTo: 'To (not included)',
      repShow: 'Show',
      repCsv: 'Download for Excel (CSV)',
      repLessons: 'Per lesson',
      repLessonsTooLong: 'The per-lesson report covers at most 62 days; please shorten the range.',
      repPerLesson: 'People reached per lesson',
      repPerWeek: 'People reached per week',
      repWeekOf: 'Week of {d}',
      repViewpoints: 'Per viewing point',
      repMonths: 'Per month',
      repByChannel: 'By channel',
      repByTownship: 'By township',
      colTime: 'Time',
      colChannel: 'Channel',
      colLesson: 'Lesson',
      colViewpoints: 'Viewing points',
      colIndividuals: 'At home',
      colPeople: 'People reached',
      colPeopleTimes: 'People reached',
      colMinutes: 'Minutes watched',
      colTownship: 'Township',
      colLessonsWatched: 'Lessons watched',
      colAttended: 'Lessons attended',
      colMonth: 'Month',
      colLessonCount: 'Lessons',
      colSessions: 'Room sessions',
      colState: 'State',
      colHeadcount: 'Headcount',
      colLastHeard: 'Last heard',
      none: 'Nothing recorded.',
      boardTitle: 'Live board',
      boardOnline: 'Viewing points online',
      boardMissing: 'Expected but missing, with the lesson running',
      boardIndividuals: 'People watching at home: {n}',
      boardUpdated: 'Updated {t}',
      statePlaying: 'Playing',
      statePaused: 'Paused',
      stateStalled: 'Stalling',
      stateMissing: 'Missing',
      noneMissing: 'Every expected viewing point is online.'
    }
  };

  var lang = T.lang();
  var csrf = null;
  var listeners = [];

  function t(key, vars) {
    var s = (STRINGS[lang] || STRINGS['zh-CN'])[key];
    if (s === undefined) {
      s = STRINGS['zh-CN'][key] !== undefined ? STRINGS['zh-CN'][key] : T.t(key, vars);
    }
    if (vars) {
      s = s.replace(/\{(\w+)\}/g, function (m, name) {
        return Object.prototype.hasOwnProperty.call(vars, name) ? String(vars[name]) : m;
      });
    }
    return s;
  }

  function applyLanguage() {
    document.documentElement.setAttribute('lang', lang);
    var nodes = document.querySelectorAll('[data-i18n]');
    for (var i = 0; i < nodes.length; i++) {
      nodes[i].textContent = t(nodes[i].getAttribute('data-i18n'));
    }
    var toggle = T.$('lang-toggle');
    if (toggle) {
      toggle.textContent = t('langToggle');
      toggle.setAttribute('lang', t('langToggleLang'));
    }
    var titleKey = document.body.getAttribute('data-title');
    if (titleKey) {
      document.title = t(titleKey) + ' · ' + t('brand');
    }
    for (var j = 0; j < listeners.length; j++) {
      listeners[j]();
    }
  }

  /* As ketangTeach.request, with the session's CSRF token on changes. */
  function request(method, path, body, done) {
    var headers = {};
    if (method !== 'GET' && method !== 'HEAD' && csrf) {
      headers['X-CSRF-Token'] = csrf;
    }
    return T.request(method, path, body, { headers: headers }, done);
  }

  /* The top bar, then the sign-in check; ready(user) for an administrator. */
  function start(ready) {
    applyLanguage();
    var toggle = T.$('lang-toggle');
    if (toggle) {
      toggle.onclick = function () {
        lang = lang === 'en' ? 'zh-CN' : 'en';
        T.storage('ketang.lang', lang);
        applyLanguage();
      };
    }
    var logout = T.$('logout');
    if (logout) {
      logout.onclick = function () {
        logout.disabled = true;
        request('POST', '/api/logout', null, function () {
          window.location.replace('/login.html');
        });
      };
    }
    var box = T.$('page-message');
    function load() {
      T.request('GET', '/api/me', null, null, function (status, data) {
        if (status === 200 && data && data.user) {
          csrf = data.csrf;
          T.showMessage(box, '');
          if (data.user.role !== 'admin') {
            T.showMessage(box, t('notAdmin'));
            return;
          }
          ready(data.user);
          return;
        }
        T.showMessage(box, T.errorText(status, data));
        var again = T.el('button', 'btn btn-small', t('retry'));
        again.type = 'button';
        again.onclick = load;
        box.appendChild(again);
      });
    }
    load();
  }

  /* A table: @columns [{key, label, num?}] and @rows of objects (values
   * given by key, or by a function of the row). */
  function table(columns, rows) {
    var wrap = T.el('div', 'table-wrap');
    if (!rows.length) {
      wrap.appendChild(T.el('p', 'note', t('none')));
      return wrap;
    }
    var tbl = T.el('table', 'data');
    var head = T.el('tr');
    for (var i = 0; i < columns.length; i++) {
      head.appendChild(T.el('th', columns[i].num ? 'num' : null, t(columns[i].label)));
    }
    var thead = T.el('thead');
    thead.appendChild(head);
    tbl.appendChild(thead);
    var body = T.el('tbody');
    for (var r = 0; r < rows.length; r++) {
      var tr = T.el('tr');
      for (var c = 0; c < columns.length; c++) {
        var col = columns[c];
        var v = typeof col.key === 'function' ? col.key(rows[r]) : rows[r][col.key];
        tr.appendChild(T.el('td', col.num ? 'num' : (col.cls || null),
          v === null || v === undefined ? '' : String(v)));
      }
      body.appendChild(tr);
    }
    tbl.appendChild(body);
    wrap.appendChild(tbl);
    return wrap;
  }

  window.ketangAdmin = {
    table: table,
    $: T.$,
    t: t,
    lang: function () { return lang; },
    onLanguage: function (fn) { listeners.push(fn); },
    request: request,
    el: T.el,
    showMessage: T.showMessage,
    errorText: T.errorText,
    formatDateTime: T.formatDateTime,
    queryParam: T.queryParam,
    start: start
  };
})();
