/*
 * ketang (课堂) signing in at home (在家签到).
 *
 * Plain ES5. A person watching at home may say who they are, so that their
 * watching counts in the reports: a name and a phone number, or the 6-digit
 * code of the viewing point they belong to. What they typed stays in
 * localStorage with a random id of this browser, and attend.js sends it with
 * its heartbeats; nobody is counted who did not sign in. The server checks
 * the code on the first heartbeat: a wrong one is said here in words, and a
 * throttled one (too many wrong codes) too.
 */
(function (window, document) {
  'use strict';

  var STRINGS = {
    'zh-CN': {
      open: '在家签到',
      intro: '留下姓名和电话，或者输入您所在收视点的 6 位编号，您的收看就会计入到课。',
      name: '姓名',
      phone: '电话',
      code: '或者：收视点编号',
      save: '签到',
      cancel: '取消',
      need: '请填写姓名和电话，或者 6 位收视点编号。',
      badPhone: '电话号码只能有数字。',
      badCode: '收视点编号是 6 位数字。',
      signedIn: '已签到：{who}。您的收看会计入到课。',
      change: '修改签到',
      wrongCode: '没有这个收视点编号，请核对后再输入。'
    },
    en: {
      open: 'Sign in at home',
      intro: 'Leave your name and phone, or type the 6-digit code of your viewing point, ' +
        'and your watching counts as attendance.',
      name: 'Name',
      phone: 'Phone',
      code: 'Or: viewing point code',
      save: 'Sign in',
      cancel: 'Cancel',
      need: 'Please give your name and phone, or a 6-digit viewing point code.',
      badPhone: 'A phone number has digits only.',
      badCode: 'A viewing point code has 6 digits.',
      signedIn: 'Signed in: {who}. Your watching counts.',
      change: 'Change sign-in',
      wrongCode: 'No viewing point has this code. Please check it.'
    }
  };

  var KEY = 'ketang.identity';

  function $(id) {
    return document.getElementById(id);
  }

  function lang() {
    var p = window.ketangPlayer;
    return p && p.lang === 'en' ? 'en' : 'zh-CN';
  }

  function t(key, who) {
    var s = STRINGS[lang()][key] || STRINGS['zh-CN'][key];
    return who !== undefined ? s.replace('{who}', who) : s;
  }

  function show(el, on) {
    if (el) {
      el.className = el.className.replace(/\s*\bhidden\b/g, '') + (on ? '' : ' hidden');
    }
  }

  function storage(value) {
    try {
      if (value === undefined) {
        return JSON.parse(window.localStorage.getItem(KEY) || 'null');
      }
      if (value === null) {
        window.localStorage.removeItem(KEY);
      } else {
        window.localStorage.setItem(KEY, JSON.stringify(value));
      }
    } catch (e) {
      // private mode: the sign-in lasts as long as the page
    }
    return null;
  }

  function randomId() {
    var bytes = [];
    var c = window.crypto;
    if (c && c.getRandomValues && window.Uint8Array) {
      var a = new window.Uint8Array(12);
      c.getRandomValues(a);
      for (var i = 0; i < a.length; i++) {
        bytes.push(a[i]);
      }
    } else {
      for (var j = 0; j < 12; j++) {
        bytes.push(Math.floor(Math.random() * 256));
      }
    }
    var hex = '';
    for (var k = 0; k < bytes.length; k++) {
      hex += (bytes[k] < 16 ? '0' : '') + bytes[k].toString(16);
    }
    return hex;
  }

  function trim(s) {
    return String(s || '').replace(/^\s+|\s+$/g, '');
  }

  var identity = null;

  function who() {
    if (!identity) {
      return '';
    }
    return identity.code ? (identity.name ? identity.name + ' · ' : '') + identity.code
      : identity.name;
  }

  function render() {
    setLabels();
    var status = $('join-status');
    status.textContent = identity ? t('signedIn', who()) : '';
    show(status, !!identity);
    $('join-open').textContent = identity ? t('change') : t('open');
  }

  function setLabels() {
    var pairs = [['join-intro', 'intro'], ['join-name-label', 'name'], ['join-phone-label', 'phone'],
      ['join-code-label', 'code'], ['join-save', 'save'], ['join-cancel', 'cancel']];
    for (var i = 0; i < pairs.length; i++) {
      $(pairs[i][0]).textContent = t(pairs[i][1]);
    }
  }

  function message(text) {
    var el = $('join-message');
    el.textContent = text || '';
    show(el, !!text);
  }

  function apply(next) {
    identity = next;
    storage(next);
    var attend = window.ketangAttend;
    if (attend && attend.setIdentity) {
      attend.setIdentity(next);
    }
    render();
  }

  function submit(event) {
    if (event) {
      event.preventDefault();
    }
    var name = trim($('join-name').value);
    var phone = trim($('join-phone').value);
    var code = trim($('join-code').value);
    if (code && !/^\d{6}$/.test(code)) {
      message(t('badCode'));
      return;
    }
    if (!code && (!name || !phone)) {
      message(t('need'));
      return;
    }
    if (phone && !/^[0-9 +\-]{5,20}$/.test(phone)) {
      message(t('badPhone'));
      return;
    }
    var next = { viewer: (identity && identity.viewer) || randomId() };
    if (name) {
      next.name = name;
    }
    if (code) {
      next.code = code;
    } else {
      next.phone = phone;
    }
    message('');
    show($('join-panel'), false);
    apply(next);
  }

  function init() {
    if (!$('join-panel')) {
      return;
    }
    var attend = window.ketangAttend;
    if (attend) {
      // A code the server does not know (or refuses for now) is said here.
      attend.onAnswer = function (status, data) {
        if (identity && identity.code && (status === 401 || status === 429)) {
          var text = data && data.error && data.error.message;
          apply(null);
          show($('join-panel'), true);
          message(lang() === 'en' || !text ? t('wrongCode') : text);
        }
      };
    }
    $('join-open').onclick = function () {
      var current = identity || {};
      $('join-name').value = current.name || '';
      $('join-phone').value = current.phone || '';
      $('join-code').value = current.code || '';
      message('');
      show($('join-panel'), true);
      $('join-name').focus();
    };
    $('join-cancel').onclick = function () {
      show($('join-panel'), false);
    };
    $('join-panel').onsubmit = submit;
    var toggle = $('lang-toggle');
    if (toggle) {
      toggle.addEventListener('click', function () {
        window.setTimeout(render, 0);
      }, false);
    }
    var saved = storage();
    if (saved && saved.viewer && (saved.code || saved.name)) {
      apply(saved);
    } else {
      render();
    }
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', init, false);
  } else {
    init();
  }
}(window, document));
