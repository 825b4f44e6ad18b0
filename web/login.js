/* ketang login page.
 *
 * Posts {"name", "password"} to /api/login; the server answers with the
 * session cookie (HttpOnly, so this script never sees it) and the page goes
 * on to ?next=, which must be a path on this site: "/admin/", never
 * "//evil.example/" or "https://…", so a link to our login page cannot send
 * someone elsewhere after they typed their password (no open redirect).
 *
 * Chinese first; ?lang=en (or the player's saved choice) for English.
 * Plain ES5 and XMLHttpRequest, like the player, for old TV browsers.
 */
(function () {
  'use strict';

  var STRINGS = {
    'zh-CN': {
      brand: '课堂',
      title: '登录',
      name: '用户名',
      password: '密码',
      submit: '登录',
      continue: '继续',
      logout: '退出登录',
      hint: '忘记密码时，请联系本县管理员。',
      langToggle: 'English',
      langToggleLang: 'en',
      signingIn: '正在登录…',
      signedInAs: '已登录：',
      missing: '请填写用户名和密码。',
      credentials: '用户名或密码不正确，请再试一次。',
      disabled: '此账号已停用，请联系管理员。',
      throttled: '尝试次数太多，请 {s} 秒后再试。',
      busy: '服务器正忙，正在重试…',
      network: '无法连接服务器，请检查网络后再试。',
      failed: '登录失败，请稍后再试。'
    },
    en: {
      brand: 'Ketang',
      title: 'Log in',
      name: 'User name',
      password: 'Password',
      submit: 'Log in',
      continue: 'Continue',
      logout: 'Log out',
      hint: 'Forgot your password? Ask your county administrator.',
      langToggle: '中文',
      langToggleLang: 'zh-CN',
      signingIn: 'Logging in…',
      signedInAs: 'Logged in as ',
      missing: 'Please enter your user name and password.',
      credentials: 'Wrong user name or password. Please try again.',
      disabled: 'This account is disabled. Please ask your administrator.',
      throttled: 'Too many attempts. Please try again in {s} seconds.',
      busy: 'The server is busy; trying again…',
      network: 'Cannot reach the server. Check the network and try again.',
      failed: 'Login failed. Please try again later.'
    }
  };

  var BUSY_RETRIES = 5;

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

  /* Where to go after logging in: a path on this site, else "/". A path
   * starts with one "/" (two would name another host), and has no
   * backslash (browsers read "/\evil" as "//evil") and no control
   * characters (browsers drop tabs and newlines, so "/\t/evil" becomes
   * "//evil"). */
  function safeNext(next) {
    if (typeof next !== 'string' || next.charAt(0) !== '/' || next.charAt(1) === '/' ||
        /[\\\u0000-\u001f\u007f]/.test(next)) {
      return '/';
    }
    return next;
  }

  function pickLang(lang) {
    return lang === 'en' || lang === 'zh-CN' ? lang : null;
  }

  function storedLang() {
    try {
      return window.localStorage.getItem('ketang.lang');
    } catch (e) {
      return null;
    }
  }

  var lang = pickLang(queryParam('lang')) || pickLang(storedLang()) || 'zh-CN';
  var next = safeNext(queryParam('next'));
  var csrf = null;

  function t(key) {
    return (STRINGS[lang] || STRINGS['zh-CN'])[key];
  }

  function applyLanguage() {
    document.documentElement.setAttribute('lang', lang);
    document.title = t('title') + ' · ' + t('brand');
    var nodes = document.querySelectorAll('[data-i18n]');
    for (var i = 0; i < nodes.length; i++) {
      nodes[i].textContent = t(nodes[i].getAttribute('data-i18n'));
    }
    var toggle = $('lang-toggle');
    toggle.textContent = t('langToggle');
    toggle.setAttribute('lang', t('langToggleLang'));
  }

  function showMessage(text) {
    var box = $('message');
    box.textContent = text;
    box.className = text ? 'message' : 'message hidden';
  }

  /* method, path, JSON body or null, headers or null; done(status, object|null, xhr). */
  function request(method, path, body, headers, done) {
    var xhr = new XMLHttpRequest();
    xhr.open(method, path, true);
    xhr.setRequestHeader('Accept', 'application/json');
    if (body !== null) {
      xhr.setRequestHeader('Content-Type', 'application/json');
    }
    for (var name in headers || {}) {
      if (Object.prototype.hasOwnProperty.call(headers, name)) {
        xhr.setRequestHeader(name, headers[name]);
      }
    }
    xhr.onreadystatechange = function () {
      if (xhr.readyState !== 4) {
        return;
      }
      var data = null;
      try {
        data = xhr.responseText ? JSON.parse(xhr.responseText) : null;
      } catch (e) {
        data = null;
      }
      done(xhr.status, data, xhr);
    };
    xhr.send(body === null ? null : JSON.stringify(body));
  }

  function go() {
    window.location.replace(next);
  }

  function setBusy(busy) {
    $('submit').disabled = busy;
    $('submit').textContent = busy ? t('signingIn') : t('submit');
  }

  function lockFor(seconds) {
    var left = seconds;
    $('submit').disabled = true;
    showMessage(t('throttled').replace('{s}', left));
    var timer = window.setInterval(function () {
      left -= 1;
      if (left <= 0) {
        window.clearInterval(timer);
        showMessage('');
        $('submit').disabled = false;
        return;
      }
      showMessage(t('throttled').replace('{s}', left));
    }, 1000);
  }

  function submit(retries) {
    var name = $('name').value.replace(/^\s+|\s+$/g, '');
    var password = $('password').value;
    if (!name || !password) {
      showMessage(t('missing'));
      return;
    }
    setBusy(true);
    request('POST', '/api/login', { name: name, password: password }, null,
      function (status, data, xhr) {
        var code = data && data.error ? data.error.code : null;
        var wait = parseInt(xhr.getResponseHeader('Retry-After'), 10) || 1;
        if (status === 200) {
          go();
          return;
        }
        if (status === 503 && code === 'busy' && retries > 0) {
          showMessage(t('busy'));
          window.setTimeout(function () { submit(retries - 1); }, wait * 1000);
          return;
        }
        setBusy(false);
        if (status === 429) {
          lockFor(wait);
        } else if (status === 401) {
          showMessage(t('credentials'));
          $('password').value = '';
          $('password').focus();
        } else if (status === 403 && code === 'disabled') {
          showMessage(t('disabled'));
        } else if (status === 0) {
          showMessage(t('network'));
        } else {
          showMessage(t('failed'));
        }
      });
  }

  function showSignedIn(user) {
    $('login-form').className = 'form hidden';
    $('signed-in').className = 'form';
    $('signed-in-text').textContent = t('signedInAs') + user.display_name + ' (' + user.name + ')';
    $('continue').focus();
  }

  function showForm() {
    $('signed-in').className = 'form hidden';
    $('login-form').className = 'form';
    $('name').focus();
  }

  function start() {
    applyLanguage();
    $('login-form').onsubmit = function (event) {
      event.preventDefault();
      submit(BUSY_RETRIES);
      return false;
    };
    $('lang-toggle').onclick = function () {
      lang = lang === 'en' ? 'zh-CN' : 'en';
      try {
        window.localStorage.setItem('ketang.lang', lang);
      } catch (e) { /* private mode: the choice lasts this page */ }
      applyLanguage();
    };
    $('continue').onclick = go;
    $('logout').onclick = function () {
      request('POST', '/api/logout', null, { 'X-CSRF-Token': csrf || '' }, function () {
        csrf = null;
        showForm();
      });
    };
    /* Already logged in? Offer to go on, or to log out. */
    request('GET', '/api/me', null, null, function (status, data) {
      if (status === 200 && data && data.user) {
        csrf = data.csrf;
        showSignedIn(data.user);
      } else {
        showForm();
      }
    });
  }

  window.ketangLogin = { safeNext: safeNext };
  start();
})();
